"""The shared result cache against the real Redis on this machine."""

import uuid

import numpy as np

from inference.interfaces import ModelOutputs
from serve_app.result_cache import MemoryResultCache, RedisResultCache, decode, encode


def outputs(seed: int) -> ModelOutputs:
    rng = np.random.default_rng(seed)
    return ModelOutputs(emotion_probs=rng.random(7).astype(np.float32), embedding=rng.random(384).astype(np.float32))


def test_encoding_round_trip():
    value = outputs(1)
    back = decode(encode(value))
    np.testing.assert_array_equal(back.emotion_probs, value.emotion_probs)
    np.testing.assert_array_equal(back.embedding, value.embedding)


def test_redis_cache_is_shared_between_instances():
    prefix = uuid.uuid4().hex
    first = RedisResultCache("redis://127.0.0.1:6379/0", ttl_s=60)
    second = RedisResultCache("redis://127.0.0.1:6379/0", ttl_s=60)
    first.put_many({f"{prefix}:a": outputs(1), f"{prefix}:b": outputs(2)})
    got = second.get_many([f"{prefix}:a", f"{prefix}:missing", f"{prefix}:b"])
    assert got[1] is None
    np.testing.assert_array_equal(got[0].embedding, outputs(1).embedding)
    np.testing.assert_array_equal(got[2].emotion_probs, outputs(2).emotion_probs)
    assert 0 < first.client.ttl(RedisResultCache.PREFIX + f"{prefix}:a") <= 60


def test_unreachable_redis_degrades_to_misses():
    cache = RedisResultCache("redis://127.0.0.1:1/0", ttl_s=60)
    cache.put_many({"k": outputs(1)})
    assert cache.get_many(["k"]) == [None]


def test_memory_cache_evicts_least_recent():
    cache = MemoryResultCache(2)
    cache.put_many({"a": outputs(1), "b": outputs(2)})
    cache.get_many(["a"])
    cache.put_many({"c": outputs(3)})
    assert [v is not None for v in cache.get_many(["a", "b", "c"])] == [True, False, True]
