"""``precision``: the CPU speed option (``dtype: int8``) against fp32, speed and quality."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from inference.settings import PipelineSettings, load_pipeline_settings


def with_dtype(settings: PipelineSettings, dtype: str) -> PipelineSettings:
    local = settings.embedding.local.model_copy(update={"dtype": dtype})
    return settings.model_copy(
        update={
            "emotion": settings.emotion.model_copy(update={"dtype": dtype}),
            "embedding": settings.embedding.model_copy(update={"local": local}),
        }
    )


def bench_precision(texts: list[str], goemotions: Path | None) -> list[dict]:
    """Raw throughput of both models in fp32 and int8 on the same texts, and the emotion
    model's GoEmotions dev macro-F1 in each (when the data set is given)."""
    from inference.quality import goemotions_macro_f1
    from moodwire.bench.models import LoadedModels, bench_raw

    base = load_pipeline_settings(None)
    runs = []
    for dtype in ("float32", "int8"):
        models = LoadedModels.load(with_dtype(base, dtype))
        figures = {**bench_raw(models, texts), "run": f"raw-{dtype}"}
        if goemotions is not None:
            print(f"bench precision: GoEmotions dev with {dtype}", file=sys.stderr)
            figures["goemotions_dev_macro_f1"] = round(goemotions_macro_f1(models.emotion, goemotions), 4)
        runs.append(figures)
        del models
        gc.collect()
    fp32, int8 = runs
    int8["speedup_vs_fp32"] = round(int8["texts_per_s"] / fp32["texts_per_s"], 2)
    if goemotions is not None:
        int8["f1_points_lost"] = round(100 * (fp32["goemotions_dev_macro_f1"] - int8["goemotions_dev_macro_f1"]), 2)
    return runs
