"""``HostBatcher``: Serve's ``@serve.batch`` in front of a ``ModelHost``, with an optional queue bound.

Callers send texts; they are cut into chunks of at most ``TEXTS_PER_CALL``, a batch closes
at ``max_batch_size`` texts (``batch_size_fn`` counts texts, not calls) or after
``batch_wait_timeout_s``, and runs in a worker thread so the replica's event loop keeps
accepting requests while the models compute. The same class batches for the colocated
Gateway and for the EmotionModel and EmbeddingModel deployments; their ``user_config``
changes its knobs live. Needs no running Ray: ``@serve.batch`` is plain asyncio.

Serve keeps one batch queue per decorated method, so a process holds one ``HostBatcher``
(a replica process holds one of these deployments).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from ray import serve

from serve_app.config import DEFAULT_BATCH_WAIT_S, DEFAULT_MAX_BATCH_SIZE, TEXTS_PER_CALL, BatchConfig
from serve_app.errors import ServiceBusyError
from serve_app.model_host import HostOutputs, ModelHost


def count_texts(chunks: Sequence[Sequence[str]]) -> int:
    return sum(len(chunk) for chunk in chunks)


def chunks(items: Sequence, size: int = TEXTS_PER_CALL) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class HostBatcher:
    def __init__(self, host: ModelHost, config: BatchConfig | None = None) -> None:
        self.host = host
        self.queued_texts = 0
        self._long_slot: asyncio.Semaphore | None = None
        self.configure(config or BatchConfig())

    def configure(self, config: BatchConfig) -> None:
        """Batching (and, for the colocated Gateway, the queue bound), changeable while serving."""
        for lane in (self._batch, self._embedding_batch):
            lane.set_max_batch_size(config.max_batch_size)
            lane.set_batch_wait_timeout_s(config.batch_wait_timeout_s)
        self.config = config

    @property
    def max_queued_texts(self) -> int | None:
        return getattr(self.config, "max_queued_texts", None)

    def batch_settings(self) -> dict:
        settings = {
            # Serve exposes the batcher's live values only through these private getters.
            "max_batch_size": self._batch._get_max_batch_size(),
            "batch_wait_timeout_s": self._batch._get_batch_wait_timeout_s(),
        }
        if self.max_queued_texts is not None:
            settings["max_queued_texts"] = self.max_queued_texts
        return settings

    @serve.batch(
        max_batch_size=DEFAULT_MAX_BATCH_SIZE, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_S, batch_size_fn=count_texts
    )
    async def _batch(self, groups: list[list[str]]) -> list[HostOutputs]:
        return await self._compute_groups(groups, embedding_only=False)

    @serve.batch(
        max_batch_size=DEFAULT_MAX_BATCH_SIZE, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_S, batch_size_fn=count_texts
    )
    async def _embedding_batch(self, groups: list[list[str]]) -> list[HostOutputs]:
        """The embeddings lane: ``/v1/embeddings`` batches of the embedder alone."""
        return await self._compute_groups(groups, embedding_only=True)

    async def _compute_groups(self, groups: list[list[str]], *, embedding_only: bool) -> list[HostOutputs]:
        """One model call over every caller's texts of a batch, in a worker thread, cut back
        into one block per caller."""
        texts = [text for group in groups for text in group]
        outputs = await asyncio.to_thread(self.host.compute, texts, embedding_only=embedding_only)
        return outputs.split([len(group) for group in groups])

    async def _long(self, text: str, embedding_only: bool) -> HostOutputs:
        """The long lane: one long text at a time in its own worker thread, beside the batches,
        so its many windows never hold up the short texts batched meanwhile. Its outputs are
        the host's for that text, exactly as in a batch (windows are batched by length either way)."""
        if self._long_slot is None:
            self._long_slot = asyncio.Semaphore(1)
        async with self._long_slot:
            return await asyncio.to_thread(self.host.compute, [text], embedding_only=embedding_only)

    async def run(self, texts: Sequence[str], *, embedding_only: bool = False) -> HostOutputs:
        """The host's outputs for ``texts`` in order (the embedder's alone with
        ``embedding_only``); texts over ``long_text_chars`` take the long lane. Past the queue
        bound, ``ServiceBusyError`` (503)."""
        bound = self.max_queued_texts
        if bound is not None and self.queued_texts and self.queued_texts + len(texts) > bound:
            raise ServiceBusyError("the models are at capacity; retry after a moment")
        limit = self.config.long_text_chars
        is_long = [bool(limit) and len(text) > limit for text in texts]
        long = [i for i, flag in enumerate(is_long) if flag]
        short = [i for i, flag in enumerate(is_long) if not flag]
        lane = self._embedding_batch if embedding_only else self._batch
        self.queued_texts += len(texts)
        try:
            parts = await asyncio.gather(
                *(lane([texts[i] for i in chunk]) for chunk in chunks(short)),
                *(self._long(texts[i], embedding_only) for i in long),
            )
        finally:
            self.queued_texts -= len(texts)
        combined = HostOutputs.concat(parts)
        if not long:
            return combined
        return combined.rows_in(np.argsort(np.asarray(short + long)))
