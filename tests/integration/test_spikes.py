"""Spikes over stored history (issue 14) on SQLite and PostgreSQL: one planted surge is found
once, explained by its own mentions and words, and the verdict does not depend on the range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.errors import InvalidRangeError, InvalidSpikeKindError, SpikeQueryError, UnknownTopicError
from storage.query_types import SpikeQuery
from tests.integration.conftest import NOW, record, result

LABELS = (("anger", -0.8), ("joy", 0.6), ("neutral", 0.0))
TOPICS = ("economy", "healthcare")
HISTORY_DAYS = 40
SURGE_HOURS_AGO = 45  # before NOW (12:30): 2026-11-18 15:00 UTC
SURGE_SIZE = 30
PLANTED = "tariffs"


def surge_bucket(now: datetime, hours_ago: int = SURGE_HOURS_AGO) -> datetime:
    return (now - timedelta(hours=hours_ago)).replace(minute=0, second=0, microsecond=0)


def history_records(
    now: datetime, *, topics: tuple[str, ...] = TOPICS, surge_hours_ago: int = SURGE_HOURS_AGO, prefix: str = ""
) -> tuple[list, datetime]:
    """``HISTORY_DAYS`` of steady hourly mentions for ``topics`` (2-3 an hour, labels in turn,
    so no mix shifts), plus ``SURGE_SIZE`` mentions of the first topic about tariffs in one
    hour: ``(records, surge bucket start)``. ``prefix`` keeps external ids apart."""
    first = (now - timedelta(days=HISTORY_DAYS)).replace(minute=0, second=0, microsecond=0)
    surge = surge_bucket(now, surge_hours_ago)
    records, i = [], 0
    hour = first
    while hour < now - timedelta(hours=1):
        for topic in topics:
            for k in range(2 + (hour.hour % 3 == 0)):
                emotion, score = LABELS[i % 3]
                records.append(
                    record(
                        f"ordinary {topic} chatter about markets and prices number {i}",
                        external_id=f"{prefix}h{i}",
                        created_at=(hour + timedelta(minutes=10 * k + 5)).isoformat(),
                        result=result(emotion, score, {topic: 0.5}),
                        source="tw" if i % 2 else "rd",
                        seed=i,
                    )
                )
                i += 1
        hour += timedelta(hours=1)
    for k in range(SURGE_SIZE):
        emotion, score = LABELS[k % 3]
        records.append(
            record(
                f"new {PLANTED} on steel imports hit the port, case {k}",
                external_id=f"{prefix}s{k}",
                created_at=(surge + timedelta(minutes=k)).isoformat(),
                result=result(emotion, score, {topics[0]: 0.6 + k / 1000}),
                source="news",
                seed=10_000 + k,
            )
        )
    return records, surge


def seed_history(service, now: datetime) -> datetime:
    """``history_records`` stored through ``service``; the surge's bucket start."""
    records, surge = history_records(now)
    service.ingest(records)
    return surge


def find_spikes(storage, **kwargs):
    """``GET /v1/spikes`` with these query parameters, from ``storage``'s readers."""
    return storage.reads.spikes.spikes(SpikeQuery(**kwargs))


@pytest.fixture()
def seeded(storage):
    return storage, seed_history(storage.writes, NOW)


def test_one_surge_is_one_volume_spike_explained_by_its_own_mentions(seeded):
    storage, surge = seeded
    answer = find_spikes(storage)
    assert [(s.topic, s.kind, s.bucket_start) for s in answer.spikes] == [("economy", "volume", surge.isoformat())]
    spike = answer.spikes[0]
    assert set(spike.model_dump()) == {
        "topic",
        "kind",
        "bucket_start",
        "bucket_end",
        "observed",
        "expected",
        "lift",
        "p_value",
        "severity",
        "explanation",
    }
    assert spike.bucket_start == "2026-11-18T15:00:00+00:00" and spike.bucket_end == "2026-11-18T16:00:00+00:00"
    assert spike.observed == SURGE_SIZE + 3  # 15:00 also has its 3 regular mentions
    assert spike.lift >= 2 and spike.p_value <= 0.01
    assert 1 <= spike.severity <= 10
    explanation = spike.explanation
    assert explanation.top_sources[0].model_dump() == {"source": "news", "count": SURGE_SIZE}
    assert explanation.emotion_moved_most is not None
    assert set(explanation.emotion_moved_most.model_dump()) == {"label", "share", "baseline_share"}
    mentions = explanation.mentions
    assert len(mentions) == 5 and all(m.text is not None and PLANTED in m.text for m in mentions)
    assert [m.external_id for m in mentions] == [f"s{k}" for k in range(29, 24, -1)]  # highest topic score
    assert all(surge.isoformat()[:13] == m.created_at[:13] for m in mentions)
    assert PLANTED in [t.term for t in explanation.top_terms]


