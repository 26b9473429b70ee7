"""The page's reads on SQLite and PostgreSQL (issue 15): the overview row of every topic, a
topic's timeline with the expected band, the CSV export, and the scoring cache that lets
both answer without re-scoring while only the running hour is written."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta

import pytest

from storage import export, spike_reports
from storage.factory import Storage
from storage.query_types import MentionFilter, RangeQuery, SpikeQuery
from storage.settings import StorageSettings
from tests.integration.conftest import record, result
from tests.integration.test_spikes import seed_history


@pytest.fixture()
def after_surge(storage):
    """History with one economy surge; the clock 1 h 20 min after the surge's hour ended."""
    surge = seed_history(storage.writes, storage.writes.clock())
    when = surge + timedelta(hours=2, minutes=20)
    later = Storage.over(storage.engine, settings=StorageSettings(cache_ttl_s=300), clock=lambda: when)
    return later, surge


def test_overview_rows_agree_with_the_aggregates_and_carry_the_spike(after_surge):
    storage, surge = after_surge
    answer = storage.reads.page.overview()
    complete = surge + timedelta(hours=2)
    assert answer.complete_until == complete.isoformat()
    rows = {row.key: row for row in answer.topics}
    assert set(rows) == {"economy", "healthcare"}
    for key, row in rows.items():
        day = storage.reads.topics.aggregate(
            RangeQuery(topic=key, since=complete - timedelta(hours=24), until=complete)
        )
        week = storage.reads.topics.aggregate(RangeQuery(topic=key, since=complete - timedelta(days=7), until=complete))
        assert row.volume_24h == sum(b.count for b in day.buckets)
        assert row.volume_7d == sum(b.count for b in week.buckets) == sum(row.sparkline)
        assert row.sparkline == [b.count for b in week.buckets]
        positive = sum(b.sentiment.positive for b in day.buckets)
        negative = sum(b.sentiment.negative for b in day.buckets)
        # the test models record no share correction, so the estimated shares are label fractions
        assert row.share_estimator == "counts"
        assert row.net_sentiment == pytest.approx((positive - negative) / row.volume_24h, abs=2e-4)
        assert row.sentiment_share == pytest.approx(
            {"positive": positive / row.volume_24h, "negative": negative / row.volume_24h}
            | {"neutral": 1 - (positive + negative) / row.volume_24h},
            abs=1e-4,
        )
        assert row.expected_24h is not None and row.expected_24h > 0
    economy, healthcare = rows["economy"], rows["healthcare"]
    assert economy.spike is not None and economy.spike.kind == "volume"
    assert economy.spike.bucket_start == surge.isoformat()
    assert healthcare.spike is None
    assert economy.change is not None and healthcare.change is not None and economy.change > healthcare.change
    assert economy.dominant_emotion in {"anger", "joy", "neutral"}
    move = economy.emotion_above_baseline
    if move is not None:  # the most risen emotion: above its week's share, and none rose more
        assert move.share > move.baseline_share


def test_the_running_hour_is_apart_from_the_complete_ones(after_surge):
    storage, _ = after_surge
    before = {r.key: r for r in storage.reads.page.overview().topics}["healthcare"]
    now = storage.writes.clock()
    storage.writes.ingest(
        [
            record(
                "late night clinic queue",
                external_id="run-1",
                created_at=now.isoformat(),
                result=result("fear", -0.5, {"healthcare": 0.7}),
            )
        ]
    )
    after = {r.key: r for r in storage.reads.page.overview().topics}["healthcare"]
    assert after.volume_24h == before.volume_24h and after.sparkline == before.sparkline
    running_hour = now.replace(minute=0, second=0, microsecond=0).isoformat()
    counts = [{r.bucket_start: r.count for r in row.running}.get(running_hour, 0) for row in (before, after)]
    assert counts[1] == counts[0] + 1
    assert max(r.bucket_start for r in after.running) == running_hour  # nothing after the running hour


def test_timeline_marks_the_running_bucket_and_brackets_counts_with_the_band(after_surge):
    storage, surge = after_surge
    now = storage.writes.clock()
    answer = storage.reads.page.timeline(RangeQuery(topic="economy", since=now - timedelta(days=3), until=now))
    buckets = answer.buckets
    assert buckets[-1].complete is False and buckets[-2].complete is True
    scored = [b for b in buckets if b.complete]
    assert all(b.expected_low <= b.expected <= b.expected_high for b in scored)
    usual = [b for b in scored if b.start != surge.isoformat()]
    inside = sum(b.expected_low <= b.count <= b.expected_high for b in usual)
    assert inside / len(usual) >= 0.9  # steady history: counts sit in their 95 % band
    (spike,) = answer.spikes
    assert (spike.kind, spike.bucket_start) == ("volume", surge.isoformat())
    by_start = {b.start: b for b in buckets}
    assert by_start[surge.isoformat()].count > by_start[surge.isoformat()].expected_high
    days = storage.reads.page.timeline(
        RangeQuery(topic="economy", window="day", since=now - timedelta(days=5), until=now)
    ).buckets
    assert days[-1].complete is False and days[-2].expected == pytest.approx(
        sum(b.expected for b in scored if days[-2].start <= b.start < days[-1].start),
        rel=1e-3,
    )


