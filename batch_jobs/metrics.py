"""The backfill's custom metric (``ray.util.metrics``), exported on Ray's Prometheus endpoint
as ``ray_moodwire_backfill_rows_total``. Created per writer actor, never at import."""

from __future__ import annotations

from ray.util.metrics import Counter

BACKFILL_METRIC_NAMES = ("moodwire_backfill_rows_total",)


class BackfillMetrics:
    """Rows a backfill's writer stage finished, by outcome: progress in the dashboard."""

    def __init__(self) -> None:
        self.rows = Counter("moodwire_backfill_rows_total", "backfill rows written, by outcome", tag_keys=("outcome",))

    def observe(self, stored: int, duplicates: int, failed: int) -> None:
        for outcome, count in (("stored", stored), ("duplicate", duplicates), ("failed", failed)):
            if count:
                self.rows.inc(count, tags={"outcome": outcome})
