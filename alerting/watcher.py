"""The alert watcher's work, Ray-free: one call asks storage to score the recent complete
hours and record what the targets want (``storage.alert_recorder``); then the pending
deliveries are posted and each outcome reported back. ``serve_app.deployments.alerts.AlertWatcher``
runs it on a timer over the Aggregator's handle; tests run it over an ``AlertRecorder``.

All state is in the database: a watcher killed anywhere resumes from the rows (``pending``
deliveries are sent again, with the same idempotency key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from alerting.delivery import Post, deliver, http_post
from alerting.payloads import BUILDERS
from alerting.settings import AlertSettings
from storage.alert_store import AlertRound, DeliveryReport, PendingDelivery

logger = logging.getLogger(__name__)
DELIVERY_THREADS = 4


class AlertStore(Protocol):
    """What the watcher needs of storage: ``storage.alert_recorder.AlertRecorder`` in-process,
    or the Aggregator's handle (``serve_app.deployments.alerts.AggregatorAlertStore``)."""

    def record_alerts(self, request: AlertRound) -> list[int]: ...

    def pending_alert_deliveries(self) -> list[PendingDelivery]: ...

    def finish_alert_delivery(self, report: DeliveryReport) -> bool: ...


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
        post: Post = http_post,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """``urls``: each target's URL (``alerting.settings.target_urls``)."""
        self.store, self.settings, self.urls = store, settings, urls
        self.targets = {t.name: t for t in settings.targets}
        self.post = post
        self.sleep = sleep

    def score(self) -> list[int]:
        """Ids of the alerts storage recorded for the buckets that ended within the recent
        horizon; older buckets (a backfill, an import) never alert."""
        if not self.targets:
            return []
        rules = tuple(target.rule() for target in self.targets.values())
        return self.store.record_alerts(
            AlertRound(targets=rules, recent_horizon_hours=self.settings.recent_horizon_hours)
        )

    def _send(self, pending: PendingDelivery) -> bool:
        target = self.targets.get(pending.target)
        error: str | None
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
            DeliveryReport(
                alert_id=pending.alert_id, target=pending.target, delivered=delivered, attempts=attempts, error=error
            )
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
