"""``@serve.batch`` plumbing shared by the model deployments.

Callers send chunks of at most ``TEXTS_PER_CALL`` texts; a batch is cut at
``max_batch_size`` texts (``batch_size_fn`` counts texts, not calls) and runs in a worker
thread so the replica's event loop keeps accepting requests while torch computes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence

import numpy as np
from ray import serve

from serve_app.config import BatchConfig
from serve_app.metrics import ModelMetrics


def count_texts(chunks: Sequence[Sequence[str]]) -> int:
    return sum(len(chunk) for chunk in chunks)


class BatchedModel:
    metrics: ModelMetrics

    def compute(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def reconfigure(self, user_config: dict | None) -> None:
        config = BatchConfig.model_validate(user_config or {})
        self.run.set_max_batch_size(config.max_batch_size)
        self.run.set_batch_wait_timeout_s(config.batch_wait_timeout_s)
        self.batch_config = config

    def batch_settings(self) -> dict:
        """What the running batcher uses now, and which process (user_config needs no restart)."""
        return {
            "pid": os.getpid(),
            # Serve exposes the batcher's live values only through these private getters.
            "max_batch_size": self.run._get_max_batch_size(),
            "batch_wait_timeout_s": self.run._get_batch_wait_timeout_s(),
        }

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005, batch_size_fn=count_texts)
    async def run(self, chunks: list[list[str]]) -> list[np.ndarray]:
        texts = [text for chunk in chunks for text in chunk]
        started = time.perf_counter()
        values = await asyncio.to_thread(self.compute, texts)
        self.metrics.observe(len(texts), time.perf_counter() - started)
        out, start = [], 0
        for chunk in chunks:
            out.append(values[start : start + len(chunk)])
            start += len(chunk)
        return out
