"""How the Gateway reaches the models: separate deployments, or colocated in its replica.

``model_layout: deployments`` (GPUs, clusters): EmotionModel and EmbeddingModel scale on
their own; each request's texts travel to them through deployment handles.
``model_layout: colocated`` (small CPU machines): every Gateway replica runs both models
itself behind one ``@serve.batch``. On 2 cores the handle calls, the router and the model
replicas' request handling cost more CPU per single-text request than the models' own
arithmetic (docs/PERFORMANCE.md), and colocating removes all of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from ray import serve
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from serve_app.config import TEXTS_PER_CALL, ColocatedBatchConfig
from serve_app.deployments.batched import count_texts
from serve_app.errors import ServiceBusyError

COALESCE_MAX_TEXTS = 64  # texts of concurrent small requests sent to the model deployments together


def chunks(items: Sequence, size: int = TEXTS_PER_CALL) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def split_rows(values: np.ndarray, groups: Sequence[Sequence]) -> list[np.ndarray]:
    """``values`` cut back into one block of rows per group, in order."""
    out, start = [], 0
    for group in groups:
        out.append(values[start : start + len(group)])
        start += len(group)
    return out


def token_count(tokenizer, texts: Sequence[str]) -> int:
    """Token usage for the OpenAI-compatible response (special tokens included)."""
    if tokenizer is None:
        return sum(len(t) // 4 + 1 for t in texts)
    return sum(len(ids) for ids in tokenizer(list(texts), verbose=False)["input_ids"])


class ModelClient(Protocol):
    async def info(self) -> tuple[dict, dict]:
        """``(emotion info, embedding info)``: labels, versions, embedding dim."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(emotion probabilities, embeddings)`` with one row per text."""

    async def count_tokens(self, texts: Sequence[str]) -> int: ...


class RemoteModels:
    """The model deployments through handles; concurrent small requests share calls."""

    def __init__(self, emotion: DeploymentHandle, embedding: DeploymentHandle) -> None:
        self.emotion, self.embedding = emotion, embedding

    async def info(self) -> tuple[dict, dict]:
        emotion, embedding = await asyncio.gather(self.emotion.info.remote(), self.embedding.info.remote())
        return emotion, embedding

    async def _call(self, handle: DeploymentHandle, texts: Sequence[str]) -> np.ndarray:
        try:
            parts = await asyncio.gather(*(handle.run.remote(list(chunk)) for chunk in chunks(texts)))
        except BackPressureError:
            # Serve would turn this into a bare-text 503 itself; ours carries Retry-After and JSON.
            raise ServiceBusyError("the models are at capacity; retry after a moment") from None
        return np.vstack(parts)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await self._call(self.embedding, texts)

    async def _both(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return await asyncio.gather(self._call(self.emotion, texts), self._call(self.embedding, texts))

    @serve.batch(
        max_batch_size=COALESCE_MAX_TEXTS,
        batch_wait_timeout_s=0.002,
        batch_size_fn=count_texts,
        max_concurrent_batches=4,
    )
    async def _coalesced(self, groups: list[list[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The texts of concurrent small requests, sent to the models in shared calls.

        Two handle calls per single-text request cost the gateway more CPU than the models
        spend on a short text; coalescing them for up to 2 ms turns 16 concurrent requests
        into one pair of calls.
        """
        probs, vectors = await self._both([text for group in groups for text in group])
        return list(zip(split_rows(probs, groups), split_rows(vectors, groups), strict=True))

    async def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(texts) <= TEXTS_PER_CALL:
            return await self._coalesced(list(texts))
        return await self._both(texts)

    async def count_tokens(self, texts: Sequence[str]) -> int:
        return await self.embedding.count_tokens.remote(list(texts))


class ColocatedModels:
    """Both models in this replica: one batcher, one worker thread, no handle calls.

    Torch (or ONNX Runtime) threads follow the replica's CPUs, so two colocated Gateway
    replicas of 1 CPU each keep two cores busy without oversubscribing them.
    """

    def __init__(self, pipeline_settings) -> None:
        from inference.embedding import build_embedder
        from inference.emotion import EmotionClassifier
        from serve_app.deployments.models import replica_embedding, replica_threads
        from serve_app.metrics import ModelMetrics

        self.emotion = EmotionClassifier.from_spec(replica_threads(pipeline_settings.emotion))
        self.embedder = build_embedder(replica_embedding(pipeline_settings.embedding))
        self.metrics = {"emotion": ModelMetrics("emotion"), "embedding": ModelMetrics("embedding")}
        self.queued_texts = 0
        self.configure(ColocatedBatchConfig())

    def configure(self, config: ColocatedBatchConfig) -> None:
        """Batching and queue bound, changeable while serving (the Gateway's ``user_config``)."""
        self._batch.set_max_batch_size(config.max_batch_size)
        self._batch.set_batch_wait_timeout_s(config.batch_wait_timeout_s)
        self.config = config

    def batch_settings(self) -> dict:
        return {
            # Serve exposes the batcher's live values only through these private getters.
            "max_batch_size": self._batch._get_max_batch_size(),
            "batch_wait_timeout_s": self._batch._get_batch_wait_timeout_s(),
            "max_queued_texts": self.config.max_queued_texts,
        }

    async def info(self) -> tuple[dict, dict]:
        emotion = {"labels": self.emotion.labels, "version": self.emotion.version}
        return emotion, {"dim": self.embedder.dim, "version": self.embedder.version}

    def _compute(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        started = time.perf_counter()
        probs = self.emotion.predict_proba(texts)
        middle = time.perf_counter()
        vectors = self.embedder.embed(texts)
        self.metrics["emotion"].observe(len(texts), middle - started)
        self.metrics["embedding"].observe(len(texts), time.perf_counter() - middle)
        return probs, vectors

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005, batch_size_fn=count_texts)
    async def _batch(self, groups: list[list[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        probs, vectors = await asyncio.to_thread(self._compute, [text for group in groups for text in group])
        return list(zip(split_rows(probs, groups), split_rows(vectors, groups), strict=True))

    async def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Refused with 503 when the queue is full: a bounded wait beats an unbounded one."""
        if self.queued_texts and self.queued_texts + len(texts) > self.config.max_queued_texts:
            raise ServiceBusyError("the models are at capacity; retry after a moment")
        self.queued_texts += len(texts)
        try:
            parts = await asyncio.gather(*(self._batch(list(chunk)) for chunk in chunks(texts)))
        finally:
            self.queued_texts -= len(texts)
        return np.vstack([p for p, _ in parts]), np.vstack([v for _, v in parts])

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embedder.embed, list(texts))

    async def count_tokens(self, texts: Sequence[str]) -> int:
        # Off the event loop: tokenising 2,048 inputs would stall every other request.
        return await asyncio.to_thread(token_count, getattr(self.embedder, "tokenizer", None), texts)
