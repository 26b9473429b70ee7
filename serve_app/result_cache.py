"""Model-output cache in front of the model deployments: per-replica LRU or shared Redis.

Keys are the model versions plus the text's SHA-256, so a model change never serves stale
results. Values are the raw model outputs (emotion probabilities and the embedding);
sentiment and topics are recomputed from them, so a topic-file change needs no flush.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from inference.cache import LRUCache
from inference.interfaces import ModelOutputs


class ResultCache(Protocol):
    def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]: ...

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

    def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]:
        return [self.lru.get(k) for k in keys]

    def put_many(self, items: dict[str, ModelOutputs]) -> None:
        for key, value in items.items():
            self.lru.put(key, value)


class RedisResultCache:
    """Shared by every gateway replica; an unreachable Redis degrades to no caching."""

    PREFIX = "moodwire:outputs:"

    def __init__(self, url: str, ttl_s: int) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.ttl_s = ttl_s

    def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]:
        import redis

        if not keys:
            return []
        try:
            raw = self.client.mget([self.PREFIX + k for k in keys])
        except redis.RedisError:
            return [None] * len(keys)
        return [decode(r) if r is not None else None for r in raw]

    def put_many(self, items: dict[str, ModelOutputs]) -> None:
        import redis

        if not items:
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(self.PREFIX + key, encode(value), ex=self.ttl_s)
                pipe.execute()
        except redis.RedisError:
            pass


class NoResultCache:
    def get_many(self, keys: Sequence[str]) -> list[ModelOutputs | None]:
        return [None] * len(keys)

    def put_many(self, items: dict[str, ModelOutputs]) -> None:
        pass


def build_result_cache(kind: str, *, capacity: int, redis_url: str, ttl_s: int) -> ResultCache:
    if kind == "redis":
        return RedisResultCache(redis_url, ttl_s)
    if kind == "none" or capacity == 0:
        return NoResultCache()
    return MemoryResultCache(capacity)
