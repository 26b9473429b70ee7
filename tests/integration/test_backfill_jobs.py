"""Backfill jobs submitted to a real local Ray head with ``JobSubmissionClient``, into PostgreSQL.

The head is started with ``ray start --head`` on free loopback ports (never Redis' 6379) and
stopped after the module. Jobs upload the project as their working directory, as the
README's ``ray job submit --working-dir .`` form does.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from serve_app.ingress import free_port
from storage.models import Mention
from tests.integration.test_storage_ingest import rollups_match_rows

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
MOODWIRE = str(Path(sys.executable).with_name("moodwire"))


def job_client(address: str, token: str, timeout_s: float = 120):
    """A ``JobSubmissionClient`` with the head's token, once its dashboard answers."""
    from ray.job_submission import JobSubmissionClient

    deadline = time.time() + timeout_s
    while True:
        try:
            return JobSubmissionClient(address, headers={"Authorization": f"Bearer {token}"})
        except ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(2)


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray head of its own (2 CPUs, loopback), and a job client for its dashboard."""

    # The job driver runs `python` from the head's PATH: this virtualenv's, as after `activate`.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "PATH": path}
    gcs_port, dashboard_port = free_port(), free_port()
    command = [
        RAY, "start", "--head", f"--port={gcs_port}", "--node-ip-address=127.0.0.1",
        "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
        f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
        f"--ray-client-server-port={free_port()}", "--num-cpus=2", "--disable-usage-stats",
    ]  # fmt: skip
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=180)
    # The head runs with token auth and writes the token where Ray clients look for it; this
    # process read its auth mode when ray was first imported, so send the token explicitly.
    token_path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    token = os.environ.get("RAY_AUTH_TOKEN") or token_path.read_text(encoding="utf-8").strip()
    try:
        yield job_client(f"http://127.0.0.1:{dashboard_port}", token)
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def submit(client, module: str, *args: str) -> str:
    entrypoint = " ".join(["python", "-m", module, *(shlex.quote(a) for a in args)])
    return client.submit_job(
        entrypoint=entrypoint,
        runtime_env={
            "working_dir": str(ROOT),
            "env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        },
    )


def wait(client, job_id: str, timeout_s: float = 420) -> str:
    from ray.job_submission import JobStatus

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status = client.get_job_status(job_id)
        if status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
            return status
        time.sleep(1)
    client.stop_job(job_id)
    pytest.fail(f"job {job_id} did not finish in {timeout_s}s:\n{client.get_job_logs(job_id)[-3000:]}")


def summary_of(client, job_id: str) -> dict:
    last = [line for line in client.get_job_logs(job_id).splitlines() if line.startswith("{")][-1]
    return json.loads(last)


def count(engine, *conditions) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(Mention).where(*conditions)).scalar()


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_submitted_backfill_twice_stores_one_run(ray_head, pg_url, tmp_path):
    from ray.job_submission import JobStatus

    url, engine = pg_url
    rows = [
        {"text": f"Bus fares doubled on route {i}", "external_id": f"bus-{i}", "created_at": "2026-11-01T08:00:00Z"}
        for i in range(40)
    ]
    rows += [{"text": f"No key, only content {i}", "created_at": "2026-11-02T08:00:00Z"} for i in range(10)]
    rows += [{"text": "   ", "external_id": "blank"}, {"text": "ok", "created_at": "31/02/2026"}]
    source = write_rows(tmp_path / "history.jsonl", rows)
    first = submit(ray_head, "batch_jobs.backfill", str(source), "--database-url", url)
    assert wait(ray_head, first) == JobStatus.SUCCEEDED, ray_head.get_job_logs(first)[-3000:]
    assert {k: summary_of(ray_head, first)[k] for k in ("read", "stored", "failed")} == {
        "read": 52,
        "stored": 50,
        "failed": 2,
    }
    with engine.connect() as c:
        rollups_before = sorted(map(tuple, c.execute(text("SELECT * FROM topic_rollups")).all()))
    second = submit(ray_head, "batch_jobs.backfill", str(source), "--database-url", url)
    assert wait(ray_head, second) == JobStatus.SUCCEEDED
    again = summary_of(ray_head, second)
    assert (again["stored"], again["duplicates"]) == (0, 50)
    assert count(engine) == 52
    with engine.connect() as c:
        assert sorted(map(tuple, c.execute(text("SELECT * FROM topic_rollups")).all())) == rollups_before
    rollups_match_rows(engine)


def test_job_stopped_midway_then_resubmitted_finishes_the_rest(ray_head, pg_url, tmp_path):
    """`ray job stop` mid-run, then the same job again: every row once, rollups exact."""
    from ray.job_submission import JobStatus

    url, engine = pg_url
    total = 3000
    rows = [
        # half with an external id, half keyed by content + source + posting time
        {"text": f"Water bill complaint number {i}: the rates rose again", "created_at": "2026-11-03T10:00:00Z"}
        | ({"external_id": f"w-{i}"} if i % 2 else {"source": "forum"})
        for i in range(total)
    ]
    source = write_rows(tmp_path / "big.jsonl", rows)
    config = tmp_path / "small-batches.yaml"
    config.write_text("batch_size: 100\nwrite_batch_size: 100\n", encoding="utf-8")
    job = submit(ray_head, "batch_jobs.backfill", str(source), "--database-url", url, "--config", str(config))
    deadline = time.time() + 300
    while count(engine) < 300:
        assert time.time() < deadline, ray_head.get_job_logs(job)[-3000:]
        assert ray_head.get_job_status(job) in {JobStatus.PENDING, JobStatus.RUNNING}, ray_head.get_job_logs(job)
        time.sleep(0.5)
    ray_head.stop_job(job)
    assert wait(ray_head, job) == JobStatus.STOPPED
    partial = count(engine)
    assert 300 <= partial < total  # it really was cut short
    rerun = submit(ray_head, "batch_jobs.backfill", str(source), "--database-url", url, "--config", str(config))
    assert wait(ray_head, rerun) == JobStatus.SUCCEEDED, ray_head.get_job_logs(rerun)[-3000:]
    summary = summary_of(ray_head, rerun)
    assert summary["stored"] + summary["duplicates"] == total
    assert summary["duplicates"] >= partial
    assert count(engine) == total and count(engine, Mention.processing_status == "done") == total
    with engine.connect() as c:
        distinct = c.execute(select(func.count(func.distinct(Mention.text)))).scalar()
    assert distinct == total  # no text stored twice
    rollups_match_rows(engine)


def test_db_pending_after_moodwire_import(ray_head, pg_url, tmp_path):
    from ray.job_submission import JobStatus

    url, engine = pg_url
    source = write_rows(
        tmp_path / "collected.jsonl",
        [{"text": f"Ballot boxes arrived late in district {i}", "external_id": f"c-{i}"} for i in range(12)],
    )
    imported = subprocess.run(
        [MOODWIRE, "import", str(source), "--database-url", url], capture_output=True, text=True, timeout=120
    )
    assert imported.returncode == 0, imported.stderr
    assert count(engine, Mention.processing_status == "pending") == 12
    job = submit(ray_head, "batch_jobs.backfill", "db:pending", "--database-url", url)
    assert wait(ray_head, job) == JobStatus.SUCCEEDED, ray_head.get_job_logs(job)[-3000:]
    assert summary_of(ray_head, job)["stored"] == 12
    assert count(engine) == 12 and count(engine, Mention.processing_status == "done") == 12
    rollups_match_rows(engine)
