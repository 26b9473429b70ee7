"""Shares through the real storage wing on SQLite and PostgreSQL (issue 26): each stored mention
adds its adjusted contribution (its own model version's correction) or its top label, the
sums add up over hours and days, deletes and re-processing take back what they added,
``rebuild-rollups`` recomputes them, and the upgrade to 0005 keeps older rows as counts."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import text

from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore
from inference.share_adjustment import LabelAdjustment, adjustment_for
from storage.factory import Storage
from storage.migrate import upgrade
from storage.query_types import RangeQuery
from storage.settings import StorageSettings
from tests.integration.conftest import NOW, record

SENTIMENT = ("negative", "neutral", "positive")
EMOTIONS = ("anger", "joy", "neutral")
SENTIMENT_CONFUSION = [[0.7, 0.2, 0.1], [0.15, 0.7, 0.15], [0.05, 0.15, 0.8]]
EMOTION_CONFUSION = [[0.8, 0.05, 0.15], [0.05, 0.8, 0.15], [0.2, 0.2, 0.6]]


@pytest.fixture()
def adjusted_version(tmp_path) -> str:
    """A local artifact folder whose manifest records confusion for both heads."""
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "moodwire_artifact.json").write_text(
        json.dumps(
            {
                "version": "v1",
                "labels": [],
                "share_adjustment": {
                    "sentiment": {"labels": list(SENTIMENT), "confusion": SENTIMENT_CONFUSION},
                    "emotion": {"labels": list(EMOTIONS), "confusion": EMOTION_CONFUSION},
                },
            }
        )
    )
    adjustment_for.cache_clear()
    return f"{folder}@v1+fake-embedding"


def mention_result(sentiment: tuple[float, float, float], emotion: tuple[float, float, float]) -> MentionResult:
    scores = dict(zip(SENTIMENT, sentiment, strict=True))
    return MentionResult(
        emotion=EmotionResult(
            label=EMOTIONS[int(np.argmax(emotion))], scores=dict(zip(EMOTIONS, emotion, strict=True))
        ),
        sentiment=SentimentResult(
            label=SENTIMENT[int(np.argmax(sentiment))], score=sentiment[2] - sentiment[0], scores=scores
        ),
        topics=[TopicScore(key="economy", score=0.5)],
    )


ROWS = [  # (minutes after the first hour, sentiment probabilities, emotion probabilities)
    (5, (0.8, 0.15, 0.05), (0.7, 0.1, 0.2)),
    (10, (0.6, 0.3, 0.1), (0.2, 0.1, 0.7)),
    (20, (0.2, 0.5, 0.3), (0.1, 0.6, 0.3)),
    (70, (0.1, 0.2, 0.7), (0.1, 0.8, 0.1)),
    (80, (0.5, 0.4, 0.1), (0.5, 0.2, 0.3)),
]
FIRST_HOUR = (NOW - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)


def seed(storage: Storage, version: str, rows=ROWS) -> None:
    storage.writes.ingest(
        [
            record(
                f"text {i}",
                version=version,
                external_id=f"x{i}",
                created_at=(FIRST_HOUR + timedelta(minutes=minutes)).isoformat(),
                result=mention_result(sentiment, emotion),
            )
            for i, (minutes, sentiment, emotion) in enumerate(rows)
        ]
    )


def expected_shares(rows, labels, confusion, pick) -> dict[str, float]:
    adjustment = LabelAdjustment.from_confusion(labels, confusion)
    total = np.zeros(len(labels))
    for row in rows:
        contribution = adjustment.contribution(dict(zip(labels, pick(row), strict=True)))
        assert contribution is not None
        total += np.array([contribution[label] for label in labels])
    clipped = np.clip(total, 0, None)
    return dict(zip(labels, (clipped / clipped.sum()).round(4).tolist(), strict=True))


def aggregate(storage: Storage, window: str = "hour"):
    return storage.reads.topics.aggregate(
        RangeQuery(topic="economy", window=window, since=FIRST_HOUR, until=FIRST_HOUR + timedelta(hours=2))
    )


def fresh(engine) -> Storage:
    return Storage.over(engine, settings=StorageSettings(cache_ttl_s=0), clock=lambda: NOW)


def test_shares_are_adjusted_per_bucket_and_add_up_over_a_day(engine, adjusted_version):
    storage = fresh(engine)
    seed(storage, adjusted_version)
    first, second = aggregate(storage).buckets
    assert (first.count, second.count) == (3, 2)
    assert first.share_estimator == "adjusted"
    assert first.sentiment_share == pytest.approx(
        expected_shares(ROWS[:3], SENTIMENT, SENTIMENT_CONFUSION, lambda r: r[1]), abs=1e-4
    )
    assert first.emotion_share == pytest.approx(
        expected_shares(ROWS[:3], EMOTIONS, EMOTION_CONFUSION, lambda r: r[2]), abs=1e-4
    )
    assert sum(first.sentiment_share.values()) == pytest.approx(1.0, abs=1e-3)
    assert first.sentiment_share_se is not None and all(v > 0 for v in first.sentiment_share_se.values())
    assert first.sentiment.model_dump() == {"positive": 0, "neutral": 1, "negative": 2}  # counts stay beside
    (day,) = aggregate(storage, "day").buckets
    assert day.count == 5
    assert day.sentiment_share == pytest.approx(
        expected_shares(ROWS, SENTIMENT, SENTIMENT_CONFUSION, lambda r: r[1]), abs=1e-4
    )


def test_rows_without_a_correction_count_their_label_and_mixed_buckets_say_so(engine, adjusted_version):
    storage = fresh(engine)
    seed(storage, "fake-emotion+fake-embedding", ROWS[:3])
    (first, _) = aggregate(storage).buckets
    assert first.share_estimator == "counts"
    assert first.sentiment_share == {
        "negative": pytest.approx(2 / 3, abs=1e-4),
        "neutral": pytest.approx(1 / 3, abs=1e-4),
        "positive": 0.0,
    }
    storage.writes.ingest(
        [
            record(
                "one more",
                version=adjusted_version,
                external_id="y1",
                created_at=(FIRST_HOUR + timedelta(minutes=30)).isoformat(),
                result=mention_result((0.1, 0.1, 0.8), (0.1, 0.8, 0.1)),
            )
        ]
    )
    (first, _) = aggregate(storage).buckets
    assert first.count == 4 and first.share_estimator == "mixed"
    assert sum(first.sentiment_share.values()) == pytest.approx(1.0, abs=1e-3)


def share_table(engine) -> list[tuple]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT topic_key, bucket_start, output, label, share_sum, share_sq_sum FROM topic_share_rollups "
                "ORDER BY 1, 2, 3, 4"
            )
        ).all()
    return [(t, str(b), o, label, round(s, 9), round(q, 9)) for t, b, o, label, s, q in rows if abs(s) > 1e-9]


def test_delete_and_reprocess_take_back_what_they_added_and_rebuild_recomputes(engine, adjusted_version):
    storage = fresh(engine)
    seed(storage, adjusted_version)
    before = share_table(engine)
    assert before
    storage.writes.delete(["x0", "x1"])
    seed(storage, adjusted_version, ROWS[:2])  # the same two back
    assert share_table(engine) == before
    storage.writes.rebuild_rollups()
    assert share_table(engine) == before
    # re-processed by another model version: its rows now count their labels
    storage.writes.ingest(
        [
            record(
                "text 0",
                version="fake-emotion+fake-embedding",
                external_id="x0",
                created_at=(FIRST_HOUR + timedelta(minutes=5)).isoformat(),
                result=mention_result((0.8, 0.15, 0.05), (0.7, 0.1, 0.2)),
            )
        ]
    )
    (first, _) = aggregate(storage).buckets
    assert first.count == 3 and first.share_estimator == "mixed"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_upgrade_keeps_rollups_stored_before_it_as_counts(backend, request, tmp_path):
    from storage.engine import create_database_engine
    from tests.integration.conftest import make_pg_engine

    if backend == "sqlite":
        engine, schema = create_database_engine(f"sqlite:///{tmp_path}/old.db"), None
    else:
        engine, schema = make_pg_engine(request.getfixturevalue("pg_admin"))
    try:
        upgrade(engine, "0004")
        hour: object = FIRST_HOUR.replace(tzinfo=None)
        if backend == "sqlite":  # the text SQLAlchemy writes for a DateTime on SQLite
            hour = FIRST_HOUR.strftime("%Y-%m-%d %H:%M:%S.%f")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO topic_rollups (topic_key, bucket_start, count, sentiment_sum, sentiment_sq_sum, "
                    "positive_count, neutral_count, negative_count) VALUES ('economy', :hour, 4, -1.0, 2.0, 1, 1, 2)"
                ),
                {"hour": hour},
            )
            connection.execute(
                text(
                    "INSERT INTO topic_emotion_rollups (topic_key, bucket_start, emotion_label, count) "
                    "VALUES ('economy', :hour, 'anger', 3), ('economy', :hour, 'joy', 1)"
                ),
                {"hour": hour},
            )
        upgrade(engine)
        (first, _) = aggregate(fresh(engine)).buckets
        assert first.share_estimator == "counts"
        assert first.sentiment_share == {"negative": 0.5, "neutral": 0.25, "positive": 0.25}
        assert first.emotion_share == {"anger": 0.75, "joy": 0.25}
    finally:
        engine.dispose()
        if schema is not None:
            with request.getfixturevalue("pg_admin").connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_the_overview_names_the_emotion_most_above_its_own_baseline_share(engine):
    from tests.integration.conftest import result

    storage = fresh(engine)
    complete = storage.reads.spikes.complete_until(NOW)
    rows = []
    for day in range(2, 8):  # the week before: neutral and a little joy, every day
        for i in range(10):
            emotion = "joy" if i < 2 else "neutral"
            rows.append((complete - timedelta(days=day, hours=-3), emotion, f"b{day}-{i}"))
    for i in range(10):  # the last 24 hours: anger rises, joy stays
        emotion = "anger" if i < 5 else "joy" if i < 7 else "neutral"
        rows.append((complete - timedelta(hours=3 + i), emotion, f"r{i}"))
    calm = [(complete - timedelta(days=3), "joy" if i % 2 else "neutral", f"c{i}") for i in range(6)]
    calm += [(complete - timedelta(hours=2), "neutral", f"n{i}") for i in range(4)]  # only neutral rises
    storage.writes.ingest(
        [
            record(f"t {key}", external_id=key, created_at=at.isoformat(), result=result(emotion, -0.5))
            for at, emotion, key in rows
        ]
        + [
            record(key, external_id=key, created_at=at.isoformat(), result=result(emotion, 0.0, {"healthcare": 0.5}))
            for at, emotion, key in calm
        ]
    )
    (row,) = [r for r in storage.reads.page.overview().topics if r.key == "economy"]
    assert row.dominant_emotion == "anger"
    move = row.emotion_above_baseline
    assert move is not None and move.label == "anger"
    assert move.share == pytest.approx(0.5) and move.baseline_share == pytest.approx(0.0)
    assert row.emotion_share == {"anger": 0.5, "joy": 0.2, "neutral": 0.3}
    assert row.share_estimator == "counts" and row.net_sentiment == pytest.approx(-1.0)
    (calm_row,) = [r for r in storage.reads.page.overview().topics if r.key == "healthcare"]
    assert calm_row.dominant_emotion == "neutral" and calm_row.emotion_above_baseline is None
