"""``backfill``: a Ray Data job over N generated mentions into a fresh database."""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def write_source(texts: list[str], folder: Path) -> Path:
    """The texts as a Parquet file with ids and posting times spread over 30 days."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = datetime(2026, 10, 20, tzinfo=UTC)
    step = timedelta(days=30) / max(len(texts), 1)
    table = pa.table(
        {
            "text": texts,
            "external_id": [f"bench-{i}" for i in range(len(texts))],
            "created_at": [(start + i * step).isoformat() for i in range(len(texts))],
            "source": ["bench"] * len(texts),
        }
    )
    path = folder / "mentions.parquet"
    pq.write_table(table, path, row_group_size=2000)
    return path


def with_pipeline(config: Path | None, pipeline_config: Path, folder: Path) -> Path:
    """A copy of the backfill config (default configs/backfill.yaml) naming ``pipeline_config``."""
    import yaml

    from inference.config_files import project_configs_dir

    source = config or project_configs_dir() / "backfill.yaml"
    settings = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    settings["pipeline_config"] = str(pipeline_config.resolve())
    path = folder / "backfill.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def bench_backfill(
    texts: list[str], database_url: str, config: Path | None = None, pipeline_config: Path | None = None
) -> dict:
    """Runs the real job (``batch_jobs.backfill.run``) on a local Ray.

    ``texts_per_s`` is the rate the job sustains once its actors are up (rows after the first
    written batch over the time after it); ``wall_texts_per_s`` counts start-up and model
    loading too, which a backfill of millions of rows amortises.
    """
    import ray

    from batch_jobs.backfill import run

    with tempfile.TemporaryDirectory(prefix="moodwire-bench-src-") as folder:
        source = write_source(texts, Path(folder))
        if pipeline_config is not None:
            config = with_pipeline(config, pipeline_config, Path(folder))
        started_ray = not ray.is_initialized()
        if started_ray:
            ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
        try:
            wall = time.perf_counter()
            summary = run(
                argparse.Namespace(sources=[str(source)], config=config, database_url=database_url, model_changed=False)
            )
            wall = time.perf_counter() - wall
        finally:
            if started_ray:
                ray.shutdown()
    if summary["stored"] + summary["duplicates"] != len(texts):
        raise RuntimeError(f"backfill stored {summary['stored']} of {len(texts)} texts: {summary}")
    return {
        "run": "backfill",
        "texts": len(texts),
        "seconds": round(wall, 2),
        "texts_per_s": summary["sustained_texts_per_s"],
        "wall_texts_per_s": round(len(texts) / wall, 1),
        "first_write_s": summary["first_write_s"],
        "stored": summary["stored"],
        "failed": summary["failed"],
    }
