"""Database write throughput (``ingest``) and per-topic query latency (``aggregate``)."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Connection, Engine, text
from tqdm import tqdm

from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore
from storage.engine import create_database_engine
from storage.factory import Storage
from storage.migrate import upgrade
from storage.query_types import RangeQuery
from storage.records import MentionRecord
from storage.service import AggregationService
from storage.settings import StorageSettings

TOPICS = [
    "economy",
    "healthcare",
    "immigration",
    "foreign_policy",
    "crime_public_safety",
    "climate_energy",
    "education",
    "elections",
    "corruption_ethics",
    "housing",
    "civil_rights",
]
EMOTIONS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@contextmanager
def fresh_database(url: str | None) -> Iterator[Engine]:
    """A migrated, empty database, removed afterwards: a temporary SQLite file, or a new
    schema on the given server (dropped with everything in it)."""
    if url is None:
        folder = tempfile.mkdtemp(prefix="moodwire-bench-")
        engine = create_database_engine(f"sqlite:///{folder}/bench.db")
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"mw_bench_{os.getpid()}_{int(time.time())}"
    admin = create_database_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    engine = create_database_engine(f"{url}{separator}options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def synthetic_records(count: int, *, seed: int = 7, days: float = 30) -> list[MentionRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(count):
        score = float(np.clip(rng.normal(-0.1, 0.5), -1, 1))
        label = "positive" if score >= 0.3 else "negative" if score <= -0.3 else "neutral"
        emotion = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
        picked = rng.choice(len(TOPICS), size=int(rng.integers(1, 4)), replace=False)
        result = MentionResult(
            emotion=EmotionResult(label=emotion, scores={e: (0.7 if e == emotion else 0.05) for e in EMOTIONS}),
            sentiment=SentimentResult(label=label, score=round(score, 4)),
            topics=[TopicScore(key=TOPICS[t], score=0.3) for t in picked],
        )
        created = NOW - timedelta(seconds=int(rng.integers(max(1, int(days * 86400)))))
        records.append(
            MentionRecord(
                text=f"synthetic mention {i} about {' and '.join(TOPICS[t] for t in picked)}",
                external_id=f"bench-{seed}-{i}",
                created_at=created,
                source="bench",
                result=result,
                embedding=rng.normal(size=384).astype(np.float32),
                model_version="bench",
            )
        )
    return records


def bench_ingest(url: str | None, count: int, batch_size: int = 500, writers: int = 1, spread_days: float = 30) -> dict:
    with fresh_database(url) as engine:
        return _ingest(engine, count, batch_size, writers, spread_days)


def _ingest(engine: Engine, count: int, batch_size: int, writers: int, spread_days: float) -> dict:
    """``writers`` threads, each with its own pooled connection, like concurrent replicas.

    ``spread_days`` sets how far back posting times go: 30 (history, the worst case: nearly
    every mention lands in its own hourly rollup rows) or 1 (live traffic).
    """
    from concurrent.futures import ThreadPoolExecutor

    service = AggregationService(engine, settings=StorageSettings(cache_ttl_s=0), clock=lambda: NOW)
    records = synthetic_records(count, days=spread_days)
    batches = [records[start : start + batch_size] for start in range(0, count, batch_size)]
    started = time.perf_counter()
    with (
        ThreadPoolExecutor(writers) as pool,
        tqdm(total=len(batches), desc="ingest", unit="batch", file=sys.stderr) as bar,
    ):
        for _ in pool.map(service.ingest, batches):
            bar.update(1)
    elapsed = time.perf_counter() - started
    replay_started = time.perf_counter()
    for start in range(0, count, batch_size):
        service.ingest(records[start : start + batch_size])
    replay = time.perf_counter() - replay_started
    return {
        "database": engine.dialect.name,
        "mentions": count,
        "batch_size": batch_size,
        "writers": writers,
        "spread_days": spread_days,
        "mentions_per_s": round(count / elapsed, 1),
        "replay_mentions_per_s": round(count / replay, 1),
    }


SEED_SQL = """
INSERT INTO mentions (external_id, idempotency_key, content_hash, text, source, created_at, ingested_at,
    processing_status, sentiment_score, sentiment_label, emotion_label, model_version)
