"""The analyst page's overview on a large database, and the README's screenshots.

``bench_overview``: seed N mentions spread over 90 days (SQL inside the database, so a
million rows take seconds), then time ``PageReads.overview`` (what ``GET
/v1/overview`` answers) cold (a fresh service: the spike scoring is computed) and warm (the
scoring cached, the rollups read again), and after a write to the running hour (which must
not re-score). The baseline, measured in the same run, is the page built from the per-topic
routes that existed before: one 7-day hourly ``aggregate`` per topic plus ``spikes``.

``screenshots``: a demo database with daily rhythms and one surge, the app on a local Ray,
and Chromium (Debian's) saving the overview and a topic view to ``docs/``.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from moodwire.bench.storage import EMOTIONS, SEED_SQL, TOPICS, count_rollups, fresh_database
from storage.factory import Storage
from storage.query_types import RangeQuery, SpikeQuery
from storage.settings import StorageSettings

# SQLite's form of moodwire.bench.storage.SEED_SQL (PostgreSQL): the same mentions and topics,
# with times written as SQLAlchemy writes them on SQLite (microseconds included), so they
# compare; their rollups are counted by storage.rebuild, as for PostgreSQL.
SQLITE_SEED = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n)
INSERT INTO mentions (external_id, idempotency_key, content_hash, text, source, created_at, ingested_at,
    processing_status, sentiment_score, sentiment_label, emotion_label, model_version, in_rollups)
SELECT 'seed-' || n, 'ext:seed-' || n, hex(randomblob(16)), 'seeded mention ' || n, 'seed',
    datetime(:now, '-' || (abs(random()) % 7776000) || ' seconds') || '.000000', :now || '.000000', 'done', s,
    CASE WHEN s >= 0.3 THEN 'positive' WHEN s <= -0.3 THEN 'negative' ELSE 'neutral' END,
    json_extract('["anger","disgust","fear","joy","neutral","sadness","surprise"]', '$[' || (abs(random()) % 7) || ']'),
    'seed', 1
FROM (SELECT n, (abs(random()) % 2000) / 1000.0 - 1.1 AS s FROM g);
INSERT INTO mention_topics (mention_id, topic_key, score, created_at)
SELECT id, json_extract(:topics, '$[' || (id % 11) || ']'), 0.4, created_at FROM mentions;
INSERT INTO mention_topics (mention_id, topic_key, score, created_at)
SELECT id, json_extract(:topics, '$[' || ((id / 11) % 11) || ']'), 0.3, created_at FROM mentions
WHERE id % 3 = 0 AND (id / 11) % 11 <> id % 11;
ANALYZE;
"""
NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def seed(engine: Engine, count: int) -> float:
    """``count`` mentions over the 90 days before ``NOW`` with their rollups; seconds taken."""
    import json

    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    params = {"n": count, "now": NOW.replace(tzinfo=None), "topics": TOPICS if postgres else json.dumps(TOPICS)}
    if not postgres:
        params["now"] = NOW.strftime("%Y-%m-%d %H:%M:%S")
    with engine.begin() as connection:
        for statement in filter(str.strip, (SEED_SQL if postgres else SQLITE_SEED).split(";\n")):
            connection.execute(text(statement), params)
        count_rollups(connection)
    return time.perf_counter() - started


def running_hour_mention():
    """One classified mention posted now (the running hour), as live traffic writes it."""
    from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore
    from storage.records import MentionRecord

    result = MentionResult(
        emotion=EmotionResult(label="anger", scores={e: 0.1 for e in EMOTIONS}),
        sentiment=SentimentResult(label="negative", score=-0.5),
        topics=[TopicScore(key=TOPICS[0], score=0.5)],
    )
    return MentionRecord(text="a live mention", created_at=NOW, source="bench", result=result, model_version="seed")


def _ms(call, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def bench_overview(url: str | None, count: int, repeats: int = 20) -> list[dict]:
    with fresh_database(url) as engine:
        print(f"bench overview: seeding {count} mentions", file=sys.stderr)
        seeded_s = seed(engine, count)

        def storage() -> Storage:
            return Storage.over(engine, settings=StorageSettings(), clock=lambda: NOW, topic_keys=TOPICS)

        def per_topic_page() -> None:
            reads = storage().reads
            for topic in TOPICS:
                reads.topics.aggregate(RangeQuery(topic=topic, since=NOW - timedelta(days=7), until=NOW))
            reads.spikes.spikes(SpikeQuery(since=NOW - timedelta(hours=24)))

        baseline = _ms(per_topic_page, 3)
        cold = _ms(lambda: storage().reads.page.overview(), 3)
        warm = storage()
        warm.reads.page.overview()
        warm_ms = _ms(warm.reads.page.overview, repeats)
        after_write = _ms(lambda: (warm.writes.ingest([running_hour_mention()]), warm.reads.page.overview()), 5)
        rows = warm.reads.page.overview().topics
    figures = {
        "run": "overview",
        "database": engine.dialect.name,
        "mentions": count,
        "topics": len(rows),
        "seed_s": round(seeded_s, 1),
        "baseline_per_topic_routes_ms": round(statistics.median(baseline), 1),
        "overview_cold_ms": round(statistics.median(cold), 1),
        "overview_warm_p50_ms": round(statistics.median(warm_ms), 1),
        "overview_warm_max_ms": round(max(warm_ms), 1),
        "write_then_overview_p50_ms": round(statistics.median(after_write), 1),
    }
    figures["cold_speedup_vs_baseline"] = round(
        figures["baseline_per_topic_routes_ms"] / figures["overview_cold_ms"], 2
    )
    figures["warm_speedup_vs_baseline"] = round(
        figures["baseline_per_topic_routes_ms"] / figures["overview_warm_p50_ms"], 2
    )
    return [figures]
