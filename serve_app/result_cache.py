"""Model-output cache in front of the model deployments: per-replica LRU or shared Redis.

Keys are the model versions plus the text's SHA-256, so a model change never serves stale
results. Values are the raw model outputs (emotion probabilities and the embedding);
sentiment and topics are recomputed from them, so a topic-file change needs no flush.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from redis.exceptions import RedisError

from inference.cache import LRUCache
from inference.interfaces import ModelOutputs

logger = logging.getLogger("moodwire.result_cache")


class ResultCache(Protocol):
    """Looked up on the Gateway's event loop: ``get_many`` must return within milliseconds
    whatever the backend does; ``put_many`` must not wait at all."""

    async def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]: ...

    def put_many(self, items: dict[str, ModelOutputs]) -> None: ...


def encode(outputs: ModelOutputs) -> bytes:
    probs = np.asarray(outputs.emotion_probs, dtype="<f4")
    return struct.pack("<I", probs.size) + probs.tobytes() + np.asarray(outputs.embedding, dtype="<f4").tobytes()


def decode(raw: bytes) -> ModelOutputs:
    (count,) = struct.unpack_from("<I", raw)
    values = np.frombuffer(raw, dtype="<f4", offset=4)
    return ModelOutputs(emotion_probs=values[:count].copy(), embedding=values[count:].copy())


class MemoryResultCache:
    def __init__(self, capacity: int) -> None:
        self.lru: LRUCache[ModelOutputs] = LRUCache(capacity)

    async def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]:
        return [self.lru.get(k) for k in keys]

    def put_many(self, items: dict[str, ModelOutputs]) -> None:
        for key, value in items.items():
            self.lru.put(key, value)


class RedisResultCache:
    """Shared by every Gateway replica; a Redis that is down, slow or paused never slows a
    request by more than ``timeout_s``.

    The client is ``redis.asyncio``: the Gateway's routes run on the replica's event loop, and
    a blocking client there (as before) stopped every request while Redis hung. A lookup
    that fails or times out marks Redis unavailable for ``retry_s``: lookups in that time
    are skipped (counted by ``on_skip``), the log says so once, and the first lookup after
    it tries Redis again. Writes are sent in the background, at most ``max_pending_writes``
    at a time (more are dropped: a cache may forget).
    """

    PREFIX = "moodwire:outputs:"

    def __init__(
        self,
        url: str,
        ttl_s: int,
        *,
        timeout_s: float = 0.1,
        retry_s: float = 2.0,
        max_pending_writes: int = 64,
        on_skip: Callable[[int], None] | None = None,
    ) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.max_pending_writes = max_pending_writes
        self.on_skip = on_skip
        self.down_until = 0.0  # monotonic time before which Redis is not asked
        self.pending: set[asyncio.Task] = set()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self.down_until

    async def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]:
        if not keys:
            return []
        if not self.available:
            self._skipped(len(keys))
            return [None] * len(keys)
        try:
            raw = await asyncio.wait_for(self.client.mget([self.PREFIX + k for k in keys]), self.timeout_s)
        except (OSError, TimeoutError, RedisError) as exc:
            self._failed(exc)
            self._skipped(len(keys))
            return [None] * len(keys)
        self._recovered()
        return [decode(r) if r is not None else None for r in raw]

    def put_many(self, items: dict[str, ModelOutputs]) -> None:
        if not items or not self.available or len(self.pending) >= self.max_pending_writes:
            return
        task = asyncio.get_running_loop().create_task(self._write(items))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _write(self, items: dict[str, ModelOutputs]) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(self.PREFIX + key, encode(value), ex=self.ttl_s)
                await asyncio.wait_for(pipe.execute(), self.timeout_s)
        except (OSError, TimeoutError, RedisError) as exc:
            self._failed(exc)

    def _skipped(self, count: int) -> None:
        if self.on_skip is not None:
            self.on_skip(count)

    def _failed(self, exc: BaseException) -> None:
        if self.down_until == 0.0:
            logger.warning(
                "result cache: Redis unavailable (%s); answering without the cache, trying again every %.0f s",
                type(exc).__name__,
                self.retry_s,
            )
        self.down_until = time.monotonic() + self.retry_s

    def _recovered(self) -> None:
        if self.down_until != 0.0:
            logger.warning("result cache: Redis is back; using the cache again")
            self.down_until = 0.0


class NoResultCache:
    async def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]:
        return [None] * len(keys)

    def put_many(self, items: dict[str, ModelOutputs]) -> None:
        pass


def build_result_cache(
    kind: str, *, capacity: int, redis_url: str, ttl_s: int, on_skip: Callable[[int], None] | None = None
) -> ResultCache:
    """``on_skip(n)``: n lookups answered without the cache because Redis was unavailable."""
    if kind == "redis":
        return RedisResultCache(redis_url, ttl_s, on_skip=on_skip)
    if kind == "none" or capacity == 0:
        return NoResultCache()
    return MemoryResultCache(capacity)
