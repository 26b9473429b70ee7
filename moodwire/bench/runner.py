"""Runs one benchmark kind plus the raw baseline it is compared against."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from moodwire.bench.texts import generate_texts, length_profile


def spread_sample(texts: list[str], size: int) -> list[str]:
    """Every k-th text: the same length mix as the whole list, in fewer texts."""
    if size >= len(texts):
        return texts
    step = len(texts) / size
    return [texts[int(i * step)] for i in range(size)]


def measure_raw(texts: list[str], pipeline_config: Path | None = None) -> dict:
    """Load both models here, measure, and free them before the next run needs the cores."""
    from inference.settings import load_pipeline_settings
    from moodwire.bench.models import LoadedModels, bench_raw

    models = LoadedModels.load(load_pipeline_settings(pipeline_config))
    figures = bench_raw(models, texts)
    del models
    gc.collect()
    return figures


def with_ratio(figures: dict, raw: dict) -> dict:
    if figures.get("run") == "online-embeddings":  # the embedding model alone is its raw
        return {**figures, "ratio_to_raw": round(figures["texts_per_s"] / raw["embedding_texts_per_s"], 3)}
    ratios = {"ratio_to_raw": round(figures["texts_per_s"] / raw["texts_per_s"], 3)}
    if "wall_texts_per_s" in figures:
        ratios["wall_ratio_to_raw"] = round(figures["wall_texts_per_s"] / raw["texts_per_s"], 3)
    return {**figures, **ratios}


def run_kind(args: argparse.Namespace) -> list[dict]:
    from moodwire.bench.storage import fresh_database

    kind = args.bench_command
    if kind == "overview":  # no models: the page's reads only
        from moodwire.bench.page import bench_overview

        return bench_overview(args.database_url, args.texts)
    texts = generate_texts(args.texts, short_only=args.short)
    print(f"bench {kind}: {length_profile(texts)}", file=sys.stderr)
    if kind == "soak":  # the app's own behaviour over time: no raw baseline to compare with
        from moodwire.bench.soak import bench_soak

        return bench_soak(args, texts)
    if kind == "versus":  # two servers against each other: no raw baseline
        from moodwire.bench.versus import bench_versus

        return bench_versus(args, texts)
    if kind == "precision":
        from moodwire.bench.precision import bench_precision

        runs = bench_precision(texts, args.goemotions)
        return [with_ratio(figures, runs[0]) for figures in runs]
    raw_texts = texts if kind in ("raw", "naive") else spread_sample(texts, args.raw_texts)
    pipeline_config = getattr(args, "pipeline_config", None)
    raw = measure_raw(raw_texts, pipeline_config)
    if kind == "raw":
        return [with_ratio(raw, raw)]
    if kind == "naive":
        from inference.settings import load_pipeline_settings
        from moodwire.bench.models import LoadedModels, bench_naive

        settings = load_pipeline_settings(pipeline_config)
        with fresh_database(args.database_url) as engine:
            url = engine.url.render_as_string(hide_password=False)
            naive = bench_naive(LoadedModels.load(settings), settings, texts, url)
        return [raw, with_ratio(naive, raw)]
    if kind == "backfill":
        from moodwire.bench.backfill import bench_backfill

        with fresh_database(args.database_url) as engine:
            url = engine.url.render_as_string(hide_password=False)
            figures = bench_backfill(texts, url, args.config, pipeline_config)
        return [raw, with_ratio(figures, raw)]
    if kind == "online":
        from moodwire.bench.online import bench_online

        runs = bench_online(args, texts)
        return [raw, *(with_ratio(r, raw) for r in runs[:-1]), with_ratio(runs[-1], raw)]
    from moodwire.bench import storage

    if kind == "ingest":
        writers = (args.concurrency or [1])[-1]
        figures = storage.bench_ingest(args.database_url, args.texts, writers=writers, spread_days=args.spread_days)
        figures = {"run": "ingest", **figures, "texts_per_s": figures["mentions_per_s"]}
    else:
        figures = storage.bench_aggregate(args.database_url, args.texts)
        figures = {"run": "aggregate", **figures, "texts_per_s": figures["seed_mentions_per_s"]}
    return [raw, with_ratio(figures, raw)]
