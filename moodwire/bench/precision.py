"""``precision``: the CPU speed options against torch fp32, speed and quality."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from inference.settings import PipelineSettings, load_pipeline_settings

SIMILARITY_SAMPLE = 500  # texts whose embeddings are compared with fp32's
# (run name, runtime, dtype); the first is the baseline the others are compared with.
VARIANTS = (
    ("raw-float32", "torch", "float32"),
    ("raw-int8", "torch", "int8"),
    ("raw-onnxruntime-float32", "onnxruntime", "float32"),
    ("raw-onnxruntime-int8", "onnxruntime", "int8"),
)


def with_precision(settings: PipelineSettings, dtype: str, runtime: str = "torch") -> PipelineSettings:
    """Both local models switched to ``runtime``/``dtype``, everything else as configured."""
    change = {"dtype": dtype, "runtime": runtime}
    local = settings.embedding.local.model_copy(update=change)
    return settings.model_copy(
        update={
            "emotion": settings.emotion.model_copy(update=change),
            "embedding": settings.embedding.model_copy(update={"local": local}),
        }
    )


def bench_precision(texts: list[str], goemotions: Path | None) -> list[dict]:
    """Raw throughput of both models in each variant on the same texts, and the emotion
    model's GoEmotions dev macro-F1 in each (when the data set is given). The headline
    (last) run is ONNX Runtime int8, the fastest option."""
    from moodwire.bench.models import LoadedModels, bench_raw
    from training.quality import goemotions_macro_f1

    base = load_pipeline_settings(None)
    runs = []
    sample = texts[:SIMILARITY_SAMPLE]
    reference = None
    for name, runtime, dtype in VARIANTS:
        print(f"bench precision: {name}", file=sys.stderr)
        models = LoadedModels.load(with_precision(base, dtype, runtime))
        figures = {**bench_raw(models, texts), "run": name, "runtime": runtime, "dtype": dtype}
        vectors = models.embedder.embed(sample)
        if reference is None:
            reference = vectors
        # Topic scores are cosine similarities, so this says how far topics can move.
        cosine = (vectors * reference).sum(axis=1)  # both L2-normalised
        figures["embedding_cosine_to_fp32"] = {
            "mean": round(float(cosine.mean()), 4),
            "min": round(float(cosine.min()), 4),
        }
        if goemotions is not None:
            print(f"bench precision: GoEmotions dev with {name}", file=sys.stderr)
            figures["goemotions_dev_macro_f1"] = round(goemotions_macro_f1(models.emotion, goemotions), 4)
        runs.append(figures)
        del models
        gc.collect()
    baseline = runs[0]
    for figures in runs[1:]:
        figures["speedup_vs_fp32"] = round(figures["texts_per_s"] / baseline["texts_per_s"], 2)
        if goemotions is not None:
            lost = baseline["goemotions_dev_macro_f1"] - figures["goemotions_dev_macro_f1"]
            figures["f1_points_lost"] = round(100 * lost, 2)
    return runs
