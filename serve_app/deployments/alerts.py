"""AlertWatcher: ``alerting.watcher.AlertRunner`` on a timer, beside the app.

It holds no data of its own: one Aggregator call per round scores, explains and records the
alerts (one writer for SQLite); only the HTTP calls to the targets happen here. It asks for
0.01 CPU: it sleeps between rounds, and its work is a query and a few POSTs an hour.
"""

from __future__ import annotations

import logging
import threading

from ray import serve
from ray.serve.handle import DeploymentHandle

from storage.alert_store import AlertRound, DeliveryReport, PendingDelivery

logger = logging.getLogger("ray.serve")


class AggregatorAlertStore:
    """``alerting.watcher.AlertStore`` over the Aggregator's handle (blocking calls, made from
    the watcher's own thread, never from the replica's event loop).

    Each call is bounded: a call in flight when the Aggregator replica was killed was seen
    to wait on it for good (no error, no log), which stopped the watcher; with a bound the
    round fails, is logged, and the next one goes to the replacement."""

    def __init__(self, aggregator: DeploymentHandle, timeout_s: float = 60) -> None:
        self.aggregator, self.timeout_s = aggregator, timeout_s

    def record_alerts(self, request: AlertRound) -> list[int]:
        return self.aggregator.record_alerts.remote(request).result(timeout_s=self.timeout_s)

    def pending_alert_deliveries(self) -> list[PendingDelivery]:
        return self.aggregator.pending_alert_deliveries.remote().result(timeout_s=self.timeout_s)

    def finish_alert_delivery(self, report: DeliveryReport) -> bool:
        return self.aggregator.finish_alert_delivery.remote(report).result(timeout_s=self.timeout_s)


@serve.deployment(name="AlertWatcher", ray_actor_options={"num_cpus": 0.01}, max_ongoing_requests=4)
class AlertWatcher:
    def __init__(self, aggregator: DeploymentHandle, alerts_config: str | None) -> None:
        from pathlib import Path

        from alerting import load_alert_settings, target_urls
        from alerting.watcher import AlertRunner

        path = Path(alerts_config) if alerts_config else None
        self.settings = load_alert_settings(path)
        urls = target_urls(self.settings, path or "configs/alerts.yaml")
        self.runner = AlertRunner(AggregatorAlertStore(aggregator), self.settings, urls)
        self.rounds = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alert-watcher", daemon=True)
        if self.settings.targets:
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.runner.round()
                self.last_error = None
                if report.recorded or report.failed:
                    logger.info(
                        "alerts: %d new, %d delivered, %d failed", len(report.recorded), report.delivered, report.failed
                    )
            except Exception as exc:  # the database or the Aggregator is away: try again next round
                if str(exc) != self.last_error:
                    logger.warning("alert round failed: %s", exc)
                self.last_error = str(exc)
            self.rounds += 1
            self._stop.wait(self.settings.poll_seconds)

    def status(self) -> dict:
        """Rounds run, the targets watched and the last round's error (None when it went well)."""
        return {
            "rounds": self.rounds,
            "targets": sorted(t.name for t in self.settings.targets),
            "error": self.last_error,
        }

    def __del__(self) -> None:
        self._stop.set()
