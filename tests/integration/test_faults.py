"""Faults under load on a real local Ray: the app of configs/serve.yaml (two Gateway replicas
with the models, HAProxy in front) on its own PostgreSQL schema, with ``result_cache: redis``
on a private ``redis-server``. Eight clients send persisted requests with ``external_id``;
what failed is sent again, and then every mention must be stored exactly once with the
rollups matching the rows. The machine's shared PostgreSQL and Redis are never stopped: the
database faults terminate this app's own connections (by ``application_name``)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

import httpx
import psutil
import pytest
import yaml
from sqlalchemy import func, select, text

from storage.models import Mention
from tests.integration.conftest import make_pg_engine, schema_url
from tests.integration.serving import ROOT, local_serve_app, private_redis, wait_until_ready
from tests.integration.test_storage_ingest import rollups_match_rows

API_KEY = "faults-" + uuid.uuid4().hex[:8]
AUTH = {"Authorization": f"Bearer {API_KEY}"}
TAG = "mw_faults_" + uuid.uuid4().hex[:8]  # application_name of the app's database connections


@pytest.fixture(scope="module")
def app(pg_admin):
    from storage.migrate import upgrade

    engine, schema = make_pg_engine(pg_admin, prefix="mw_test_faults_")
    upgrade(engine)
    url = f"{schema_url(schema)}&application_name={TAG}"
    try:
        with private_redis() as (redis_port, _, cache):
            args = {"database_url": url, "result_cache": "redis", "redis_url": f"redis://127.0.0.1:{redis_port}/0"}
            with local_serve_app(args, api_key=API_KEY, namespace="moodwire-faults") as base:
                yield SimpleNamespace(base=base, engine=engine, url=url, redis_port=redis_port, cache=cache)
    finally:
        engine.dispose()
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


# -- load ----------------------------------------------------------------------------------------
@dataclass
class Outcome:
    sent: float
    done: float
    status: int | str  # an HTTP status, or the client's exception name
    ids: list[str]
    retry_after: str | None = None
    error_type: str | None = None


@dataclass
class PersistedLoad:
    """``clients`` threads sending persisted requests of ``texts`` new mentions each, with
    ``external_id``s, back to back until ``stop()``."""

    base: str
    prefix: str  # of every external_id this load sends
    clients: int = 8
    texts: int = 4
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]

    def __enter__(self) -> PersistedLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, headers=AUTH, timeout=60) as http:
            while not self._stop.is_set():
                ids = [f"{self.prefix}{uuid.uuid4().hex}" for _ in range(self.texts)]
                self.outcomes.append(send(http, ids))

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200]


def body_of(ids: list[str]) -> dict:
    return {
        "items": [{"text": f"Rents rose again this month, says {i[-12:]}", "external_id": i} for i in ids],
        "persist": True,
    }


def send(http: httpx.Client, ids: list[str]) -> Outcome:
    sent = time.monotonic()
    try:
        answer = http.post("/v1/classify", json=body_of(ids))
    except httpx.HTTPError as exc:
        return Outcome(sent, time.monotonic(), type(exc).__name__, ids)
    error_type = None
    if answer.status_code != 200:
        error = answer.json()["error"]  # every error in the documented shape, HAProxy's own included
        assert set(error) == {"message", "type", "param", "code"}, answer.text
        error_type = error["type"]
    return Outcome(sent, time.monotonic(), answer.status_code, ids, answer.headers.get("Retry-After"), error_type)


def resend_until_stored(base: str, failed: list[Outcome], within_s: float = 90) -> None:
    """What a client does with a failed persisted request: send it again, as it was."""
    deadline = time.monotonic() + within_s
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
        for outcome in failed:
            while send(http, outcome.ids).status != 200:
                assert time.monotonic() < deadline, "a failed request was still refused after the fault ended"
                time.sleep(0.5)


def stored_once(engine, prefix: str, ids: list[str]) -> None:
    """Every id sent stored once, and nothing else under ``prefix``."""
    with engine.connect() as c:
        query = select(Mention.external_id, func.count()).where(Mention.external_id.like(f"{prefix}%"))
        counts = dict(c.execute(query.group_by(Mention.external_id)).all())
    missing = [i for i in ids if i not in counts]
    assert not missing, f"{len(missing)} mentions answered or re-sent were not stored"
    assert set(counts.values()) == {1}, "a mention was stored twice"
    assert len(counts) == len(set(ids)), "mentions nobody sent were stored"


def all_ids(load: PersistedLoad) -> list[str]:
    return [i for o in load.outcomes for i in o.ids]


def replica_pids(deployment: str) -> list[int]:
    title = f"ServeReplica:moodwire:{deployment}"
    pids = []
    for process in psutil.process_iter(["cmdline"]):
        if any(title in part for part in process.info["cmdline"] or ()):
            pids.append(process.pid)
    return pids


def wait_for_replicas(deployment: str, count: int, within_s: float = 180) -> None:
    from ray import serve

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        status = serve.status().applications["moodwire"].deployments[deployment]
        if status.status == "HEALTHY" and status.replica_states.get("RUNNING", 0) >= count:
            return
        time.sleep(1)
    pytest.fail(f"{deployment} did not get back to {count} running replicas")


# -- the faults ----------------------------------------------------------------------------------
def test_a_gateway_replica_killed_under_load_loses_nothing_and_later_requests_get_200_or_503(app):
    victims = replica_pids("Gateway")
    assert len(victims) == 2, victims
    with PersistedLoad(app.base, f"{TAG}-kill-") as load:
        time.sleep(3)
        killed_at = time.monotonic()
        os.kill(victims[0], signal.SIGKILL)
        time.sleep(8)
    assert any(o.status == 200 for o in load.outcomes if o.sent > killed_at + 2), "the other replica kept answering"
    for outcome in load.failed():
        if outcome.sent > killed_at + 2 or isinstance(
            outcome.status, int
        ):  # after the kill: answered, or refused with a reason
            assert outcome.status == 503 and outcome.retry_after, outcome
    print("gateway kill:", Counter(str(o.status) for o in load.outcomes))
    resend_until_stored(app.base, load.failed())
    stored_once(app.engine, load.prefix, all_ids(load))
    rollups_match_rows(app.engine)
    wait_for_replicas("Gateway", 2)  # Serve replaced it


def test_database_connections_terminated_under_load_answer_503_and_writes_resume_without_restart(app, pg_admin):
    reads: list[tuple[str, int, str | None]] = []

    def terminate_for(seconds: float) -> int:
        ended, deadline = 0, time.monotonic() + seconds
        with pg_admin.connect() as c:
            while time.monotonic() < deadline:
                ended += c.execute(
                    text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :tag"),
                    {"tag": TAG},
                ).scalar()
                time.sleep(0.2)
        return ended

    def reader(stop: threading.Event) -> None:
        with httpx.Client(base_url=app.base, headers=AUTH, timeout=60) as http:
            while not stop.is_set():
                for path in ("/v1/trends", "/v1/mentions?topic=housing", "/v1/overview"):
                    answer = http.get(path)
                    reads.append((path, answer.status_code, answer.headers.get("Retry-After")))
                time.sleep(0.1)

    stop_reading = threading.Event()
    reading = threading.Thread(target=reader, args=(stop_reading,))
    with PersistedLoad(app.base, f"{TAG}-pg-") as load:
        time.sleep(2)
        reading.start()
        terminated = terminate_for(4)
        time.sleep(2)
    stop_reading.set()
    reading.join(timeout=60)
    print("database:", terminated, Counter(str(o.status) for o in load.outcomes), Counter(s for _, s, _ in reads))
    assert terminated > 0, "no connection of the app was terminated"
    assert {o.status for o in load.outcomes} <= {200, 503}, {o.status for o in load.outcomes}
    assert all(o.retry_after and o.error_type == "storage_error" for o in load.failed())
    assert {status for _, status, _ in reads} <= {200, 503} and all(r for _, s, r in reads if s == 503)
    # No half-written request: a refused one stored none of its mentions.
    with app.engine.connect() as c:
        for outcome in load.failed():
            found = c.execute(select(func.count()).where(Mention.external_id.in_(outcome.ids))).scalar()
            assert found == 0, "a refused request stored part of its mentions"
    # Writes resume on the same app (the pool pings and replaces dead connections).
    with httpx.Client(base_url=app.base, headers=AUTH, timeout=60) as http:
        after = [f"{TAG}-pg-after-{uuid.uuid4().hex}"]
        assert send(http, after).status == 200
    resend_until_stored(app.base, load.failed())
    stored_once(app.engine, load.prefix, all_ids(load) + after)
    rollups_match_rows(app.engine)


def test_a_paused_then_stopped_redis_never_stalls_requests_and_the_cache_is_used_again(app):
    """With ``result_cache: redis``: Redis hung (``CLIENT PAUSE``) and then stopped. Requests
    are answered all along without waiting on it; once a Redis answers on the port again the
    Gateways write to the cache again."""
    import redis

    def classify_for(seconds: float) -> list[tuple[int, float]]:
        answers: list[tuple[int, float]] = []

        def client() -> None:
            with httpx.Client(base_url=app.base, headers=AUTH, timeout=60) as http:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    status = http.post(
                        "/v1/classify", json={"texts": [f"Is the bus late again? {uuid.uuid4().hex}"]}
                    ).status_code
                    answers.append((status, time.monotonic() - started))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return answers

    assert classify_for(1) and app.cache.dbsize() > 0  # the cache is in use
    app.cache.execute_command("CLIENT", "PAUSE", "5000", "ALL")
    paused = classify_for(3)
    # A blocking client would hold every request for the rest of the 5 s pause.
    assert {s for s, _ in paused} == {200} and max(t for _, t in paused) < 2.5, max(t for _, t in paused)
    app.cache.execute_command("CLIENT", "UNPAUSE")
    app.cache.shutdown(nosave=True)  # Redis gone
    stopped = classify_for(3)
    assert {s for s, _ in stopped} == {200} and max(t for _, t in stopped) < 2.5
    with private_redis(app.redis_port) as (_, _, fresh):  # back, empty, on the same port
        deadline = time.monotonic() + 30
        while fresh.dbsize() == 0:
            assert time.monotonic() < deadline, "the Gateways did not use Redis again"
            classify_for(1)
        assert isinstance(fresh, redis.Redis)


def test_the_aggregator_killed_during_a_backfill_through_it_stores_each_row_once(app, tmp_path, capsys):
    """The backfill writes through the app's Aggregator; killing that replica mid-run makes
    the job send its batches again until Serve has replaced it; a re-run adds nothing."""
    import ray

    from batch_jobs.backfill import main

    rows = [{"text": f"Bus fares are going up again, line {i}", "external_id": f"{TAG}-bf-{i}"} for i in range(320)]
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    config = yaml.safe_load((ROOT / "configs" / "backfill-beside-serve.yaml").read_text(encoding="utf-8"))
    config.update(batch_size=32, write_batch_size=32)  # many small writes: the kill lands mid-run
    config_path = tmp_path / "backfill.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")

    def stored() -> int:
        with app.engine.connect() as c:
            return c.execute(select(func.count()).where(Mention.external_id.like(f"{TAG}-bf-%"))).scalar()

    killed = []

    def kill_when_writing() -> None:
        deadline = time.monotonic() + 240
        while stored() == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        for actor in ray.util.list_named_actors(all_namespaces=True):
            if "#Aggregator#" in actor["name"]:
                ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
                killed.append(stored())

    killer = threading.Thread(target=kill_when_writing)
    killer.start()
    code = main([str(source), "--database-url", app.url, "--config", str(config_path)])
    killer.join(timeout=60)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert killed and killed[0] < len(rows), "the Aggregator was killed only after the job wrote everything"
    print("backfill:", killed, summary)
    assert code == 0 and summary["failed"] == 0, summary
    assert stored() == len(rows)
    assert main([str(source), "--database-url", app.url, "--config", str(config_path)]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["stored"] == 0 and stored() == len(rows)
    rollups_match_rows(app.engine)
    wait_until_ready(app.base)
