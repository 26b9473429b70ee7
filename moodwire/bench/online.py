"""``online``: closed-loop HTTP load against ``moodwire serve`` from a separate process."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import yaml

from inference.config_files import project_configs_dir
from moodwire.bench import cpu_share
from serve_app.ingress import free_port

DEFAULT_LEVELS = [1, 2, 4, 8, 16, 32]
HEADLINE_CONCURRENCY = 16
SMALL_BATCH = 8


class ServedApp(NamedTuple):
    url: str
    pid: int  # the ``moodwire serve`` process: Ray's processes are its descendants


@contextlib.contextmanager
def serving(database_url: str, pipeline_config: Path | None = None, ingress: str = "haproxy") -> Iterator[ServedApp]:
    """``moodwire serve --ingress INGRESS`` on a free loopback port with configs/serve.yaml,
    the result cache off (the load repeats texts; cache hits would measure the cache, not the
    models) and the benchmark's own database. Stopped with SIGTERM afterwards."""
    config = yaml.safe_load((project_configs_dir() / "serve.yaml").read_text(encoding="utf-8"))
    config["applications"][0]["args"].update(database_url=database_url, result_cache="none")
    if pipeline_config is not None:
        config["applications"][0]["args"]["pipeline_config"] = str(pipeline_config.resolve())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MOODWIRE_API_KEY"}
    with tempfile.TemporaryDirectory(prefix="moodwire-bench-serve-") as folder:
        path = Path(folder) / "serve.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        command = [sys.executable, "-m", "moodwire", "serve", "--config", str(path), "--port", str(port)]
        command += ["--ingress", ingress]
        log = open(Path(folder) / "serve.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 300
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"moodwire serve exited: {(Path(folder) / 'serve.log').read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=30).status_code == 200:
                        break
                if time.time() > deadline:
                    raise RuntimeError("moodwire serve did not become ready in 300 s")
                time.sleep(2)
            yield ServedApp(url, process.pid)
        finally:
            process.send_signal(signal.SIGINT if os.name == "nt" else signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def load(url: str, texts: list[str], *, concurrency: int, mode: str, duration: float) -> dict:
    """One closed-loop run in a separate process, so the client does not share this one's GIL."""
    job = {
        "url": url,
        "concurrency": concurrency,
        "duration": duration,
        "warmup": 3.0,
        "mode": mode,
        "batch_size": SMALL_BATCH,
        "texts": texts,
        "api_key": os.environ.get("MOODWIRE_API_KEY"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "moodwire.bench.loadgen"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=duration + 600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {"run": f"online-{mode}", "concurrency": concurrency, **figures}


def bench_online(args: argparse.Namespace, texts: list[str]) -> list[dict]:
    """Every concurrency with single texts, small batches and persist; headline (single
    texts, 16 clients, no persist) last, with the p99 at half of the maximum throughput.
    The headline and embeddings runs also report ``cpu_share`` (``moodwire.bench.cpu_share``)."""
    from moodwire.bench.storage import fresh_database

    levels = args.concurrency or DEFAULT_LEVELS
    headline_level = HEADLINE_CONCURRENCY if HEADLINE_CONCURRENCY in levels else levels[-1]
    runs: list[dict] = []
    with contextlib.ExitStack() as stack:
        app_pid = None  # an app at --url: its processes are not ours to measure
        if args.url:
            url = args.url
        else:
            engine = stack.enter_context(fresh_database(args.database_url))
            database = engine.url.render_as_string(hide_password=False)
            app = stack.enter_context(
                serving(database, getattr(args, "pipeline_config", None), getattr(args, "ingress", "haproxy"))
            )
            url, app_pid = app.url, app.pid

        def run(mode: str, level: int) -> None:
            def work() -> dict:
                return load(url, texts, concurrency=level, mode=mode, duration=args.duration)

            headline_run = level == headline_level and mode in ("single", "embeddings")
            figures = cpu_share.measured(app_pid, work) if headline_run and app_pid else work()
            print(f"bench online: {json.dumps(figures)}", file=sys.stderr)
            runs.append(figures)

        for mode in ("single", "batch", "persist"):
            for level in levels:
                run(mode, level)
        # /v1/embeddings: single texts at the headline concurrency, against the embedder's own raw.
        run("embeddings", headline_level)
    singles = [r for r in runs if r["run"] == "online-single"]
    best = max(r["texts_per_s"] for r in singles)
    half = min((r for r in singles if r["texts_per_s"] >= best / 2), key=lambda r: r["concurrency"])
    headline = next(r for r in singles if r["concurrency"] == headline_level)
    others = [r for r in runs if r is not headline]  # the embeddings run among them
    ingress = None if args.url else getattr(args, "ingress", "haproxy")  # None: an app at --url
    others = [{**r, "ingress": ingress} for r in others]
    headline = {
        **headline,
        "ingress": ingress,
        "max_texts_per_s": best,
        "half_max_concurrency": half["concurrency"],
        "half_max_texts_per_s": half["texts_per_s"],
        "half_max_p99_ms": half["p99_ms"],
    }
    return [*others, headline]
