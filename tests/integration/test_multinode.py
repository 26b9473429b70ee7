"""A multi-node rehearsal on one machine: a Ray head and a second Ray node on loopback.

Both nodes are started with ``ray start`` (the worker with ``--address``), each with one CPU,
its own agent, metrics and runtime-env ports, random worker ports and a custom resource
naming it (``mw_head`` / ``mw_worker``). The cluster gets a temp dir of its own, so its
``ray_current_cluster`` file and session never mix with another Ray on this machine, and the
teardown ends only the processes of this cluster, by pid.

* The Serve app from ``configs/serve.yaml`` runs with its proxy on the head only
  (``HeadOnly``). ``EmotionModel`` asks for ``mw_worker`` and the other deployments for
  ``mw_head`` (1.35 CPUs would not fit one 1-CPU node anyway), so a classify request
  through the head's proxy crosses to the worker and back.
* The backfill, submitted as a job, runs two ``ModelsUDF`` actors at 0.6 CPU each: two
  cannot share a 1-CPU node, so one runs on each node, and the test checks from Ray's task
  events that both actors processed batches, and that every row sent is stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import select

from storage.models import Mention
from tests.integration.test_backfill_jobs import count, free_port, job_client, submit, summary_of, wait, write_rows
from tests.integration.test_serve_app import API_KEY, AUTH, deploy_config, wait_until_ready

RAY = str(Path(sys.executable).with_name("ray"))
HEAD_RESOURCE, WORKER_RESOURCE = "mw_head", "mw_worker"
MARKER_ENV = "MOODWIRE_TEST_RAY_CLUSTER"


def node_ports() -> list[str]:
    """The ports a second node on the same host must not share with the first."""
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        # 0/0: every worker binds a port the OS picks, so the two raylets' pools cannot
        # overlap (the default 10002-19999 range would be shared by both, and by any other Ray)
        "--min-worker-port=0",
        "--max-worker-port=0",
    ]


def processes_of(marker: str) -> list[psutil.Process]:
    """This cluster's processes: every process `ray start` spawned inherits MARKER_ENV from it
    (the Ray client server, for one, names neither the temp dir nor a parent that does). The
    raw environ is searched: Ray's agents set their title, which overwrites the start of that
    area, and psutil's ``environ()`` then comes back empty."""
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if needle in Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0"):
                found.append(proc)
        except OSError:
            continue
    return found


def stop_cluster(marker: str) -> None:
    """`ray stop` would end every Ray on the machine; end only this cluster's processes."""
    procs = processes_of(marker)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=5)
    for proc in alive:  # the agents ignore SIGTERM for a while; `ray stop --force` kills too
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


def use_token_auth(enabled: bool) -> None:
    """Token mode for this process's Ray client. Ray reads RAY_AUTH_MODE into its config when it
    is first imported and caches the token, so both are refreshed (what ray.init does for a
    local cluster); an explicit address never turns token auth on by itself."""
    from ray._private.authentication_test_utils import reset_auth_token_state

    if enabled:
        os.environ["RAY_AUTH_MODE"] = "token"
    else:
        os.environ.pop("RAY_AUTH_MODE", None)
    reset_auth_token_state()


