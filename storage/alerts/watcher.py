"""The alert watcher's work, Ray-free: score the recent complete hours, record the spikes the
targets want, deliver what is pending. ``serve_app.deployments.alerts.AlertWatcher`` runs it
on a timer behind the Aggregator; tests run it against an ``AggregationService`` directly.

Each round re-scores the buckets of the recent horizon (cheap: the service caches the answer
until a write changes it), so a mention that lands after its bucket was first scored still
counts; the alerts table's unique key makes re-scoring unable to alert twice. All state is in
the database: a watcher killed anywhere resumes from the rows (``pending`` deliveries are
sent again, with the same idempotency key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from storage.alerts.delivery import Post, deliver, http_post
from storage.alerts.payloads import BUILDERS
from storage.alerts.settings import AlertSettings
from storage.alerts.store import PendingDelivery

logger = logging.getLogger(__name__)
DELIVERY_THREADS = 4


class AlertStore(Protocol):
    """What the watcher needs of the aggregation service (``AggregationService`` has it)."""

    def spikes(self, *, since: datetime | None = None) -> dict: ...

    def record_alerts(self, spikes: list[dict], targets: list) -> list[int]: ...

    def pending_alert_deliveries(self) -> list[PendingDelivery]: ...

    def finish_alert_delivery(
        self, *, alert_id: int, target: str, delivered: bool, attempts: int, error: str | None
    ) -> bool: ...


@dataclass
class RoundReport:
    recorded: list[int] = field(default_factory=list)
    delivered: int = 0
    failed: int = 0


class AlertRunner:
    def __init__(
        self,
        store: AlertStore,
        settings: AlertSettings,
        urls: dict[str, str],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        post: Post = http_post,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """``urls``: each target's URL (``storage.alerts.settings.target_urls``)."""
        self.store, self.settings, self.urls = store, settings, urls
        self.targets = {t.name: t for t in settings.targets}
        self.clock, self.post = clock, post
        self.sleep = sleep

    def score(self) -> list[int]:
        """Record the spikes of the buckets that ended within the recent horizon; ids of the
        new alerts. Older buckets (a backfill, an import) never alert."""
        if not self.targets:
            return []
        now = self.clock()
        horizon = timedelta(hours=self.settings.recent_horizon_hours)
        # Whole hours, so the service's cached answer serves every round until a write.
        since = (now - horizon).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        found = self.store.spikes(since=since)["spikes"]
        recent = [s for s in found if datetime.fromisoformat(s["bucket_end"]) >= now - horizon]
        return self.store.record_alerts(recent, list(self.targets.values())) if recent else []

    def _send(self, pending: PendingDelivery) -> bool:
        target = self.targets.get(pending.target)
        if target is None:
            delivered, attempts, error = False, 0, f"target {pending.target!r} is no longer configured"
        else:
            payload = BUILDERS[target.kind](
                pending.spike, key=pending.key, alert_id=pending.alert_id, public_url=self.settings.public_url
            )
            extra = {"sleep": self.sleep} if self.sleep is not None else {}
            outcome = deliver(
                self.urls[target.name],
                payload,
                key=pending.key,
                timeout_s=target.timeout_s,
                retry=self.settings.delivery,
                post=self.post,
                **extra,
            )
            delivered, attempts, error = outcome.delivered, outcome.attempts, outcome.error
        if not delivered:
            logger.warning("alert %s to %s failed: %s", pending.key, pending.target, error)
        self.store.finish_alert_delivery(
            alert_id=pending.alert_id, target=pending.target, delivered=delivered, attempts=attempts, error=error
        )
        return delivered

    def deliver_pending(self) -> tuple[int, int]:
        """Send every pending delivery (several targets at once); ``(delivered, failed)``."""
        pending = self.store.pending_alert_deliveries()
        if not pending:
            return 0, 0
        with ThreadPoolExecutor(max_workers=min(DELIVERY_THREADS, len(pending))) as pool:
            results = list(pool.map(self._send, pending))
        return sum(results), len(results) - sum(results)

    def round(self) -> RoundReport:
        """One watcher round: score, record, then deliver (also what an earlier run left)."""
        recorded = self.score()
        delivered, failed = self.deliver_pending()
        return RoundReport(recorded=recorded, delivered=delivered, failed=failed)
