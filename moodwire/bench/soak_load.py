"""The soak's mixed-traffic load generator, run as its own process
(``python -m moodwire.bench.soak_load``), like ``moodwire.bench.loadgen``.

Reads one JSON job on stdin: ``url``, ``mode`` (``closed``: ``concurrency`` clients, each
sending its next request when the previous one answers; ``open``: ``rate`` requests/s as a
Poisson process, whatever the app answers), ``duration``, ``seed``, ``texts``, ``topics``,
``api_key``. Each request is one kind of ``soak_mix.MIX`` drawn by its weight.

Prints ``{"event": "start"}`` when the clock starts, then one JSON array per finished request,
``[sent_s, latency_s, kind, status]`` (``status``: the HTTP status as a string, or
``connection``/``timeout``/``client`` when no response came), and ``{"event": "end"}``. The
caller aggregates; streaming the records lets it show progress and keep what a crash left.

Open loop: a request's latency counts from the moment it was due, not when the client got
round to sending it, so a stalled app (or a starved client) shows up in the latency instead of
quietly lowering the offered load (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import aiohttp
import numpy as np

from moodwire.bench.soak_mix import REQUEST_TIMEOUT_S, open_loop_schedule, pick_kinds, request_for


class Sender:
    """Sends one request of a kind and prints its record; texts and topics go round in turn."""

    def __init__(self, job: dict, http: aiohttp.ClientSession, started: float) -> None:
        self.url = job["url"]
        self.texts = job["texts"]
        self.topics = job["topics"]
        self.http = http
        self.started = started
        self.run_id = uuid.uuid4().hex[:8]
        self.count = 0

    async def send(self, kind: str, due: float) -> None:
        self.count += 1
        method, path, body = request_for(
            kind,
            text=self.texts[self.count % len(self.texts)],
            topic=self.topics[self.count % len(self.topics)],
            external_id=f"soak-{self.run_id}-{self.count}",
        )
        try:
            async with self.http.request(method, self.url + path, json=body) as response:
                await response.read()
                status = str(response.status)
        except TimeoutError:
            status = "timeout"
        except aiohttp.ClientConnectionError:
            status = "connection"
        except aiohttp.ClientError:
            status = "client"
        now = time.perf_counter() - self.started
        print(json.dumps([round(due, 4), round(now - due, 5), kind, status]), flush=True)


async def run_open(job: dict, sender: Sender) -> None:
    pending: set[asyncio.Task] = set()
    for due, kind in open_loop_schedule(rate=job["rate"], duration=job["duration"], seed=job["seed"]):
        delay = sender.started + due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(sender.send(kind, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)


async def run_closed(job: dict, sender: Sender) -> None:
    async def client(number: int) -> None:
        rng = np.random.default_rng([job["seed"], number])
        while (due := time.perf_counter() - sender.started) < job["duration"]:
            await sender.send(pick_kinds(rng, 1)[0], due)

    await asyncio.gather(*(client(i) for i in range(job["concurrency"])))


async def run_load(job: dict) -> None:
    headers = {"Authorization": f"Bearer {job['api_key']}"} if job.get("api_key") else {}
    connector = aiohttp.TCPConnector(limit=job.get("connections", 512))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http:
        print(json.dumps({"event": "start"}), flush=True)
        sender = Sender(job, http, time.perf_counter())
        await (run_open if job["mode"] == "open" else run_closed)(job, sender)
    print(json.dumps({"event": "end", "requests": sender.count}), flush=True)


def main() -> int:
    asyncio.run(run_load(json.loads(sys.stdin.read())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