def test_scorings_survive_writes_to_the_running_hour_but_not_late_ones(after_surge, monkeypatch):
    storage, surge = after_surge
    calls = []
    real = spike_reports.score_range
    # The spike readers call it through the module, so this counts every scoring they run.
    monkeypatch.setattr(spike_reports, "score_range", lambda *a, **k: calls.append(1) or real(*a, **k))
    storage.reads.spikes.spikes(SpikeQuery())
    storage.reads.spikes.spikes(SpikeQuery())
    assert len(calls) == 1
    now = storage.writes.clock()
    storage.writes.ingest(
        [record("now", external_id="now-1", created_at=now.isoformat(), result=result(topics={"economy": 0.5}))]
    )
    storage.reads.spikes.spikes(SpikeQuery())
    assert len(calls) == 1  # the running hour is not scored: the verdicts stand
    late = surge + timedelta(minutes=30)
    storage.writes.ingest(
        [record("late", external_id="late-1", created_at=late.isoformat(), result=result(topics={"economy": 0.5}))]
    )
    storage.reads.spikes.spikes(SpikeQuery())
    assert len(calls) == 2


HOSTILE = [
    '=HYPERLINK("http://x")',
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\tindent",
    "\rreturn",
    'plain, with "quotes"\nand a line',
]


def test_export_is_rfc4180_with_formula_cells_neutralised(storage):
    records = [
        record(
            text,
            external_id=f"x{i}" if i else "=ext",
            source="@handle" if i == 3 else "tw",
            created_at=f"2026-11-20T0{i}:00:00Z",
            result=result("anger", -0.6, {"economy": 0.5, "housing": 0.3}),
        )
        for i, text in enumerate(HOSTILE)
    ]
    storage.writes.ingest(records)
    plan = storage.reads.mentions.export_plan(MentionFilter(topic="economy"))
    assert plan.model_dump() == {"rows": len(HOSTILE), "truncated": False}
    body = export.header() + storage.reads.mentions.export_page(MentionFilter(topic="economy"), limit=1000).csv
    assert body.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert list(rows[0]) == list(export.COLUMNS)
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["'=ext"]["text"] == '\'=HYPERLINK("http://x")'
    assert by_id["x1"]["text"] == "'+1+1" and by_id["x2"]["text"] == "'-2" and by_id["x3"]["text"] == "'@SUM(A1)"
    assert by_id["x4"]["text"] == "'\tindent" and by_id["x5"]["text"] == "'\rreturn"
    assert by_id["x6"]["text"] == 'plain, with "quotes"\nand a line'
    assert by_id["x3"]["source"] == "'@handle" and by_id["x6"]["topics"] == "economy;housing"
    assert by_id["x6"]["sentiment"] == "negative" and float(by_id["x6"]["sentiment_score"]) == pytest.approx(-0.6)
    assert by_id["x6"]["created_at"].startswith("2026-11-20T06:00:00")


def test_export_stops_at_max_export_rows_and_says_so(engine):
    storage = Storage.over(
        engine,
        settings=StorageSettings(max_export_rows=3),
        clock=lambda: __import__("datetime").datetime(2026, 11, 20, 12, tzinfo=UTC),
    )
    storage.writes.ingest(
        [record(f"m{i}", external_id=f"m{i}", created_at=f"2026-11-20T0{i}:00:00Z") for i in range(5)]
    )
    mentions = storage.reads.mentions
    assert mentions.export_plan(MentionFilter(topic="economy")).model_dump() == {"rows": 3, "truncated": True}
    assert mentions.export_plan(MentionFilter(topic="economy", source="nope")).model_dump() == {
        "rows": 0,
        "truncated": False,
    }
    first = mentions.export_page(MentionFilter(topic="economy"), limit=2)
    second = mentions.export_page(MentionFilter(topic="economy"), limit=1, cursor=first.next_cursor)
    ids = [line.split(",")[0] for line in (first.csv + second.csv).splitlines()]
    assert ids == ["m4", "m3", "m2"]  # newest first, pages continue where the last stopped
