"""Aggregator: storage behind its own pooled engine, one per replica; every database read and
write of the Serve app goes through it (SQLite keeps one writer).

Each method takes a typed query (``storage.query_types``) and returns a typed answer
(``storage.answers``); the work runs in a worker thread, off the replica's event loop.
Ingest calls from concurrent requests are merged into one transaction per batch; each
request's mentions were validated and keyed by the Gateway against storage's rules, so one
caller's input cannot fail the others and nothing is validated twice. Failures are raised as
domain errors (``StorageError``...), which Ray hands to the caller's error table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ray import serve

from serve_app.metrics import StorageMetrics
from storage.alert_store import AlertRound, DeliveryReport, PendingDelivery
from storage.answers import (
    AggregateAnswer,
    AlertsAnswer,
    ExportPage,
    ExportPlan,
    MentionsPage,
    OverviewAnswer,
    SpikesAnswer,
    TimelineAnswer,
    TopicsAnswer,
    TrendsAnswer,
)
from storage.engine import database_identity
from storage.query_types import AlertsQuery, MentionFilter, MentionsQuery, RangeQuery, SpikeQuery, TrendsQuery
from storage.records import MentionRecord, PreparedMention

P = ParamSpec("P")
T = TypeVar("T")


async def _off_loop(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await asyncio.to_thread(work, *args, **kwargs)


@serve.deployment(name="Aggregator", ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=64)
class Aggregator:
    def __init__(self, database_url: str | None, storage_config: str | None, pipeline_config: str | None) -> None:
        from pathlib import Path

        from storage.factory import open_storage

        self.storage = open_storage(
            database_url,
            storage_config=Path(storage_config) if storage_config else None,
            pipeline_config=Path(pipeline_config) if pipeline_config else None,
        )
        self.metrics = StorageMetrics()

    # -- writes ----------------------------------------------------------------------------------
    def _ingest(self, prepared: list[PreparedMention]) -> list[int]:
        started = time.perf_counter()
        try:
            report = self.storage.writes.ingest_prepared(prepared)
        except Exception:
            self.metrics.write_failures.inc()
            raise
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        return report.mention_ids

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def _ingest_merged(self, batches: list[list[PreparedMention]]) -> list[list[int] | Exception]:
        """Concurrent requests' mentions in one transaction; a failure is every caller's."""
        try:
            ids = await _off_loop(self._ingest, [p for batch in batches for p in batch])
        except Exception as exc:
            return [exc] * len(batches)
        out: list[list[int] | Exception] = []
        start = 0
        for batch in batches:
            out.append(ids[start : start + len(batch)])
            start += len(batch)
        return out

    async def ingest(self, prepared: list[PreparedMention]) -> dict:
        """Store mentions the Gateway validated and keyed; the domain error of a failed write
        is raised to the caller, whose error table answers it."""
        result = await self._ingest_merged(prepared)
        if isinstance(result, Exception):
            raise result
        return {"stored": len(prepared), "mention_ids": result}

    async def store_job_batch(
        self, records: list[MentionRecord], failed: list[tuple[MentionRecord, str]], failed_stored: list
    ) -> dict[str, int]:
        """A backfill batch written through this replica's pool (see batch_jobs.udfs.WriteUDF)."""
        started = time.perf_counter()
        try:
            counts = await _off_loop(self.storage.writes.store_job_batch, records, failed, failed_stored)
        except Exception:
            self.metrics.write_failures.inc()
            raise
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        return counts

    async def delete(self, external_ids: list[str]) -> list[str]:
        return await _off_loop(self.storage.writes.delete, external_ids)

    async def ping(self) -> bool:
        return await _off_loop(self.storage.writes.ping)

    async def database_identity(self) -> str:
        """The database this app writes to (password hidden): a backfill writes through this
        app only when it targets the same database."""
        return database_identity(self.storage.engine.url)

    # -- reads -----------------------------------------------------------------------------------
    async def topics(self) -> TopicsAnswer:
        return TopicsAnswer(topics=await _off_loop(self.storage.reads.catalog.topics))

    async def aggregate(self, query: RangeQuery) -> AggregateAnswer:
        return await _off_loop(self.storage.reads.topics.aggregate, query)

    async def trends(self, query: TrendsQuery) -> TrendsAnswer:
        return TrendsAnswer(trends=await _off_loop(self.storage.reads.topics.trends, query))

    async def overview(self) -> OverviewAnswer:
        return await _off_loop(self.storage.reads.page.overview)

    async def timeline(self, query: RangeQuery) -> TimelineAnswer:
        return await _off_loop(self.storage.reads.page.timeline, query)

    async def spikes(self, query: SpikeQuery) -> SpikesAnswer:
        return await _off_loop(self.storage.reads.spikes.spikes, query)

    async def mentions(self, query: MentionsQuery) -> MentionsPage:
        return await _off_loop(self.storage.reads.mentions.mentions, query)

    async def export_plan(self, where: MentionFilter) -> ExportPlan:
        return await _off_loop(self.storage.reads.mentions.export_plan, where)

    async def export_page(self, where: MentionFilter, cursor: str | None, limit: int) -> ExportPage:
        return await _off_loop(self.storage.reads.mentions.export_page, where, cursor=cursor, limit=limit)

    async def alerts(self, query: AlertsQuery) -> AlertsAnswer:
        return await _off_loop(self.storage.reads.alerts.alerts, query)

    # -- the alert path (the AlertWatcher's calls) -------------------------------------------------
    async def record_alerts(self, request: AlertRound) -> list[int]:
        """Score the recent buckets, explain and record what the targets want: one call."""
        return await _off_loop(self.storage.alerts.record_alerts, request)

    async def pending_alert_deliveries(self, limit: int = 100) -> list[PendingDelivery]:
        return await _off_loop(self.storage.alerts.pending_alert_deliveries, limit)

    async def finish_alert_delivery(self, report: DeliveryReport) -> bool:
        return await _off_loop(self.storage.alerts.finish_alert_delivery, report)
