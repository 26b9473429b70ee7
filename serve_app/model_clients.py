"""How the Gateway reaches the models: in its own replica, or in separate deployments.

``model_layout: colocated`` (small CPU machines): every Gateway replica holds a
``ModelHost`` with both models behind one ``HostBatcher``. On 2 cores the handle calls, the
router and the model replicas' request handling cost more CPU per single-text request than
the models' own arithmetic (docs/PERFORMANCE.md), and colocating removes all of them.
``model_layout: deployments`` (GPUs, clusters): EmotionModel and EmbeddingModel, each a
host with one model, scale on their own; texts travel to them through deployment handles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from ray import serve
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from serve_app.batcher import HostBatcher, chunks, count_texts
from serve_app.config import TEXTS_PER_CALL
from serve_app.errors import ServiceBusyError
from serve_app.model_host import HostOutputs, ModelInfo

COALESCE_MAX_TEXTS = 64  # texts of concurrent small requests sent to the model deployments together


class ModelClient(Protocol):
    async def info(self) -> ModelInfo: ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(emotion probabilities, embeddings)`` with one row per text."""

    async def embeddings(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors, token counts)`` of the embedding model alone (``/v1/embeddings``)."""


class ColocatedModels:
    """Both models in this replica, behind one batcher with a queue bound."""

    def __init__(self, batcher: HostBatcher) -> None:
        self.batcher = batcher
        self.host = batcher.host

    async def info(self) -> ModelInfo:
        return self.host.info()

    async def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        result = await self.batcher.run(texts)
        return result.probs, result.vectors

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.host.embed, list(texts))

    async def embeddings(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        result = await self.batcher.run(texts, embedding_only=True)
        return result.vectors, result.tokens


class RemoteModels:
    """The model deployments through handles; concurrent small requests share calls."""

    def __init__(self, emotion: DeploymentHandle, embedding: DeploymentHandle) -> None:
        self.emotion, self.embedding = emotion, embedding

    async def info(self) -> ModelInfo:
        emotion, embedding = await asyncio.gather(self.emotion.info.remote(), self.embedding.info.remote())
        return emotion.merged(embedding)

    async def _call(self, handle: DeploymentHandle, texts: Sequence[str]) -> HostOutputs:
        try:
            parts = await asyncio.gather(*(handle.run.remote(list(chunk)) for chunk in chunks(texts)))
        except BackPressureError:
            raise ServiceBusyError("the models are at capacity; retry after a moment") from None
        return HostOutputs.concat(parts)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return (await self._call(self.embedding, texts)).vectors

    async def _both(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        emotion, embedding = await asyncio.gather(self._call(self.emotion, texts), self._call(self.embedding, texts))
        return emotion.probs, embedding.vectors

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
        both = HostOutputs(probs=probs, vectors=vectors).split([len(group) for group in groups])
        return [(part.probs, part.vectors) for part in both]

    async def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(texts) <= TEXTS_PER_CALL:
            return await self._coalesced(list(texts))
        return await self._both(texts)

    async def embeddings(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        result = await self._call(self.embedding, texts)  # the EmbeddingModel holds the embedder only
        return result.vectors, result.tokens
