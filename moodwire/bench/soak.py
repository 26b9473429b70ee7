"""``soak``: mixed online traffic, open loop, at 80 % of the app's maximum for a long run.

The app is started as ``bench online`` starts it (``moodwire serve`` on a free loopback port,
its own temporary database unless ``--database-url``, the result cache off: the mix repeats
texts, and cache hits would hide the models' memory and time). First a short closed-loop run
of the same mix at ``--concurrency`` clients (default 16) measures the maximum throughput;
then ``soak_load`` offers 80 % of it as a Poisson stream for ``--duration`` seconds while this
process samples the resident memory of every process of the app (the ``moodwire serve``
driver and its descendants: raylet, gcs_server, the Serve controller, replicas, actors,
HAProxy) at the start, half-way and at the end of every interval.

80 %: below the maximum so the queues stay short and any drift (a leak, a slower database as
it grows, a p99 creeping up) shows, instead of the app sitting in overload the whole time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from moodwire.bench.soak_figures import (
    MemorySample,
    Outcome,
    interval_bounds,
    interval_figures,
    load_figures,
    process_label,
    soak_summary,
)
from moodwire.bench.soak_mix import MIX, REQUEST_TIMEOUT_S

MIN_DURATION_S = 10.0
LOAD_FRACTION = 0.8
PROBE_CONCURRENCY = 16
PROBE_WARMUP_S = 3.0
PROBE_S = 20.0
SEED = 20261202


class LoadProcess:
    """``python -m moodwire.bench.soak_load`` with one job; a thread gathers its records as
    they come, so the caller can show progress and sample memory meanwhile."""

    def __init__(self, job: dict) -> None:
        self.outcomes: list[Outcome] = []
        self.started_at: float | None = None
        self._started = threading.Event()
        self._errors = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in finish/stop
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moodwire.bench.soak_load"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )
        self.process.stdin.write(json.dumps(job))
        self.process.stdin.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("["):
                self.outcomes.append(Outcome(*json.loads(line)))
            elif '"start"' in line:
                self.started_at = time.perf_counter()
                self._started.set()
        self._started.set()  # ended without starting: wait_started says why

    def wait_started(self) -> float:
        self._started.wait(timeout=60)
        if self.started_at is None:
            self.finish(timeout=10)  # raises with the generator's own words
            raise RuntimeError("the soak load generator did not start")
        return self.started_at

    def finish(self, *, timeout: float) -> list[Outcome]:
        try:
            self.process.wait(timeout=timeout)
            self._reader.join(timeout=10)
            if self.process.returncode != 0:
                self._errors.seek(0)
                raise RuntimeError(f"soak load generator failed: {self._errors.read()[-2000:]}")
        finally:
            self.stop()
        return list(self.outcomes)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._errors.close()


def sample_memory(root_pid: int, at_s: float) -> MemorySample:
    """RSS of the ``moodwire serve`` process and every descendant; a process that ends while
    it is read is left out."""
    import psutil

    rss: dict[int, tuple[str, float]] = {}
    try:
        root = psutil.Process(root_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:  # the app is gone: the errors say so
        return MemorySample(at_s, rss)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            label = "moodwire serve" if process.pid == root_pid else process_label(process.cmdline(), process.name())
            rss[process.pid] = (label, round(process.memory_info().rss / 2**20, 1))
    return MemorySample(at_s, rss)


def topic_keys(url: str) -> list[str]:
    import httpx

    key = os.environ.get("MOODWIRE_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{url}/v1/topics", headers=headers, timeout=60)
    response.raise_for_status()
    keys = [topic["key"] for topic in response.json()["topics"]]
    if not keys:
        raise RuntimeError("GET /v1/topics listed no topic: the soak's topic queries need one")
    return keys


def _job(url: str, texts: list[str], topics: list[str], **settings) -> dict:
    return {"url": url, "texts": texts, "topics": topics, "api_key": os.environ.get("MOODWIRE_API_KEY")} | settings


def probe_max(url: str, texts: list[str], topics: list[str], *, concurrency: int) -> dict:
    """The mix's maximum: closed loop, the requests answered between the warm-up's end and
    the run's (by when they were answered: the last ones sent finish after it)."""
    job = _job(url, texts, topics, mode="closed", concurrency=concurrency, duration=PROBE_WARMUP_S + PROBE_S, seed=SEED)
    outcomes = LoadProcess(job).finish(timeout=PROBE_WARMUP_S + PROBE_S + REQUEST_TIMEOUT_S + 60)
    counted = [o for o in outcomes if PROBE_WARMUP_S <= o.sent_s + o.latency_s < PROBE_WARMUP_S + PROBE_S]
    figures = {"run": "soak-max", "concurrency": concurrency, "seconds": PROBE_S}
    figures |= load_figures(counted, seconds=PROBE_S)
    if not figures["requests_per_s"]:
        raise RuntimeError(f"the app answered no request of the mix: {figures['errors']}")
    return figures


