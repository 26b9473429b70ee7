"""``python -m batch_jobs.backfill SOURCE...``: classify and store mentions in bulk on Ray Data.

read -> validate -> ModelsUDF (actor pool: both models, then topics and sentiment; or, with
``layout: staged``, EmotionUDF and AnalysisUDF in pools of their own) -> WriteUDF (the
aggregator stage, the only one with a database pool). Re-running a job is safe: ingest is
idempotent on ``external_id`` (or content, source and ``created_at``), so rows stored by an
interrupted run are skipped as duplicates.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from batch_jobs.cli import check_job_database
from batch_jobs.config import BackfillSettings, load_backfill_settings
from batch_jobs.sources import resolve_sources


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The job's arguments, shared by ``python -m batch_jobs.backfill`` and ``moodwire backfill``."""
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help=".jsonl/.csv/.parquet files or globs, db:pending, or db:all --model-changed",
    )
    parser.add_argument(
        "--model-changed",
        action="store_true",
        help="with db:all: re-process mentions whose model_version is not the current models'",
    )
    parser.add_argument("--config", type=Path, help="default: configs/backfill.yaml")
    parser.add_argument("--database-url", help="default: $MOODWIRE_DATABASE_URL or the embedded SQLite file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backfill", description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    return parser


def serve_writer(settings: BackfillSettings, url: str) -> str | None:
    """The Serve app to write through, or None for the job's own writer actors.

    ``auto`` uses the app named ``serve_app`` when it runs in this cluster and writes to the
    same database; ``serve`` requires it; ``own`` never looks.
    """
    if settings.write_through == "own":
        return None
    from ray import serve
    from ray.serve.schema import ApplicationStatus

    from storage.engine import database_identity

    try:
        app = serve.status().applications.get(settings.serve_app)
    except Exception:  # no Serve instance in this cluster
        app = None
    if app is None or app.status != ApplicationStatus.RUNNING:
        if settings.write_through == "serve":
            raise ValueError(f"write_through is 'serve' but no running Serve app named {settings.serve_app!r}")
        return None
    handle = serve.get_deployment_handle("Aggregator", app_name=settings.serve_app)
    theirs = handle.database_identity.remote().result(timeout_s=60)
    ours = database_identity(url)
    if theirs != ours:
        if settings.write_through == "serve":
            raise ValueError(f"the Serve app {settings.serve_app!r} writes to {theirs}, not to {ours}")
        print(
            f"backfill: Serve app {settings.serve_app!r} writes to another database; using own writers", file=sys.stderr
        )
        return None
    return settings.serve_app


def connect_ray() -> None:
    """Join the cluster RAY_ADDRESS names, or start a local Ray; ``ServiceUnreachableError``
    when it cannot be reached. A host:port that refuses TCP fails in seconds: ``ray.init``
    itself would retry the GCS for many minutes first."""
    import socket

    import ray

    from entrypoints.exit_codes import ServiceUnreachableError

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    where = f"Ray at {address} (RAY_ADDRESS)" if address else "a local Ray"
    scheme, _, rest = (address or "").rpartition("://")
    if address and address != "auto" and scheme in ("", "ray"):  # other forms are ray.init's to judge
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
        try:
            with socket.create_connection((host.strip("[]"), int(port or (10001 if scheme else 6379))), timeout=5):
                pass
        except (OSError, ValueError) as exc:
            raise ServiceUnreachableError(f"cannot reach {where}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        ray.init(address=address, **({} if address else {"_node_ip_address": "127.0.0.1", "include_dashboard": False}))
    except ConnectionError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServiceUnreachableError(f"cannot reach {where}: {reason}") from exc


def run(args: argparse.Namespace) -> dict:
    import ray
    from ray.data import ActorPoolStrategy

    from batch_jobs.db_source import id_ranges, read_id_range, selection_for
    from batch_jobs.udfs import AnalysisUDF, EmotionUDF, ModelsUDF, WriteUDF, validate_batch
    from inference.fake_models import fake_models_warning
    from inference.loading import classifier_labels_and_version
    from inference.settings import load_pipeline_settings
    from inference.versions import pipeline_model_version
    from storage.factory import ready_engine
    from storage.records import RecordRules
    from storage.settings import database_url, load_storage_settings

    settings = load_backfill_settings(args.config)
    check_job_database(args.database_url)
    pipeline_settings = load_pipeline_settings(settings.pipeline_config)
    warning = fake_models_warning(pipeline_settings)
    if warning:
        print(warning, file=sys.stderr)
    selection = selection_for(
        args.sources,
        model_changed=args.model_changed,
        current_version=pipeline_model_version(pipeline_settings),
    )
    kind, paths = ("db", []) if selection else resolve_sources(args.sources)
    url = database_url(args.database_url)
    ready_engine(url).dispose()  # fail fast on a bad URL or schema; migrates the embedded SQLite
    ranges = id_ranges(url, selection, settings.db_range_size) if selection else []
    if selection and not ranges:
        return {"read": 0, "stored": 0, "duplicates": 0, "failed": 0, "seconds": 0.0, "texts_per_s": 0}
    pipeline_config = str(settings.pipeline_config.resolve()) if settings.pipeline_config else None

    connect_ray()
    through_serve = serve_writer(settings, url)
    # Small blocks keep the stages overlapping: a model stage hands a block on only when it
    # is complete, so 128 MiB blocks would make the next stage wait for thousands of rows.
    ray.data.DataContext.get_current().target_max_block_size = settings.block_bytes
    light = {"num_cpus": settings.io_num_cpus}  # reads and validation share the cores with the actors
    if selection:
        dataset = ray.data.from_items(ranges).map_batches(
            read_id_range,
            fn_kwargs={"database_url": url, "selection": selection},
            batch_size=1,
            batch_format="numpy",
            **light,
        )
    else:
        # Ray Data's v2 Parquet reader lists files in a task that always asks for a whole CPU;
        # with the model actors holding their share of a 2-CPU node it never starts. The v1
        # reader honours num_cpus.
        ray.data.DataContext.get_current().use_datasource_v2 = False
        reader = {"json": ray.data.read_json, "csv": ray.data.read_csv, "parquet": ray.data.read_parquet}[kind]
        dataset = reader(paths, **light)
        dataset = rename_columns(dataset, settings, paths)

    def pool(stage):
        return {
            "compute": ActorPoolStrategy(min_size=stage.min_size, max_size=stage.max_size),
            "num_cpus": stage.num_cpus,
            "num_gpus": stage.num_gpus or None,
        }

    rules = RecordRules.from_settings(load_storage_settings(), max_text_chars=pipeline_settings.max_text_chars)
    dataset = dataset.map_batches(
        validate_batch,
        fn_kwargs={"rules": rules},
        batch_format="numpy",
        **light,
    )
    stages = [(ModelsUDF, settings.models)]
    if settings.layout == "staged":
        stages = [(EmotionUDF, settings.emotion), (AnalysisUDF, settings.analysis)]
    for udf, stage in stages:
        dataset = dataset.map_batches(
            udf,
            fn_constructor_kwargs={"pipeline_config": pipeline_config, "threads": stage.torch_threads()},
            batch_size=settings.batch_size,
            batch_format="numpy",
            **pool(stage),
        )
    dataset = dataset.map_batches(
        WriteUDF,
        fn_constructor_kwargs={
            "database_url": url,
            "pipeline_config": pipeline_config,
            "labels": classifier_labels_and_version(pipeline_settings.emotion.source)[0],
            "serve_app": through_serve,
        },
        batch_size=settings.write_batch_size,
        batch_format="numpy",
        **pool(settings.writer),
    )
    started = time.perf_counter()
    first_write, first_rows = None, 0
    totals = {"read": 0, "stored": 0, "duplicates": 0, "failed": 0}
    for row in dataset.iter_rows():
        for key in totals:
            totals[key] += int(row[key])
        if first_write is None:
            first_write, first_rows = time.perf_counter() - started, totals["read"]
    seconds = time.perf_counter() - started
    steady = seconds - (first_write or 0.0)
    return {
        **totals,
        "seconds": round(seconds, 2),
        "texts_per_s": round(totals["read"] / seconds, 1) if seconds else 0,
        # start-up (actors, model loading) up to the first written batch, then the rate the
        # job sustains after it: what a backfill of millions of rows runs at
        "first_write_s": round(first_write or 0.0, 2),
        "sustained_texts_per_s": round((totals["read"] - first_rows) / steady, 1) if steady > 0 else 0,
        "written_through": f"serve:{through_serve}" if through_serve else "own writers",
    }


def rename_columns(dataset, settings: BackfillSettings, paths: list[str]):
    """Map configured source column names onto text/external_id/created_at/source."""
    columns = settings.columns
    names = dataset.columns()
    if columns.text not in names:
        raise ValueError(f"column {columns.text!r} not found in {paths[0]} (columns: {names})")
    renames = {
        getattr(columns, field): field
        for field in ("text", "external_id", "created_at", "source")
        if getattr(columns, field) in names and getattr(columns, field) != field
    }
    return dataset.rename_columns(renames) if renames else dataset


def main(argv: list[str] | None = None) -> int:
    from batch_jobs.cli import run_job

    return run_job("backfill", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
