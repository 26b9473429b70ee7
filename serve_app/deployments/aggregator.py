"""Aggregator: the aggregation service behind its own pooled engine, one per replica.

Ingest calls from concurrent requests are merged into one transaction per batch. Each
request's mentions were validated and keyed by the Gateway against storage's rules, so one
caller's input cannot fail the others and nothing is validated twice. Failures are raised
as domain errors (``StorageError``...), never returned as dicts.
"""

from __future__ import annotations

import asyncio
import time

from ray import serve

from serve_app.metrics import StorageMetrics
from storage.engine import database_identity

QUERIES = frozenset(
    {
        "aggregate",
        "baseline",
        "trends",
        "mentions",
        "topics",
        "delete",
        "spikes",
        "alerts",
        "overview",
        "timeline",
        "export_plan",
        "export_page",
    }
)
# The AlertWatcher's calls: alerts are written here, so SQLite keeps one writer.
ALERT_CALLS = frozenset({"record_alerts", "pending_alert_deliveries", "finish_alert_delivery"})


@serve.deployment(name="Aggregator", ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=64)
class Aggregator:
    def __init__(self, database_url: str | None, storage_config: str | None, pipeline_config: str | None) -> None:
        from pathlib import Path

        from storage.factory import open_service

        self.service = open_service(
            database_url,
            storage_config=Path(storage_config) if storage_config else None,
            pipeline_config=Path(pipeline_config) if pipeline_config else None,
        )
        self.metrics = StorageMetrics()

    def _ingest(self, prepared: list) -> list[int]:
        started = time.perf_counter()
        try:
            report = self.service.ingest_prepared(prepared)
        except Exception:
            self.metrics.write_failures.inc()
            raise
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        return report.mention_ids

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def _ingest_merged(self, batches: list[list]) -> list[list[int] | Exception]:
        """Concurrent requests' mentions in one transaction; a failure is every caller's."""
        try:
            ids = await asyncio.to_thread(self._ingest, [p for batch in batches for p in batch])
        except Exception as exc:
            return [exc] * len(batches)
        out, start = [], 0
        for batch in batches:
            out.append(ids[start : start + len(batch)])
            start += len(batch)
        return out

    async def ingest(self, prepared: list) -> dict:
        """Store mentions the Gateway validated and keyed (``PreparedMention``); the domain
        error of a failed write is raised to the caller, whose error table answers it."""
        result = await self._ingest_merged(prepared)
        if isinstance(result, Exception):
            raise result
        return {"stored": len(prepared), "mention_ids": result}

    async def store_job_batch(self, records: list, failed: list, failed_stored: list) -> dict[str, int]:
        """A backfill batch written through this replica's pool (see batch_jobs.udfs.WriteUDF)."""
        started = time.perf_counter()
        try:
            counts = await asyncio.to_thread(self.service.store_job_batch, records, failed, failed_stored)
        except Exception:
            self.metrics.write_failures.inc()
            raise
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        return counts

    async def database_identity(self) -> str:
        """The database this app writes to (password hidden): a backfill writes through this
        app only when it targets the same database."""
        return database_identity(self.service.engine.url)

    async def query(self, name: str, kwargs: dict):
        if name not in QUERIES | ALERT_CALLS:
            raise ValueError(f"unknown query {name!r}")
        return await asyncio.to_thread(getattr(self.service, name), **kwargs)

    async def ping(self) -> bool:
        from sqlalchemy import text

        def check() -> bool:
            with self.service.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True

        return await asyncio.to_thread(check)