@pytest.fixture(scope="module")
def cluster():
    import ray

    temp_dir = tempfile.mkdtemp(prefix="mwray-", dir="/tmp")  # short: socket paths live under it
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {
        **os.environ,
        "PATH": path,  # job drivers run `python` from the head's PATH: this virtualenv's
        "RAY_AUTH_MODE": "token",
        "MOODWIRE_API_KEY": API_KEY,  # replicas read it from their node's environment
        "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        MARKER_ENV: temp_dir,
    }
    env.pop("RAY_ADDRESS", None)
    env.pop("MOODWIRE_DATABASE_URL", None)
    gcs_port, dashboard_port, client_port = free_port(), free_port(), free_port()
    head = [
        RAY, "start", "--head", f"--port={gcs_port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
        f"--resources={json.dumps({HEAD_RESOURCE: 1})}", f"--temp-dir={temp_dir}",
        "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
        f"--ray-client-server-port={client_port}", "--disable-usage-stats", *node_ports(),
    ]  # fmt: skip
    worker = [
        RAY, "start", f"--address=127.0.0.1:{gcs_port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
        f"--resources={json.dumps({WORKER_RESOURCE: 1})}", "--disable-usage-stats", *node_ports(),
    ]  # fmt: skip
    try:
        for command in (head, worker):
            started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
            assert started.returncode == 0, f"{' '.join(command)}\n{started.stdout[-3000:]}\n{started.stderr[-3000:]}"
        use_token_auth(True)
        ray.init(address=f"127.0.0.1:{gcs_port}", _node_ip_address="127.0.0.1", log_to_driver=False)
        deadline = time.time() + 60
        while len(alive := [n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.time() < deadline, f"only {len(alive)} Ray node(s) alive: {alive}"
            time.sleep(1)
        names = (HEAD_RESOURCE, WORKER_RESOURCE)
        by_resource = {name: next(n["NodeID"] for n in alive if name in n["Resources"]) for name in names}
        assert by_resource[HEAD_RESOURCE] != by_resource[WORKER_RESOURCE]
        token = (Path.home() / ".ray" / "auth_token").read_text(encoding="utf-8").strip()
        dashboard = f"http://127.0.0.1:{dashboard_port}"
        jobs = job_client(dashboard, token)
        yield {
            "dashboard": dashboard,
            "jobs": jobs,
            "head": by_resource[HEAD_RESOURCE],
            "worker": by_resource[WORKER_RESOURCE],
        }
    finally:
        ray.shutdown()
        use_token_auth(False)
        stop_cluster(temp_dir)
        left = processes_of(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not left, f"Ray processes left behind: {[p.pid for p in left]}"


def node_ids_of_actors(dashboard: str, *, contains: str, state: str | None = "ALIVE") -> dict[str, str]:
    """class name -> node id of the cluster's actors whose class name contains ``contains``."""
    from ray.util.state import list_actors

    filters = [("state", "=", state)] if state else []
    actors = list_actors(address=dashboard, filters=filters, detail=True, limit=10_000, raise_on_missing_output=False)
    return {f"{a.class_name}#{a.actor_id[:8]}": a.node_id for a in actors if contains in a.class_name}


def test_serve_app_spans_both_nodes(cluster, pg_url):
    from ray import serve

    url, engine = pg_url
    http_port = free_port()
    head, worker = {HEAD_RESOURCE: 0.01}, {WORKER_RESOURCE: 0.01}
    placement = {
        "EmotionModel": {"ray_actor_options": {"num_cpus": 0.5, "num_gpus": 0, "resources": worker}},
        "EmbeddingModel": {"ray_actor_options": {"num_cpus": 0.5, "num_gpus": 0, "resources": head}},
        "Aggregator": {"ray_actor_options": {"num_cpus": 0.1, "resources": head}},
        "AlertWatcher": {"ray_actor_options": {"num_cpus": 0.01, "resources": head}},
        "Gateway": {"num_replicas": 1, "user_config": None, "ray_actor_options": {"num_cpus": 0.25, "resources": head}},
    }
    try:
        serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": http_port})
        deploy_config({"database_url": url, "model_layout": "deployments"}, placement)
        base = f"http://127.0.0.1:{http_port}"
        wait_until_ready(base, describe=lambda: f"on two nodes: {serve.status()}")

        items = [
            {"text": "I am furious about the tax hike", "external_id": "mn-1", "created_at": "2026-11-20T10:00:00Z"},
            {"text": "Thank you nurses, you saved my dad", "external_id": "mn-2", "created_at": "2026-11-20T11:00:00Z"},
        ]
        response = httpx.post(f"{base}/v1/classify", json={"items": items, "persist": True}, headers=AUTH, timeout=120)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["external_id"] for r in results] == ["mn-1", "mn-2"]
        assert results[0]["emotion"]["label"] == "anger"  # computed by the EmotionModel on the worker node
        with engine.connect() as c:
            stored = c.execute(select(Mention.external_id).order_by(Mention.external_id)).scalars().all()
        assert stored == ["mn-1", "mn-2"]  # written by the Aggregator on the head node

        replicas = node_ids_of_actors(cluster["dashboard"], contains="ServeReplica:moodwire:")
        by_deployment = {name.split("#")[0].rsplit(":", 1)[1]: node for name, node in replicas.items()}
        assert by_deployment == {
            "EmotionModel": cluster["worker"],
            "EmbeddingModel": cluster["head"],
            "Aggregator": cluster["head"],
            "AlertWatcher": cluster["head"],
            "Gateway": cluster["head"],
        }, replicas
        assert len(set(replicas.values())) == 2
        proxies = node_ids_of_actors(cluster["dashboard"], contains="ProxyActor")
        assert proxies and set(proxies.values()) == {cluster["head"]}, proxies  # HeadOnly
    finally:
        serve.shutdown()  # frees the app's 1.35 CPUs for the backfill


def test_backfill_job_runs_model_actors_on_both_nodes(cluster, pg_url, tmp_path):
    from ray.job_submission import JobStatus
    from ray.util.state import list_tasks

    url, engine = pg_url
    client = cluster["jobs"]
    total = 240
    files = []
    for part in range(4):  # four read tasks, so blocks appear on both nodes at once
        rows = [
            {
                "text": f"Rehearsal {part}-{i}: the ferry to the island was cancelled again and nobody told us why",
                "external_id": f"mn-bf-{part}-{i}",
                "created_at": "2026-11-05T09:00:00Z",
            }
            for i in range(total // 4)
        ]
        files.append(str(write_rows(tmp_path / f"part-{part}.jsonl", rows)))
    config = tmp_path / "two-nodes.yaml"
    config.write_text(
        # 0.6 CPU per model actor: two never fit one 1-CPU node, so Ray must put one on each
        "batch_size: 16\nwrite_batch_size: 40\nlayout: fused\nblock_bytes: 4096\nio_num_cpus: 0.1\n"
        "models: {min_size: 2, max_size: 2, num_cpus: 0.6, num_gpus: 0, threads: 1}\n"
        "writer: {min_size: 1, max_size: 1, num_cpus: 0.1, num_gpus: 0}\n"
        "write_through: own\n",
        encoding="utf-8",
    )
    job = submit(client, "batch_jobs.backfill", *files, "--database-url", url, "--config", str(config))
    assert wait(client, job, timeout_s=300) == JobStatus.SUCCEEDED, client.get_job_logs(job)[-3000:]
    summary = summary_of(client, job)
    assert (summary["read"], summary["stored"], summary["failed"]) == (total, total, 0), summary
    assert summary["written_through"] == "own writers"
    assert count(engine) == total and count(engine, Mention.processing_status == "done") == total

    ray_job_id = client.get_job_info(job).job_id
    actors = node_ids_of_actors(cluster["dashboard"], contains="ModelsUDF", state=None)
    assert len(actors) == 2 and set(actors.values()) == {cluster["head"], cluster["worker"]}, actors
    # Each actor did work: its batches ran as actor tasks, whose events name the node.
    deadline, nodes, tasks = time.time() + 30, set(), []
    while time.time() < deadline:
        tasks = list_tasks(
            address=cluster["dashboard"],
            filters=[("job_id", "=", ray_job_id)],
            detail=True,
            limit=10_000,
            raise_on_missing_output=False,
        )
        nodes = {t.node_id for t in tasks if "ModelsUDF" in t.name and ".submit" in t.name and t.state == "FINISHED"}
        if nodes == {cluster["head"], cluster["worker"]}:
            break
        time.sleep(2)
    assert nodes == {cluster["head"], cluster["worker"]}, sorted({(t.name, t.node_id, t.state) for t in tasks})
