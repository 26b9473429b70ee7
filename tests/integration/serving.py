"""The Serve app on a local 2-CPU Ray for the tiers that need a running app (integration,
browser): free ports, ``serve deploy``-style deployment of configs/serve.yaml, readiness."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from serve_app.ingress import free_port

ROOT = Path(__file__).resolve().parents[2]


def deploy_config(args: dict, deployments: dict[str, dict] | None = None) -> None:
    """Deploy configs/serve.yaml through the Serve controller, as `serve deploy` does, with
    ``args`` over the file's; ``deployments`` changes the file's deployments and may add the
    model ones."""
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    config = yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text(encoding="utf-8"))
    app = config["applications"][0]
    app["args"].update(args)
    changes = dict(deployments or {})
    for deployment in app["deployments"]:
        deployment.update(changes.pop(deployment["name"], {}))
    app["deployments"] += [{"name": name, **options} for name, options in changes.items()]
    del config["http_options"], config["proxy_location"]  # set by serve.start
    client = _get_global_client()
    client.deploy_apps(ServeDeploySchema.parse_obj(config), _blocking=True)


def wait_until_ready(base: str, timeout_s: float = 300, describe=lambda: "") -> None:
    """Poll ``/readyz`` until the app answers 200; fail naming ``describe()`` otherwise."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=60).status_code == 200:
                return
        time.sleep(2)
    pytest.fail(f"the Serve app did not become ready {describe()}".rstrip())


@contextlib.contextmanager
def local_serve_app(args: dict, *, api_key: str, namespace: str, metrics_port: int | None = None) -> Iterator[str]:
    """configs/serve.yaml with ``args`` on a local Ray (2 CPUs, loopback) with ``api_key``;
    yields the base URL once ready, and shuts Serve and Ray down afterwards."""
    import ray
    from ray import serve

    from serve_app.ingress import ingress_environment

    http_port = free_port()
    os.environ["MOODWIRE_API_KEY"] = api_key
    os.environ["RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S"] = "60"
    metrics = {"_metrics_export_port": metrics_port, "_system_config": {"metrics_report_interval_ms": 1000}}
    with ingress_environment():  # HAProxy in front, as moodwire serve runs
        ray.init(
            num_cpus=2,
            namespace=namespace,
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            log_to_driver=False,
            **(metrics if metrics_port else {}),
        )
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": http_port})
            deploy_config(args)
            base = f"http://127.0.0.1:{http_port}"
            wait_until_ready(base)
            yield base
        finally:
            serve.shutdown()
            ray.shutdown()
            os.environ.pop("MOODWIRE_API_KEY", None)


@contextlib.contextmanager
def private_redis(port: int | None = None) -> Iterator[tuple[int, subprocess.Popen, redis.Redis]]:
    """A ``redis-server`` of the test's own on a free (or the given) loopback port, never the
    machine's shared one: ``(port, process, client)``; killed afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = port or free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    admin = redis.Redis(port=port, socket_timeout=2)
    deadline = time.time() + 10
    while True:
        try:
            admin.ping()
            break
        except redis.ConnectionError:
            if time.time() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    try:
        yield port, process, admin
    finally:
        process.kill()
        process.wait()
