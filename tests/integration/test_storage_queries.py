"""Aggregates, baselines, trends and the mentions behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.errors import QueryError, UnknownTopicError
from storage.query_types import MentionsQuery, RangeQuery, TrendsQuery
from tests.integration.conftest import NOW, record, result


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def seed(service) -> None:
    service.ingest(
        [
            record("a", external_id="1", created_at="2026-11-20T09:10:00Z", result=result("anger", -0.8)),
            record("b", external_id="2", created_at="2026-11-20T09:50:00Z", result=result("joy", 0.6)),
            record("c", external_id="3", created_at="2026-11-20T11:05:00Z", result=result("neutral", 0.0)),
            record(
                "d", external_id="4", created_at="2026-11-19T23:30:00Z", result=result("anger", -0.4), source="reddit"
            ),
            record(
                "e", external_id="5", created_at="2026-11-20T10:00:00Z", result=result("joy", 0.9, {"healthcare": 0.5})
            ),
        ]
    )


def aggregate(storage, topic: str, window: str = "hour", **kwargs):
    return storage.reads.topics.aggregate(RangeQuery(topic=topic, window=window, **kwargs))


def mentions(storage, topic: str, **kwargs):
    return storage.reads.mentions.mentions(MentionsQuery(topic=topic, **kwargs))


def test_hourly_aggregate_is_zero_filled_with_sentiment_and_emotions(storage):
    seed(storage.writes)
    out = aggregate(
        storage,
        "economy",
        "hour",
        since=datetime(2026, 11, 20, 9, tzinfo=UTC),
        until=datetime(2026, 11, 20, 12, tzinfo=UTC),
    )
    assert [b.start for b in out.buckets] == [
        "2026-11-20T09:00:00+00:00",
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T11:00:00+00:00",
    ]
    first, empty, third = out.buckets
    assert first.count == 2 and first.sentiment_mean == pytest.approx(-0.1)
    assert first.sentiment.model_dump() == {"positive": 1, "neutral": 0, "negative": 1}
    assert first.emotions == {"anger": 1, "joy": 1}
    assert empty.model_dump(mode="json") == {
        "start": "2026-11-20T10:00:00+00:00",
        "count": 0,
        "sentiment_mean": None,
        "sentiment": {"positive": 0, "neutral": 0, "negative": 0},
        "emotions": {},
        "sentiment_share": None,
        "emotion_share": None,
        "share_estimator": "counts",
        "sentiment_share_se": None,
        "emotion_share_se": None,
    }
    assert third.count == 1 and third.emotions == {"neutral": 1}
    # counted labels (the test models record no correction): shares are the label fractions
    assert first.share_estimator == "counts"
    assert first.sentiment_share == {"negative": 0.5, "neutral": 0.0, "positive": 0.5}
    assert first.emotion_share == {"anger": 0.5, "joy": 0.5}


def test_day_buckets_follow_the_time_zone(storage):
    seed(storage.writes)
    utc = aggregate(
        storage, "economy", "day", since=datetime(2026, 11, 19, tzinfo=UTC), until=datetime(2026, 11, 21, tzinfo=UTC)
    )
    assert [b.count for b in utc.buckets] == [1, 3]
    # In Berlin (UTC+1) the 23:30 UTC mention belongs to the 20th.
    berlin = aggregate(
        storage,
        "economy",
        "day",
        since=datetime(2026, 11, 19, tzinfo=UTC),
        until=datetime(2026, 11, 21, tzinfo=UTC),
        tz="Europe/Berlin",
    )
    starts = [b.start for b in berlin.buckets]
    assert starts[0] == "2026-11-19T00:00:00+01:00"
    counts = {b.start[:10]: b.count for b in berlin.buckets}
    assert counts["2026-11-20"] == 4 and counts["2026-11-19"] == 0


def test_cache_is_invalidated_by_ingest_and_delete(storage):
    seed(storage.writes)
    window = {"since": datetime(2026, 11, 20, tzinfo=UTC), "until": datetime(2026, 11, 21, tzinfo=UTC)}
    assert aggregate(storage, "economy", "day", **window).buckets[0].count == 3
    storage.writes.ingest([record("f", external_id="6", created_at="2026-11-20T08:00:00Z")])
    assert aggregate(storage, "economy", "day", **window).buckets[0].count == 4
    storage.writes.delete(["6", "1"])
    assert aggregate(storage, "economy", "day", **window).buckets[0].count == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": "week"}, "window must be one of hour, day"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"since": datetime(2026, 11, 21, tzinfo=UTC), "until": datetime(2026, 11, 20, tzinfo=UTC)}, "since must"),
        ({"since": datetime(2000, 1, 1, tzinfo=UTC)}, "more than 20000 hour buckets"),
    ],
)
def test_bad_aggregate_parameters(storage, kwargs, message):
    seed(storage.writes)
    with pytest.raises(QueryError, match=message):
        aggregate(storage, "economy", **kwargs)


def test_unknown_topic(storage):
    seed(storage.writes)
    with pytest.raises(UnknownTopicError, match="unknown topic 'sports'"):
        aggregate(storage, "sports")
    with pytest.raises(UnknownTopicError):
        mentions(storage, "sports")


def test_baseline_and_trends_find_the_spike(storage):
    # 10 quiet days with 2 economy mentions each, then 12 yesterday (the last complete day) and
    # 5 in today's running window, which trends leave out; healthcare steady at 3 per day
    records = []
    for day in range(1, 12):
        if day > 1:
            for i in range(2):
                records.append(
                    record(
                        f"e{day}-{i}",
                        external_id=f"e{day}-{i}",
                        created_at=at(24 * day + i),
                        result=result("neutral", 0.0),
                    )
                )
        for i in range(3):
            records.append(
                record(
                    f"h{day}-{i}",
                    external_id=f"h{day}-{i}",
                    created_at=at(24 * day + i),
                    result=result("joy", 0.5, {"healthcare": 0.5}),
                )
            )
    for i in range(12):
        records.append(
            record(f"yesterday{i}", external_id=f"y{i}", created_at=at(24 + 0.1 * i), result=result("anger", -0.9))
        )
    for i in range(5):
        records.append(record(f"today{i}", external_id=f"t{i}", created_at=at(0.1 * i), result=result("anger", -0.9)))
    storage.writes.ingest(records)
    base = storage.reads.topics.baseline("economy", days=10, until=NOW - timedelta(days=1))
    assert base.volume_mean == pytest.approx(2.0) and base.volume_std == pytest.approx(0.0)
    assert base.sentiment_mean == pytest.approx(0.0)
    trends = storage.reads.topics.trends(TrendsQuery(window="day", days=10))
    assert [t.topic for t in trends] == ["economy", "healthcare"]
    economy, healthcare = trends
    assert economy.window_start.startswith("2026-11-19T00:00") and economy.window_end.startswith("2026-11-20")
    assert economy.count == 12 and economy.expected == pytest.approx(2.0)
    assert economy.p_value < 1e-5 and economy.z_volume == pytest.approx(10.0)
    assert economy.z_sentiment == pytest.approx(-0.9 / 0.05)
    assert healthcare.count == 3 and healthcare.expected == pytest.approx(3.0)
    assert healthcare.p_value > 0.3 and healthcare.z_volume == pytest.approx(0.0)
    # the window's shares ride along; the test models record no correction, so labels are counted
    assert economy.share_estimator == "counts" and economy.sentiment_share is not None
    assert sum(economy.sentiment_share.values()) == pytest.approx(1.0, abs=1e-3)


def test_mentions_filters_and_keyset_pagination(storage):
    records = [
        record(
            f"text {i}",
            external_id=f"m{i}",
            created_at=at(i % 7),
            seed=i,
            result=result("joy" if i % 2 else "anger", 0.5 if i % 2 else -0.5),
            source="tw" if i % 3 else "rd",
        )
        for i in range(25)
    ]
    storage.writes.ingest(records)
    seen, cursor = [], None
    while True:
        page = mentions(storage, "economy", limit=4, cursor=cursor)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 25 and len({m.external_id for m in seen}) == 25
    keys = [(m.created_at, m.id) for m in seen]
    assert keys == sorted(keys, reverse=True)  # newest first, stable across pages
    negatives = mentions(storage, "economy", sentiment="negative", source="tw", limit=100).items
    expected = {f"m{i}" for i in range(25) if i % 2 == 0 and i % 3}
    assert {m.external_id for m in negatives} == expected
    assert all(m.emotion.label == "anger" for m in negatives)
    recent = mentions(storage, "economy", since=NOW - timedelta(hours=2), limit=100).items
    assert {m.external_id for m in recent} == {f"m{i}" for i in range(25) if i % 7 <= 2}  # since is inclusive
    with pytest.raises(QueryError, match="cursor"):
        mentions(storage, "economy", cursor="not-a-cursor")
    with pytest.raises(QueryError, match="limit"):
        mentions(storage, "economy", limit=0)
