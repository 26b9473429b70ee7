"""Idempotent ingest with rollups kept in step, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select, text

from inference.language import LanguagePolicy
from storage.models import Mention, MentionEmbedding, MentionTopic, TopicEmotionRollup, TopicModelRollup, TopicRollup
from storage.query_types import RangeQuery
from storage.records import MentionRecord, embedding_from_bytes
from tests.integration.conftest import record, result


def snapshot(engine) -> dict:
    """Every row of every table, without ingest timestamps (a replay must not change rows)."""
    with engine.connect() as c:
        return {
            "mentions": sorted(
                (
                    r.id,
                    r.external_id,
                    r.text,
                    r.source,
                    str(r.created_at),
                    r.processing_status,
                    r.sentiment_score,
                    r.sentiment_label,
                    r.emotion_label,
                    r.model_version,
                )
                for r in c.execute(select(Mention))
            ),
            "topics": sorted(tuple(r) for r in c.execute(select(MentionTopic))),
            "embeddings": sorted((r.mention_id, r.vector) for r in c.execute(select(MentionEmbedding))),
            "rollups": sorted(tuple(r) for r in c.execute(select(TopicRollup))),
            "emotions": sorted(tuple(r) for r in c.execute(select(TopicEmotionRollup))),
        }


def rollups_match_rows(engine, policy: LanguagePolicy | None = None) -> None:
    """Rollups must equal what the stored rows the language ``policy`` counts add up to."""
    policy = policy or LanguagePolicy()
    with engine.connect() as c:
        expected = {}
        flags = c.execute(select(Mention.language, Mention.in_rollups).where(Mention.processing_status == "done"))
        assert all(counted == policy.counts_in_rollups(language) for language, counted in flags)
        rows = c.execute(
            select(
                MentionTopic.topic_key,
                Mention.created_at,
                Mention.sentiment_score,
                Mention.sentiment_label,
                Mention.language,
                Mention.model_version,
            )
            .join(Mention, Mention.id == MentionTopic.mention_id)
            .where(Mention.processing_status == "done")
        )
        versions: dict[tuple, int] = {}
        for topic, created, score, label, language, version in rows:
            if not policy.counts_in_rollups(language):
                continue
            key = (topic, created.replace(minute=0, second=0, microsecond=0))
            versions[(*key, version or "")] = versions.get((*key, version or ""), 0) + 1
            count, total, pos, neg = expected.get(key, (0, 0.0, 0, 0))
            expected[key] = (count + 1, total + score, pos + (label == "positive"), neg + (label == "negative"))
        actual = {
            (r.topic_key, r.bucket_start): (r.count, r.sentiment_sum, r.positive_count, r.negative_count)
            for r in c.execute(select(TopicRollup))
            if r.count != 0
        }
        model_counts = {
            (r.topic_key, r.bucket_start, r.model_version): r.count
            for r in c.execute(select(TopicModelRollup))
            if r.count != 0
        }
    assert model_counts == versions  # topic_model_rollups: the same rows, by model version
    assert actual.keys() == expected.keys()
    for key, (count, total, pos, neg) in expected.items():
        assert actual[key][0] == count and actual[key][2:] == (pos, neg)
        assert actual[key][1] == pytest.approx(total)


def batch() -> list[MentionRecord]:
    return [
        record("tax hike again", external_id="a1", created_at="2026-11-20T09:15:00Z"),
        record(
            "hospital queues",
            external_id="a2",
            created_at="2026-11-20T09:45:00+01:00",
            result=result("joy", 0.7, {"healthcare": 0.6, "economy": 0.31}),
            seed=1,
        ),
        record("no id but a time", created_at="2026-11-19T23:59:59", source="tw", seed=2),
        record("no id, no time", seed=3, result=result("neutral", 0.0, {"crime": 0.4})),
    ]


def test_ingest_stores_rows_topics_embeddings_and_rollups(service, engine):
    report = service.ingest(batch())
    assert (report.inserted, report.updated, report.duplicates) == (4, 0, 0)
    assert len(report.mention_ids) == 4
    with engine.connect() as c:
        stored = {r.external_id: r for r in c.execute(select(Mention))}
        assert str(stored["a2"].created_at) == "2026-11-20 08:45:00"  # converted to UTC
        assert stored["a1"].processing_status == "done" and stored["a1"].emotion_scores["anger"] == 0.8
        topics = sorted(c.execute(select(MentionTopic.topic_key, func.count()).group_by(MentionTopic.topic_key)))
        assert topics == [("crime", 1), ("economy", 3), ("healthcare", 1)]
        vector = c.execute(select(MentionEmbedding.vector).where(MentionEmbedding.mention_id == report.mention_ids[0]))
        np.testing.assert_allclose(embedding_from_bytes(vector.scalar_one()), batch()[0].embedding, atol=1e-2)
        assert c.execute(select(func.sum(TopicRollup.count)).where(TopicRollup.topic_key == "economy")).scalar() == 3
    rollups_match_rows(engine)


def test_ingesting_the_same_batch_twice_changes_nothing(service, engine):
    service.ingest(batch()[:3])
    before = snapshot(engine)
    report = service.ingest(batch()[:3])
    assert (report.inserted, report.duplicates) == (0, 3)
    assert snapshot(engine) == before


def test_mentions_without_external_id_or_time_are_new_every_time(service, engine):
    service.ingest([batch()[3]])
    service.ingest([batch()[3]])
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Mention)).scalar() == 2


def test_duplicates_inside_one_batch_are_stored_once(service, engine):
    report = service.ingest([batch()[0], batch()[0], batch()[2], batch()[2]])
    assert (report.inserted, report.duplicates) == (2, 2)
    assert report.mention_ids[0] == report.mention_ids[1]
    rollups_match_rows(engine)


def test_reprocessing_with_a_new_model_moves_the_rollup_contribution_exactly(service, engine):
    service.ingest(batch())
    before = snapshot(engine)
    changed = record("tax hike again", external_id="a1", version="m2", result=result("joy", 0.9, {"healthcare": 0.7}))
    report = service.ingest([changed])
    assert (report.inserted, report.updated) == (0, 1)
    with engine.connect() as c:
        row = c.execute(select(Mention).where(Mention.external_id == "a1")).one()
        assert (row.model_version, row.emotion_label, row.sentiment_score) == ("m2", "joy", 0.9)
        assert str(row.created_at) == "2026-11-20 09:15:00"  # posting time kept
        after = {(r.topic_key, str(r.bucket_start)): r for r in c.execute(select(TopicRollup))}
    old = {(r[0], str(r[1])): r for r in before["rollups"]}
    hour = "2026-11-20 09:00:00"
    assert after[("economy", hour)].count == old[("economy", hour)][2] - 1
    assert after[("economy", hour)].sentiment_sum == pytest.approx(old[("economy", hour)][3] + 0.8)
    assert after[("healthcare", hour)].count == 1
    assert after[("healthcare", hour)].sentiment_sum == pytest.approx(0.9)
    rollups_match_rows(engine)
    assert service.ingest([changed]).duplicates == 1  # same version again: no change


def test_invalid_records_reject_the_whole_batch(service, engine):
    from storage.records import InvalidRecordError

    bad = [
        (record("x", created_at="yesterday"), "not an ISO 8601 timestamp"),
        (record("x", created_at="2027-01-01T00:00:00Z"), "in the future"),
        (record("x" * 100_001), "limit is 100000"),
        (record("   "), "text is empty"),
    ]
    for item, message in bad:
        with pytest.raises(InvalidRecordError, match=message) as info:
            service.ingest([batch()[0], item])
        assert info.value.index == 1
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Mention)).scalar() == 0


def test_sql_metacharacters_are_stored_as_data(service, engine):
    nasty = "Robert'); DROP TABLE mentions;-- \" % _ \\ \x01"
    service.ingest([record(nasty, external_id="x'; --", source="o'brien")])
    with engine.connect() as c:
        row = c.execute(select(Mention)).one()
        assert (row.text, row.external_id, row.source) == (nasty, "x'; --", "o'brien")
        assert c.execute(text("SELECT count(*) FROM mentions")).scalar() == 1


def test_import_raw_then_ingest_completes_the_pending_mention(service, engine):
    raw = MentionRecord(text="collector found this", external_id="p1", created_at="2026-11-20T10:00:00Z")
    assert service.import_raw([raw, raw]).inserted == 1
    assert service.import_raw([raw]).duplicates == 1
    with engine.connect() as c:
        assert c.execute(select(Mention.processing_status)).scalar_one() == "pending"
    report = service.ingest([record("collector found this", external_id="p1")])
    assert report.updated == 1
    with engine.connect() as c:
        row = c.execute(select(Mention)).one()
        assert row.processing_status == "done" and str(row.created_at) == "2026-11-20 10:00:00"
    rollups_match_rows(engine)


def test_delete_removes_rows_and_decrements_rollups(service, engine):
    service.ingest(batch())
    assert service.delete(["a1", "missing"]) == ["a1"]
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Mention)).scalar() == 3
        assert c.execute(select(func.count()).select_from(MentionEmbedding)).scalar() == 3
    rollups_match_rows(engine)


def test_prune_drops_texts_and_embeddings_but_keeps_aggregates(storage, engine):
    service = storage.writes
    service.ingest(batch())
    before = storage.reads.topics.aggregate(RangeQuery(topic="economy", window="day", since=None, until=None))
    assert service.prune(older_than_days=0.1)["texts_pruned"] == 3  # all but the keyless "now" mention
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Mention).where(Mention.text.is_(None))).scalar() == 3
        assert c.execute(select(func.count()).select_from(MentionEmbedding)).scalar() == 1
    service.cache.invalidate(["economy"])
    assert storage.reads.topics.aggregate(RangeQuery(topic="economy", window="day")) == before


def test_failed_rows_are_recorded_once_and_can_be_completed_later(service, engine):
    bad = MentionRecord(text="", external_id="f1", created_at="2026-11-20T10:00:00Z")
    assert service.record_failed([(bad, "text is empty")]).inserted == 1
    assert service.record_failed([(bad, "text is empty")]).duplicates == 1
    with engine.connect() as c:
        row = c.execute(select(Mention)).one()
        assert (row.processing_status, row.error, row.text) == ("failed", "text is empty", "")
    report = service.ingest([record("now with text", external_id="f1")])
    assert report.updated == 1
    with engine.connect() as c:
        row = c.execute(select(Mention)).one()
        assert (row.processing_status, row.text, row.error) == ("done", "now with text", None)
    rollups_match_rows(engine)