SELECT 'seed-' || g, 'ext:seed-' || g, md5(g::text), 'seeded mention ' || g, 'seed',
    :now - (random() * interval '90 days'), :now, 'done', s, CASE WHEN s >= 0.3 THEN 'positive'
    WHEN s <= -0.3 THEN 'negative' ELSE 'neutral' END, (ARRAY['anger','disgust','fear','joy','neutral',
    'sadness','surprise'])[1 + floor(random() * 7)::int], 'seed'
FROM (SELECT g, greatest(-1, least(1, (random() - 0.55) * 2)) AS s FROM generate_series(1, :n) g) AS x;
INSERT INTO mention_topics (mention_id, topic_key, score, created_at)
SELECT id, (:topics)[1 + (id % 11)::int], 0.4, created_at FROM mentions;
INSERT INTO mention_topics (mention_id, topic_key, score, created_at)
SELECT id, (:topics)[1 + ((id / 11) % 11)::int], 0.3, created_at FROM mentions
WHERE id % 3 = 0 AND (id / 11) % 11 <> id % 11;
ANALYZE;
"""


def count_rollups(connection: Connection) -> None:
    """The rollups of mentions seeded by SQL, by the one implementation of their arithmetic
    (``storage.rebuild``), so a seed never re-implements it."""
    from inference.language import LanguagePolicy
    from storage.rebuild import rebuild_rollups

    rebuild_rollups(connection, policy=LanguagePolicy())
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE"))


def bench_aggregate(url: str | None, count: int, repeats: int = 50) -> dict:
    """Seed ``count`` mentions over 90 days, then time 30 days of hourly buckets per topic."""
    with fresh_database(url) as engine:
        return _aggregate(engine, count, repeats)


def _aggregate(engine: Engine, count: int, repeats: int) -> dict:
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for statement in filter(str.strip, SEED_SQL.split(";")):
                connection.execute(text(statement), {"n": count, "now": NOW.replace(tzinfo=None), "topics": TOPICS})
            count_rollups(connection)
    else:
        service = AggregationService(engine, settings=StorageSettings(cache_ttl_s=0), clock=lambda: NOW)
        records = synthetic_records(count, days=90)
        for start in tqdm(range(0, count, 1000), desc="seed", unit="batch", file=sys.stderr):
            service.ingest(records[start : start + 1000])
    seeded_s = time.perf_counter() - started
    reads = Storage.over(engine, settings=StorageSettings(cache_ttl_s=0), clock=lambda: NOW, topic_keys=TOPICS).reads
    timings = []
    for i in range(repeats):
        query = RangeQuery(topic=TOPICS[i % len(TOPICS)], since=NOW - timedelta(days=30), until=NOW)
        t0 = time.perf_counter()
        out = reads.topics.aggregate(query)
        timings.append((time.perf_counter() - t0) * 1000)
        assert len(out.buckets) == 720
    cached = Storage.over(engine, settings=StorageSettings(cache_ttl_s=300), clock=lambda: NOW, topic_keys=TOPICS)
    month = RangeQuery(topic="economy", since=NOW - timedelta(days=30), until=NOW)
    cached.reads.topics.aggregate(month)
    t0 = time.perf_counter()
    cached.reads.topics.aggregate(month)
    cached_ms = (time.perf_counter() - t0) * 1000
    timings.sort()
    return {
        "database": engine.dialect.name,
        "mentions": count,
        "seed_s": round(seeded_s, 1),
        "seed_mentions_per_s": round(count / seeded_s, 1),
        "aggregate_30d_hourly_p50_ms": round(statistics.median(timings), 2),
        "aggregate_30d_hourly_p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
        "cached_ms": round(cached_ms, 3),
    }
