"""EmotionModel and EmbeddingModel: load once per replica, batched forward passes."""

from __future__ import annotations

import numpy as np
from ray import serve

from serve_app.deployments.batched import BatchedModel
from serve_app.metrics import ModelMetrics


def replica_threads(spec):
    """The spec with torch threads set to this replica's CPUs (rounded, at least 1).

    Left at "every core", the two model replicas of a 2-CPU machine would each run 2 threads
    on the same 2 cores; OpenMP threads then spin-wait on each other and both slow down by
    several times. An explicit ``threads`` in the spec wins.
    """
    import ray

    if spec.threads is not None:
        return spec
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    return spec.model_copy(update={"threads": max(1, round(cpus))})


def replica_embedding(settings):
    """Embedding settings with the local model's threads fitted to this replica."""
    return settings.model_copy(update={"local": replica_threads(settings.local)})


@serve.deployment(
    name="EmotionModel",
    ray_actor_options={"num_cpus": 0.5},
    max_ongoing_requests=128,
    max_queued_requests=1024,
    user_config={"max_batch_size": 64, "batch_wait_timeout_s": 0.005},
)
class EmotionModel(BatchedModel):
    def __init__(self, spec: dict) -> None:
        from inference.emotion import EmotionClassifier
        from inference.settings import EmotionModelSpec

        self.model = EmotionClassifier.from_spec(replica_threads(EmotionModelSpec.model_validate(spec)))
        self.metrics = ModelMetrics("emotion")

    def compute(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(texts)

    def info(self) -> dict:
        return {"labels": self.model.labels, "version": self.model.version}


@serve.deployment(
    name="EmbeddingModel",
    ray_actor_options={"num_cpus": 0.5},
    max_ongoing_requests=128,
    max_queued_requests=1024,
    user_config={"max_batch_size": 64, "batch_wait_timeout_s": 0.005},
)
class EmbeddingModel(BatchedModel):
    def __init__(self, settings: dict) -> None:
        from inference.embedding import build_embedder
        from inference.settings import EmbeddingSettings

        self.embedder = build_embedder(replica_embedding(EmbeddingSettings.model_validate(settings)))
        self.tokenizer = getattr(self.embedder, "tokenizer", None)
        self.metrics = ModelMetrics("embedding")

    def compute(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def info(self) -> dict:
        return {"dim": self.embedder.dim, "version": self.embedder.version}

    def count_tokens(self, texts: list[str]) -> int:
        """Token usage for the OpenAI-compatible response (special tokens included)."""
        from serve_app.model_clients import token_count

        return token_count(self.tokenizer, texts)
