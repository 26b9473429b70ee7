"""The alert path's storage half: one call scores the recent buckets, keeps the spikes some
target wants that have no alert yet, explains only those and records them in one
transaction. The AlertWatcher then fetches pending deliveries, posts them and reports each
outcome here. Alerts are written by the Aggregator, so SQLite keeps one writer.

A round re-scores the buckets of the recent horizon each time (cheap: the scoring is cached
until a write changes it), so a mention that lands after its bucket was first scored still
counts; the alerts table's unique key makes re-scoring unable to alert twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from storage import alert_store
from storage.alert_store import AlertRound, DeliveryReport, PendingDelivery
from storage.errors import database_errors
from storage.reads.spikes import SpikeReads


class AlertRecorder:
    def __init__(self, engine: Engine, *, spikes: SpikeReads, clock: Callable[[], datetime]) -> None:
        self.engine, self.spikes, self.clock = engine, spikes, clock

    def record_alerts(self, request: AlertRound) -> list[int]:
        """Ids of the alerts recorded now: spikes of the buckets that ended within the
        recent horizon that a target wants and that were not recorded before."""
        if not request.targets:
            return []
        now = self.clock()
        horizon = timedelta(hours=request.recent_horizon_hours)
        # Whole hours, so the cached scoring serves every round until a write.
        since = (now - horizon).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        recent = [s for s in self.spikes.scoring(since, None).spikes if s.bucket_end >= now - horizon]
        if not recent:
            return []
        with database_errors(what="reading recorded alerts"), self.engine.connect() as connection:
            wanted = alert_store.unrecorded_wanted(connection, spikes=recent, targets=request.targets)
        explained = [self.spikes.answer(s) for s in wanted]  # explanations only for these
        if not explained:
            return []
        with database_errors(what="recording alerts"), self.engine.begin() as connection:
            return alert_store.record_alerts(connection, spikes=explained, targets=request.targets, now=now)

    def pending_alert_deliveries(self, limit: int = 100) -> list[PendingDelivery]:
        """Deliveries not yet sent (new, or cut short by a restart), oldest alert first."""
        with database_errors(what="reading pending alerts"), self.engine.connect() as connection:
            return alert_store.pending_deliveries(connection, limit=limit)

    def finish_alert_delivery(self, report: DeliveryReport) -> bool:
        """Record one delivery's outcome; False when it was no longer pending."""
        with database_errors(what="recording an alert delivery"), self.engine.begin() as connection:
            return alert_store.finish_delivery(connection, report=report, now=self.clock())
