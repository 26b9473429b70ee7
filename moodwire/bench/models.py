"""``raw`` (the physical limit) and ``naive`` (the old per-text pipeline) on the same texts."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import torch
from tqdm import tqdm

from inference.batching import pad_batch, segment_texts
from inference.settings import PipelineSettings

RAW_BATCH_SIZE = 64


@dataclass
class LoadedModels:
    """The models as the pipeline loads them (``inference.shared_encoder.load_models``): the
    emotion model and the embedder, and the shared pass when the two share one."""

    emotion: object  # EmotionClassifier
    embedder: object  # LocalEmbedder
    shared: object | None = None  # SharedEncoder

    @classmethod
    def load(cls, settings: PipelineSettings) -> LoadedModels:
        from inference.shared_encoder import load_models

        if settings.embedding.backend != "local":
            raise ValueError("the raw benchmark needs the local embedding backend")
        models = load_models(settings)
        return cls(models.emotion, models.embedder, models.shared)


@torch.inference_mode()
def _plain_forward_seconds(loaded, texts: Sequence[str]) -> float:
    """Tokenise into windows, sort by length, run fixed-size padded batches; nothing else.

    ``loaded`` is an ``EmotionClassifier``, a ``LocalEmbedder`` or a ``SharedEncoder``: its
    model, tokenizer, window size and device, not its batching or pooling.
    """
    started = time.perf_counter()
    tokenizer, device = loaded.tokenizer, loaded.device
    segments = segment_texts(tokenizer, texts, max_tokens=loaded.max_tokens, overlap=loaded.spec.window_overlap)
    order = sorted(range(len(segments.input_ids)), key=lambda i: len(segments.input_ids[i]))
    for start in range(0, len(order), RAW_BATCH_SIZE):
        batch = [segments.input_ids[i] for i in order[start : start + RAW_BATCH_SIZE]]
        input_ids, attention_mask = pad_batch(batch, tokenizer.pad_token_id)
        loaded.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def _fake_seconds(model, texts: Sequence[str]) -> float:
    """A fake model (``source: fake``) has no forward pass to time: its own call is its raw."""
    started = time.perf_counter()
    if hasattr(model, "predict_proba"):
        model.predict_proba(texts)
    else:
        model.embed(texts)
    return time.perf_counter() - started


def _is_fake(model) -> bool:
    from inference.fake_models import FakeEmbedder, FakeEmotionModel

    return isinstance(model, FakeEmotionModel | FakeEmbedder)


def _seconds(model, texts: Sequence[str]) -> float:
    return _fake_seconds(model, texts) if _is_fake(model) else _plain_forward_seconds(model, texts)


def bench_raw(models: LoadedModels, texts: Sequence[str]) -> dict:
    """Both models' plain batched forward passes over every window of every text: the
    configured models (runtime and ``dtype: int8`` included), tokenisation counted, nothing
    else; for a fake model (``source: fake``), its own call."""
    emotion, embedder = models.emotion, models.embedder
    _seconds(emotion, texts[:64])  # warm-up
    # Best of two passes: the limit is what the machine can do, not what a noisy moment gave.
    emotion_s = min(_seconds(emotion, texts) for _ in range(2))
    embedding_s = min(_seconds(embedder, texts) for _ in range(2))
    seconds = emotion_s + embedding_s
    if models.shared is not None:  # both outputs from one pass: that pass is what a text costs
        _plain_forward_seconds(models.shared, texts[:64])
        seconds = min(_plain_forward_seconds(models.shared, texts) for _ in range(2))
    return {
        "run": "raw",
        "texts": len(texts),
        "seconds": round(seconds, 2),
        "texts_per_s": round(len(texts) / seconds, 1),
        "emotion_texts_per_s": round(len(texts) / emotion_s, 1),
        "embedding_texts_per_s": round(len(texts) / embedding_s, 1),
        "shared_pass": models.shared is not None,
        "batch_size": RAW_BATCH_SIZE,
        "threads": torch.get_num_threads(),
        "dtype": emotion.spec.dtype if emotion.spec is not None else "auto",
        "runtime": _runtime(emotion),
    }


def _runtime(emotion) -> str:
    if _is_fake(emotion):
        return "fake"
    return "onnxruntime" if type(emotion.model).__name__ == "OnnxEncoder" else "torch"


def naive_pipeline(models: LoadedModels, settings: PipelineSettings):
    """The shared pipeline over the loaded models, without a cache (the old system had none)."""
    from inference.pipeline import MentionPipeline

    return MentionPipeline.from_models(
        settings, emotion=models.emotion, embedder=models.embedder, cache_size=0, shared=models.shared
    )


def bench_naive(models: LoadedModels, settings: PipelineSettings, texts: Sequence[str], database_url: str) -> dict:
    """One text at a time through both models and post-processing, one database write each."""
    from storage.engine import create_database_engine
    from storage.records import MentionRecord
    from storage.service import AggregationService

    pipeline = naive_pipeline(models, settings)
    engine = create_database_engine(database_url)
    service = AggregationService(engine)
    start_time = datetime(2026, 11, 1, tzinfo=UTC)
    started = time.perf_counter()
    for i, text in enumerate(tqdm(texts, desc="naive", unit="text", file=sys.stderr, disable=None)):
        analysis = pipeline.analyse([text])[0]
        service.ingest(
            [
                MentionRecord(
                    text=text,
                    external_id=f"naive-{i}",
                    created_at=(start_time + timedelta(minutes=i)).isoformat(),
                    result=analysis.result,
                    embedding=analysis.embedding,
                    model_version=pipeline.model_version,
                )
            ]
        )
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "run": "naive",
        "texts": len(texts),
        "seconds": round(seconds, 2),
        "texts_per_s": round(len(texts) / seconds, 1),
        "ms_per_text": round(1000 * seconds / len(texts), 1),
    }