def soak_run(
    url: str, pid: int, texts: list[str], topics: list[str], *, rate: float, duration: float
) -> tuple[list[Outcome], list[MemorySample]]:
    """The open-loop run with a progress bar on stderr; memory sampled at the start, every
    interval's end and half-way."""
    from tqdm import tqdm

    moments = sorted({0.0, duration / 2, *(end for _, end in interval_bounds(duration))})
    load = LoadProcess(_job(url, texts, topics, mode="open", rate=rate, duration=duration, seed=SEED + 1))
    samples: list[MemorySample] = []
    try:
        started = load.wait_started()
        shape = "{l_bar}{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}{postfix}]"
        with tqdm(total=round(duration), desc="bench soak", file=sys.stderr, bar_format=shape) as bar:
            for moment in moments:
                while (now := time.perf_counter() - started) < moment:
                    time.sleep(min(1.0, moment - now))
                    done = list(load.outcomes)
                    errors = sum(o.status != "200" for o in done)
                    bar.set_postfix(requests=len(done), errors=errors, refresh=False)
                    bar.update(min(round(duration), int(time.perf_counter() - started)) - bar.n)
                samples.append(sample_memory(pid, moment))
            bar.update(round(duration) - bar.n)
        outcomes = load.finish(timeout=REQUEST_TIMEOUT_S + 60)
    finally:
        load.stop()
    return outcomes, samples


def bench_soak(args: argparse.Namespace, texts: list[str]) -> list[dict]:
    """The maximum, every interval, and the headline (last)."""
    from moodwire.bench.online import serving
    from moodwire.bench.storage import fresh_database

    duration = args.duration
    concurrency = (args.concurrency or [PROBE_CONCURRENCY])[-1]
    ingress = getattr(args, "ingress", "haproxy")
    with fresh_database(args.database_url) as engine:
        database = engine.url.render_as_string(hide_password=False)
        with serving(database, getattr(args, "pipeline_config", None), ingress) as app:
            topics = topic_keys(app.url)
            print(f"bench soak: the mix's maximum, {concurrency} clients, {PROBE_S:g} s", file=sys.stderr)
            probe = probe_max(app.url, texts, topics, concurrency=concurrency)
            print(f"bench soak: {json.dumps(probe)}", file=sys.stderr)
            rate = round(LOAD_FRACTION * probe["requests_per_s"], 2)
            print(f"bench soak: {rate} requests/s open loop for {duration:g} s", file=sys.stderr)
            outcomes, samples = soak_run(app.url, app.pid, texts, topics, rate=rate, duration=duration)
    intervals = interval_figures(outcomes, interval_bounds(duration), samples)
    summary = {
        "run": "soak",
        "ingress": ingress,
        "max_requests_per_s": probe["requests_per_s"],
        "offered_requests_per_s": rate,
        "mix": {kind: weight for kind, (weight, _, _) in MIX.items()},
        **soak_summary(outcomes, duration=duration, samples=samples, intervals=intervals),
    }
    runs = [probe, *intervals, summary]
    if getattr(args, "plot", None) is not None:
        from moodwire.bench.soak_plot import plot_soak

        plot_soak(runs, args.plot)
        print(f"bench soak: plot written to {args.plot}", file=sys.stderr)
    return runs
