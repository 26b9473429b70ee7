"""The shared result cache against the real Redis on this machine, and against a private
``redis-server`` that is paused (``CLIENT PAUSE``), stopped and started again."""

import asyncio
import logging
import time
import uuid

import numpy as np
import redis

from inference.interfaces import ModelOutputs
from serve_app.result_cache import MemoryResultCache, RedisResultCache, decode, encode
from tests.integration.serving import free_port, private_redis


def outputs(seed: int) -> ModelOutputs:
    rng = np.random.default_rng(seed)
    return ModelOutputs(emotion_probs=rng.random(7).astype(np.float32), embedding=rng.random(384).astype(np.float32))


async def settle(cache: RedisResultCache) -> None:
    """Wait for the cache's background writes."""
    while cache.pending:
        await asyncio.gather(*cache.pending, return_exceptions=True)


def test_encoding_round_trip():
    value = outputs(1)
    back = decode(encode(value))
    np.testing.assert_array_equal(back.emotion_probs, value.emotion_probs)
    np.testing.assert_array_equal(back.embedding, value.embedding)


def test_redis_cache_is_shared_between_instances():
    prefix = uuid.uuid4().hex

    async def scenario():
        first = RedisResultCache("redis://127.0.0.1:6379/0", ttl_s=60)
        second = RedisResultCache("redis://127.0.0.1:6379/0", ttl_s=60)
        first.put_many({f"{prefix}:a": outputs(1), f"{prefix}:b": outputs(2)})
        await settle(first)
        return await second.get_many([f"{prefix}:a", f"{prefix}:missing", f"{prefix}:b"])

    got = asyncio.run(scenario())
    assert got[1] is None
    np.testing.assert_array_equal(got[0].embedding, outputs(1).embedding)
    np.testing.assert_array_equal(got[2].emotion_probs, outputs(2).emotion_probs)
    assert 0 < redis.Redis(port=6379).ttl(RedisResultCache.PREFIX + f"{prefix}:a") <= 60


def test_memory_cache_evicts_least_recent():
    async def scenario():
        cache = MemoryResultCache(2)
        cache.put_many({"a": outputs(1), "b": outputs(2)})
        await cache.get_many(["a"])
        cache.put_many({"c": outputs(3)})
        return await cache.get_many(["a", "b", "c"])

    assert [v is not None for v in asyncio.run(scenario())] == [True, False, True]


def test_unreachable_redis_costs_at_most_its_timeout_then_is_skipped(caplog):
    skipped = []

    async def scenario():
        cache = RedisResultCache(f"redis://127.0.0.1:{free_port()}/0", ttl_s=60, on_skip=skipped.append)
        cache.put_many({"k": outputs(1)})  # not even tried: nothing is known yet, so it is sent and fails
        await settle(cache)
        started = time.perf_counter()
        answers = [await cache.get_many(["k", "l"]) for _ in range(50)]
        return answers, time.perf_counter() - started

    with caplog.at_level(logging.WARNING, logger="moodwire.result_cache"):
        answers, seconds = asyncio.run(scenario())
    assert all(a == [None, None] for a in answers)
    assert seconds < 1.0  # 50 lookups, none waiting on the dead server
    assert sum(skipped) == 100
    assert len([r for r in caplog.records if "unavailable" in r.message]) == 1  # said once, not per lookup


def test_a_paused_then_stopped_redis_never_stalls_the_loop_and_the_cache_returns(caplog):
    """``CLIENT PAUSE`` hangs every command; a stopped server refuses them. Either way a
    lookup answers within the timeout, the others skip Redis, and once Redis is back
    (after ``retry_s``) values are written and read again."""
    with private_redis() as (port, process, admin):
        skipped = []

        async def scenario():
            cache = RedisResultCache(f"redis://127.0.0.1:{port}/0", ttl_s=60, retry_s=0.5, on_skip=skipped.append)
            cache.put_many({"a": outputs(1)})
            await settle(cache)
            assert (await cache.get_many(["a"]))[0] is not None  # warm

            admin.execute_command("CLIENT", "PAUSE", "3000", "ALL")
            ticks = []

            async def ticker():  # the event loop must keep turning while Redis hangs
                while True:
                    ticks.append(time.perf_counter())
                    await asyncio.sleep(0.01)

            beat = asyncio.create_task(ticker())
            slowest = 0.0
            for _ in range(40):
                started = time.perf_counter()
                assert await cache.get_many(["a"]) == [None]
                slowest = max(slowest, time.perf_counter() - started)
                await asyncio.sleep(0.02)
            beat.cancel()
            gaps = np.diff(ticks)
            paused = (slowest, float(gaps.max()), sum(skipped))

            admin.execute_command("CLIENT", "UNPAUSE")
            await asyncio.sleep(0.6)  # past retry_s
            back = await cache.get_many(["a"])
            return paused, back

        with caplog.at_level(logging.WARNING, logger="moodwire.result_cache"):
            (slowest, widest_gap, skipped_while_paused), back = asyncio.run(scenario())
        assert slowest < 0.5 and widest_gap < 0.3
        assert skipped_while_paused == 40
        assert back[0] is not None
        messages = [r.message for r in caplog.records]
        assert sum("unavailable" in m for m in messages) >= 1 and any("back" in m for m in messages)

        process.kill()
        process.wait()

        async def stopped():
            cache = RedisResultCache(f"redis://127.0.0.1:{port}/0", ttl_s=60)
            started = time.perf_counter()
            answers = [await cache.get_many(["a"]) for _ in range(20)]
            return answers, time.perf_counter() - started

        answers, seconds = asyncio.run(stopped())
        assert all(a == [None] for a in answers) and seconds < 1.0
