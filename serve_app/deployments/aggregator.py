"""Aggregator: the aggregation service behind its own pooled engine, one per replica.

Ingest calls from concurrent requests are merged into one transaction per batch; each
request's records were validated by the gateway first, so one caller's bad input cannot
fail the others. If the merged write fails validation anyway, each request is retried on
its own so only the faulty one gets the error.
"""

from __future__ import annotations

import asyncio
import time

from ray import serve

from serve_app.metrics import StorageMetrics
from storage.engine import database_identity

QUERIES = frozenset({"aggregate", "baseline", "trends", "mentions", "topics", "delete"})


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

    def _ingest(self, records: list) -> dict:
        started = time.perf_counter()
        try:
            report = self.service.ingest(records)
        except Exception:
            self.metrics.write_failures.inc()
            raise
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        return {
            "inserted": report.inserted,
            "updated": report.updated,
            "duplicates": report.duplicates,
            "mention_ids": report.mention_ids,
        }

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def ingest(self, batches: list[list]) -> list[dict]:
        from storage.records import InvalidRecordError
        from storage.service import StorageError

        merged = [record for batch in batches for record in batch]
        try:
            report = await asyncio.to_thread(self._ingest, merged)
        except InvalidRecordError:
            return [await self._ingest_alone(batch) for batch in batches]
        except StorageError as exc:
            return [{"error": "storage", "message": str(exc)}] * len(batches)
        out, start = [], 0
        for batch in batches:
            ids = report["mention_ids"][start : start + len(batch)]
            out.append({"stored": len(batch), "mention_ids": ids})
            start += len(batch)
        return out

    async def _ingest_alone(self, batch: list) -> dict:
        from storage.records import InvalidRecordError
        from storage.service import StorageError

        try:
            report = await asyncio.to_thread(self._ingest, batch)
        except InvalidRecordError as exc:
            return {"error": "invalid", "message": str(exc)}
        except StorageError as exc:
            return {"error": "storage", "message": str(exc)}
        return {"stored": len(batch), "mention_ids": report["mention_ids"]}

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
        if name not in QUERIES:
            raise ValueError(f"unknown query {name!r}")
        return await asyncio.to_thread(getattr(self.service, name), **kwargs)

    async def ping(self) -> bool:
        from sqlalchemy import text

        def check() -> bool:
            with self.service.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True

        return await asyncio.to_thread(check)
