"""Custom metrics (``ray.util.metrics``), exported on Ray's Prometheus endpoint.

Ray prefixes exported names with ``ray_``: ``moodwire_requests_total`` is scraped as
``ray_moodwire_requests_total``. Metric objects are created per replica, never at import.
"""

from __future__ import annotations

from ray.util.metrics import Counter, Histogram

LATENCY_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
BATCH_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

# Every metric name the Serve app exports (the backfill's are batch_jobs.metrics'; the Grafana
# dashboard is checked against both).
SERVE_METRIC_NAMES = (
    "moodwire_requests_total",
    "moodwire_texts_total",
    "moodwire_request_latency_seconds",
    "moodwire_batch_size",
    "moodwire_model_batch_seconds",
    "moodwire_cache_hits_total",
    "moodwire_cache_misses_total",
    "moodwire_cache_skipped_total",
    "moodwire_db_write_seconds",
    "moodwire_db_write_failures_total",
)


class GatewayMetrics:
    def __init__(self) -> None:
        self.requests = Counter("moodwire_requests_total", "HTTP requests", tag_keys=("route", "status"))
        self.texts = Counter("moodwire_texts_total", "texts received", tag_keys=("route",))
        self.latency = Histogram(
            "moodwire_request_latency_seconds", "request latency", boundaries=LATENCY_BOUNDARIES, tag_keys=("route",)
        )
        self.cache_hits = Counter("moodwire_cache_hits_total", "result cache hits")
        self.cache_misses = Counter("moodwire_cache_misses_total", "result cache misses")
        self.cache_skipped = Counter(
            "moodwire_cache_skipped_total", "result cache lookups skipped: Redis down, slow or paused"
        )


class ModelMetrics:
    def __init__(self, model: str) -> None:
        self.tags = {"model": model}
        self.batch_size = Histogram(
            "moodwire_batch_size", "texts per model batch", boundaries=BATCH_BOUNDARIES, tag_keys=("model",)
        )
        self.batch_seconds = Histogram(
            "moodwire_model_batch_seconds", "model time per batch", boundaries=LATENCY_BOUNDARIES, tag_keys=("model",)
        )

    def observe(self, texts: int, seconds: float) -> None:
        self.batch_size.observe(texts, tags=self.tags)
        self.batch_seconds.observe(seconds, tags=self.tags)


class StorageMetrics:
    def __init__(self) -> None:
        self.write_seconds = Histogram(
            "moodwire_db_write_seconds", "database write latency per ingest", boundaries=LATENCY_BOUNDARIES
        )
        self.write_failures = Counter("moodwire_db_write_failures_total", "failed database writes")
