"""Closed-loop HTTP load generator, run as its own process (``python -m moodwire.bench.loadgen``).

Reads one JSON job on stdin: ``url``, ``concurrency``, ``duration``, ``warmup``, ``mode``
(``single``, ``batch``, ``persist`` or ``embeddings``: single texts to ``/v1/embeddings``),
``batch_size``, ``texts``, ``api_key``. Each client
sends its next request as soon as the previous one answers; requests finished during the
warm-up are not counted. Prints one JSON object with throughput and latency percentiles.

The client is aiohttp (a Ray dependency already): on a 2-core machine the load generator
shares the cores with the app, and aiohttp spends less CPU per request than httpx did.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
import uuid

import aiohttp
import numpy as np


def _body(mode: str, texts: list[str], run_id: str, counter: itertools.count) -> dict:
    if mode == "embeddings":
        return {"input": texts[0], "model": "default"}
    if mode == "persist":
        return {
            "items": [{"text": t, "external_id": f"{run_id}-{next(counter)}"} for t in texts],
            "persist": True,
        }
    return {"texts": texts}


async def _client(
    job: dict, texts: list[str], start: int, stop_at: float, count_from: float, out: dict, http: aiohttp.ClientSession
) -> None:
    size = job.get("batch_size", 1) if job["mode"] == "batch" else 1
    route = job["url"] + ("/v1/embeddings" if job["mode"] == "embeddings" else "/v1/classify")
    position = start
    while (now := time.perf_counter()) < stop_at:
        chunk = [texts[(position + i) % len(texts)] for i in range(size)]
        position += size * job["concurrency"]
        async with http.post(route, json=_body(job["mode"], chunk, out["run_id"], out["ids"])) as response:
            await response.read()
            status = response.status
        done = time.perf_counter()
        if done < count_from:
            continue
        if status == 200:
            out["latencies"].append(done - now)
            out["texts"] += size
        else:
            out["errors"][str(status)] = out["errors"].get(str(status), 0) + 1


async def run_load(job: dict) -> dict:
    texts = job["texts"]
    started = time.perf_counter()
    count_from = started + job.get("warmup", 2.0)
    stop_at = count_from + job["duration"]
    out = {"latencies": [], "texts": 0, "errors": {}, "run_id": uuid.uuid4().hex[:8], "ids": itertools.count()}
    headers = {"Authorization": f"Bearer {job['api_key']}"} if job.get("api_key") else {}
    connector = aiohttp.TCPConnector(limit=job["concurrency"])
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http:
        clients = (_client(job, texts, i, stop_at, count_from, out, http) for i in range(job["concurrency"]))
        await asyncio.gather(*clients)
    measured = time.perf_counter() - count_from
    latencies = np.array(out["latencies"]) * 1000
    return {
        "requests": len(latencies),
        "texts": out["texts"],
        "seconds": round(measured, 2),
        "texts_per_s": round(out["texts"] / measured, 1),
        "requests_per_s": round(len(latencies) / measured, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 1) if len(latencies) else None,
        "errors": out["errors"],
    }


def main() -> int:
    job = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(run_load(job))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