def test_the_verdict_does_not_depend_on_the_range_asked(seeded):
    storage, surge = seeded
    narrow = find_spikes(storage, since=surge - timedelta(hours=3), until=surge + timedelta(hours=5))
    wide = find_spikes(storage)
    assert narrow == wide
    assert find_spikes(storage, topic="economy", kind="volume", min_severity=1) == wide
    assert find_spikes(storage, topic="healthcare").spikes == []
    assert find_spikes(storage, kind="emotion:anger").spikes == []
    assert find_spikes(storage, since=surge + timedelta(hours=1)).spikes == []


def test_backtest_counts_the_surge_in_its_week(seeded):
    storage, surge = seeded
    report = storage.reads.spikes.backtest(days=30)
    assert report["total"] == 1 and report["per_topic"]["economy"]["2026-W47"] == 1
    assert sum(report["per_topic"]["healthcare"].values()) == 0
    assert report["spikes"][0]["bucket_start"] == surge.isoformat()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "loudness"}, InvalidSpikeKindError, "kind must be volume, sentiment:negative or emotion:<label>"),
        ({"min_severity": 11}, SpikeQueryError, "min_severity must be between 1 and 10"),
        (
            {"since": datetime(2026, 11, 20, tzinfo=UTC), "until": datetime(2026, 11, 19, tzinfo=UTC)},
            InvalidRangeError,
            "must be before until",
        ),
        ({"topic": "sports"}, UnknownTopicError, "unknown topic 'sports'"),
    ],
)
def test_bad_spike_queries(storage, kwargs, error, message):
    storage.writes.ingest([record("a", external_id="1", created_at="2026-11-20T09:10:00Z")])
    with pytest.raises(error, match=message):
        find_spikes(storage, **kwargs)


def test_the_command_prints_the_http_body_and_the_backtest(tmp_path, capsys):
    import json

    from moodwire.cli import main
    from storage.factory import open_storage

    url = f"sqlite:///{tmp_path}/cli.db"
    storage = open_storage(url)
    surge = seed_history(storage.writes, datetime.now(UTC))
    expected = find_spikes(storage)
    assert [s.bucket_start for s in expected.spikes] == [surge.isoformat()]

    assert main(["spikes", "--json", "--database-url", url]) == 0
    assert json.loads(capsys.readouterr().out) == expected.model_dump(mode="json")
    assert main(["spikes", "--topic", "economy", "--database-url", url]) == 0
    table = capsys.readouterr().out
    assert surge.isoformat() in table and "economy  volume" in table
    assert main(["spikes", "--backtest", "--days", "60", "--json", "--database-url", url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 1 and sum(report["per_topic"]["economy"].values()) == 1
    assert main(["spikes", "--backtest", "--days", "60", "--database-url", url]) == 0
    assert "spikes per topic per week" in capsys.readouterr().out
    assert main(["spikes", "--kind", "loudness", "--database-url", url]) == 2
    assert "moodwire spikes: kind must be volume" in capsys.readouterr().err


def test_topics_with_two_model_versions_in_the_window_have_their_mix_shifts_muted(service):
    from storage import spike_queries

    service.ingest(
        [
            record("a", external_id="1", created_at="2026-11-10T09:10:00Z", version="m1"),
            record("b", external_id="2", created_at="2026-11-19T09:10:00Z", version="m2"),
            record("c", external_id="3", created_at="2026-11-19T09:20:00Z", result=result(topics={"healthcare": 0.5})),
        ]
    )
    window = {"since": datetime(2026, 11, 1, tzinfo=UTC), "until": datetime(2026, 11, 20, tzinfo=UTC)}
    with service.engine.connect() as connection:
        assert spike_queries.mixed_model_topics(connection, **window) == {"economy"}
        series = spike_queries.topic_series(connection, **window, mute_since=window["since"])
        recent = spike_queries.mixed_model_topics(connection, since=datetime(2026, 11, 15, tzinfo=UTC), until=NOW)
    assert {s.topic: s.mute_mix for s in series} == {"economy": True, "healthcare": False}
    assert recent == set()
    economy = next(s for s in series if s.topic == "economy")
    assert economy.start == datetime(2026, 11, 10, 9, tzinfo=UTC) and int(economy.counts.sum()) == 2
    assert int(economy.label_counts["anger"].sum()) == 2 and int(economy.negative_counts.sum()) == 2
