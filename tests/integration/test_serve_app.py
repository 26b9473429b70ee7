"""The Serve app in-process on a local 2-CPU Ray with the default models and real PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
import yaml
from sqlalchemy import func, select, text

from storage.models import Mention, MentionTopic
from tests.integration import serving
from tests.integration.conftest import make_pg_engine, schema_url
from tests.integration.serving import ROOT, free_port, local_serve_app, wait_until_ready
from tests.integration.webhook_receiver import webhook_receiver

API_KEY = "test-key-" + uuid.uuid4().hex[:8]
AUTH = {"Authorization": f"Bearer {API_KEY}"}
APP_ARGS = {"max_texts_per_request": 50, "max_body_bytes": 200_000}
WATCHED = "serve-alerts-economy"  # the topic whose surge the AlertWatcher test plants


# The model deployments of `model_layout: deployments` (configs/serve.yaml is colocated).
MODEL_DEPLOYMENTS = {
    name: {"ray_actor_options": {"num_cpus": 0.5}, "user_config": {"max_batch_size": 64, "batch_wait_timeout_s": 0.005}}
    for name in ("EmotionModel", "EmbeddingModel")
}


def deploy_config(args: dict, deployments: dict[str, dict] | None = None) -> None:
    """``serving.deploy_config`` with this module's ``APP_ARGS`` under ``args``."""
    serving.deploy_config(APP_ARGS | args, deployments)


@pytest.fixture(scope="module")
def receiver():
    """The webhook the app's AlertWatcher delivers to (configured in ``served``)."""
    with webhook_receiver() as hook:
        yield hook


@pytest.fixture(scope="module")
def served(pg_admin, receiver, tmp_path_factory):
    from storage.migrate import upgrade

    alerts_config = tmp_path_factory.mktemp("alerts") / "alerts.yaml"
    alerts_config.write_text(
        yaml.safe_dump(
            {
                "public_url": "http://127.0.0.1:8000",
                "poll_seconds": 1,
                "delivery": {"max_attempts": 3, "backoff_initial_s": 0.1},
                "targets": [
                    {"name": "hook", "kind": "webhook", "url": receiver.url, "topics": [WATCHED], "kinds": ["volume"]}
                ],
            }
        ),
        encoding="utf-8",
    )
    APP_ARGS["alerts_config"] = str(alerts_config)  # every redeploy of this module keeps it

    engine, schema = make_pg_engine(pg_admin, prefix="mw_test_serve_")
    db_url = schema_url(schema)
    upgrade(engine)
    metrics_port = free_port()
    try:
        with local_serve_app(
            APP_ARGS | {"database_url": db_url}, api_key=API_KEY, namespace="moodwire-test", metrics_port=metrics_port
        ) as base:
            yield {"base": base, "engine": engine, "metrics_port": metrics_port, "db_url": db_url}
    finally:
        APP_ARGS.pop("alerts_config", None)
        engine.dispose()
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(scope="module")
def client(served):
    with httpx.Client(base_url=served["base"], headers=AUTH, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def core_pipeline():
    from inference.pipeline import MentionPipeline
    from inference.settings import load_pipeline_settings

    return MentionPipeline.from_settings(load_pipeline_settings())


TEXTS = [
    "I am furious about the tax hike",
    "Polls open at 7am tomorrow, go vote!",
    "My insulin costs more than my rent and I'm scared",
    "The meeting was moved to Thursday.",
]


def test_classify_matches_the_core_pipeline(client, core_pipeline):
    response = client.post("/v1/classify", json={"texts": TEXTS})
    assert response.status_code == 200
    results = response.json()["results"]
    expected = [r.to_dict() for r in core_pipeline.classify(TEXTS)]
    assert len(results) == len(expected)
    for got, want in zip(results, expected, strict=True):
        assert got["emotion"]["label"] == want["emotion"]["label"]
        assert got["sentiment"]["label"] == want["sentiment"]["label"]
        assert got["sentiment"]["score"] == pytest.approx(want["sentiment"]["score"], abs=1e-4)
        assert [t["key"] for t in got["topics"]] == [t["key"] for t in want["topics"]]
        for label, score in want["emotion"]["scores"].items():
            assert got["emotion"]["scores"][label] == pytest.approx(score, abs=1e-4)
    assert results[0]["emotion"]["label"] == "anger"


def test_persist_stores_rows_once(client, served):
    items = [
        {"text": "Gas prices are killing us", "external_id": "s-1", "created_at": "2026-11-20T10:00:00Z"},
        {"text": "Thank you nurses, you saved my dad", "external_id": "s-2", "source": "tw"},
    ]
    for _ in range(2):  # a retry with external_id stores nothing twice
        response = client.post("/v1/classify", json={"items": items, "persist": True})
        assert response.status_code == 200
        assert [r["external_id"] for r in response.json()["results"]] == ["s-1", "s-2"]
    with served["engine"].connect() as c:
        rows = c.execute(select(Mention.external_id, Mention.processing_status).order_by(Mention.external_id)).all()
        assert [tuple(r) for r in rows] == [("s-1", "done"), ("s-2", "done")]
        assert c.execute(select(func.count()).select_from(MentionTopic)).scalar() >= 1
    aggregate = client.get(
        "/v1/topics/economy/aggregate",
        params={"window": "day", "since": "2026-11-20T00:00:00Z", "until": "2026-11-21T00:00:00Z"},
    )
    assert aggregate.status_code == 200 and aggregate.json()["buckets"][0]["count"] == 1
    mentions = client.get("/v1/mentions", params={"topic": "economy"}).json()
    assert [m["external_id"] for m in mentions["items"]] == ["s-1"]
    assert client.get("/v1/trends").status_code == 200
    assert any(t["key"] == "economy" for t in client.get("/v1/topics").json()["topics"])
    assert client.delete("/v1/mentions/s-1").status_code == 200
    assert client.delete("/v1/mentions/s-1").status_code == 404


def test_mentions_in_unsupported_languages_are_stored_but_not_counted(client):
    items = [
        {"text": "Gas prices and taxes keep going up and my wages do not", "external_id": "lang-en"},
        {"text": "La inflación y los impuestos suben, los salarios no: la economía va fatal", "external_id": "lang-es"},
        {"text": "Inflation, Steuern, Löhne: die Wirtschaft steckt in der Krise", "external_id": "lang-de"},
    ]
    for item in items:
        item["created_at"] = "2026-11-18T10:00:00Z"
    response = client.post("/v1/classify", json={"items": items, "persist": True})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["language"], r["language_supported"]) for r in results] == [("en", True), ("es", False), ("de", False)]
    assert all(r["topics"][0]["key"] == "economy" for r in results)  # labels and topics all the same
    day = {"window": "day", "since": "2026-11-18T00:00:00Z", "until": "2026-11-19T00:00:00Z"}
    assert client.get("/v1/topics/economy/aggregate", params=day).json()["buckets"][0]["count"] == 1

    def listed(**params) -> list[str]:
        answer = client.get("/v1/mentions", params={"topic": "economy", **params})
        assert answer.status_code == 200, answer.text
        return sorted(m["external_id"] for m in answer.json()["items"] if m["external_id"].startswith("lang-"))

    assert listed() == ["lang-en"]
    assert listed(language="es") == ["lang-es"]
    assert listed(include_unsupported="true") == ["lang-de", "lang-en", "lang-es"]
    german = client.get("/v1/mentions", params={"topic": "economy", "language": "de"}).json()["items"][0]
    assert (german["language"], german["language_supported"]) == ("de", False)
    bad = client.get("/v1/mentions", params={"topic": "economy", "language": "German"})
    assert bad.status_code == 400 and "ISO 639-1" in bad.json()["error"]["message"]
    for item in items:
        assert client.delete(f"/v1/mentions/{item['external_id']}").status_code == 200
    assert client.get("/v1/topics/economy/aggregate", params=day).json()["buckets"][0]["count"] == 0


def test_embeddings_with_the_official_openai_client(served, core_pipeline):
    from openai import NotFoundError, OpenAI, UnprocessableEntityError

    openai = OpenAI(base_url=served["base"] + "/v1", api_key=API_KEY)
    assert "all-MiniLM-L6-v2" in [m.id for m in openai.models.list()]
    response = openai.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS[:2])  # base64 on the wire
    vectors = np.asarray([d.embedding for d in response.data])
    np.testing.assert_allclose(vectors, core_pipeline.embedder.embed(TEXTS[:2]), atol=1e-5)
    assert response.usage.prompt_tokens > 0
    single = openai.embeddings.create(model="default", input="hello", encoding_format="float")
    assert len(single.data[0].embedding) == 384
    with pytest.raises(NotFoundError):
        openai.embeddings.create(model="gpt-nope", input="x")
    with pytest.raises(UnprocessableEntityError):
        openai.embeddings.create(model="default", input="x", dimensions=128)


def test_base64_encoding_over_plain_http(client):
    body = client.post(
        "/v1/embeddings", json={"model": "default", "input": ["a b"], "encoding_format": "base64"}
    ).json()
    vector = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    assert vector.shape == (384,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"texts": ["fine", "   "]}}, 422, "texts[1] is empty"),
        ({"json": {"items": [{"text": ""}]}}, 422, "items[0].text is empty"),
        ({"json": {"texts": ["x" * 100_001]}}, 422, "limit is 100000"),
        ({"json": {"texts": ["a"] * 51}}, 413, "at most 50 texts"),
        ({"content": b'{"texts": ["a"', "headers": {"content-type": "application/json"}}, 422, "malformed JSON"),
        ({"json": {"texts": ["a"], "items": []}}, 422, "exactly one of"),
        ({"json": {"texts": ["a" * 6000] * 40}}, 413, "request body over 200000 bytes"),
        ({"json": {"items": [{"text": "a", "created_at": "2999-01-01"}], "persist": True}}, 422, "in the future"),
    ],
)
def test_bad_requests_get_clear_errors(client, kwargs, status, message):
    response = client.post("/v1/classify", **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]


def test_auth(served):
    assert httpx.get(served["base"] + "/healthz").status_code == 200
    assert httpx.get(served["base"] + "/readyz", timeout=60).status_code == 200
    response = httpx.post(served["base"] + "/v1/classify", json={"texts": ["x"]})
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
    wrong = httpx.post(served["base"] + "/v1/classify", json={"texts": ["x"]}, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    assert httpx.get(served["base"] + "/docs", headers=AUTH).status_code == 200
    assert httpx.get(served["base"] + "/v1/topics/nosuch/aggregate", headers=AUTH).status_code == 404


def _batch_settings(name: str, calls: int = 8) -> list[dict]:
    """What several calls to ``name`` report (with 2 replicas, either may answer)."""
    from ray import serve

    handle = serve.get_deployment_handle(name, app_name="moodwire")
    return [handle.batch_settings.remote().result() for _ in range(calls)]


def test_user_config_changes_colocated_batching_without_restart(served):
    before = _batch_settings("Gateway")
    assert {b["max_batch_size"] for b in before} == {64} and {b["max_queued_texts"] for b in before} == {4096}
    changed = {"max_batch_size": 32, "batch_wait_timeout_s": 0.002, "max_queued_texts": 512}
    deploy_config({"database_url": served["db_url"]}, {"Gateway": {"user_config": changed}})
    after = _batch_settings("Gateway")
    assert all({k: a[k] for k in changed} == changed for a in after)
    # The same replica processes: reconfigured, not restarted.
    assert {a["pid"] for a in after} <= {b["pid"] for b in before}
    deploy_config({"database_url": served["db_url"]})


async def _burst(base: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=120) as http:
        calls = [
            http.post("/v1/classify", json={"texts": [f"unique text {i} {j}" for j in range(48)]}) for i in range(12)
        ]
        return await asyncio.gather(*calls)


def _assert_some_busy(responses: list[httpx.Response], *, some_served: bool) -> None:
    codes = [r.status_code for r in responses]
    assert 503 in codes and set(codes) <= {200, 503}, codes
    assert (200 in codes) or not some_served, codes
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["Retry-After"] == "1" and busy.json()["error"]["type"] == "overloaded_error"


def test_overload_answers_503_with_retry_after(served):
    tiny = {"max_batch_size": 16, "batch_wait_timeout_s": 0.0, "max_queued_texts": 96}
    deploy_config({"database_url": served["db_url"]}, {"Gateway": {"user_config": tiny}})
    try:
        # 96 queued texts: the first two requests are served, later ones wait or are refused.
        _assert_some_busy(asyncio.run(_burst(served["base"])), some_served=True)
    finally:
        deploy_config({"database_url": served["db_url"]})


def test_deployments_layout_serves_reconfigures_and_sheds_load(served, client, core_pipeline):
    """`model_layout: deployments` (GPUs, clusters): the same answers from separate model
    deployments, their batching changed live, and 503 when their queues are full."""
    from ray import serve

    args = {"database_url": served["db_url"], "model_layout": "deployments"}
    gateway = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.25}, "user_config": None}  # fits 2 CPUs
    layout = {**MODEL_DEPLOYMENTS, "Gateway": gateway}
    deploy_config(args, layout)
    try:
        names = set(serve.status().applications["moodwire"].deployments)
        assert {"EmotionModel", "EmbeddingModel"} <= names
        results = client.post("/v1/classify", json={"texts": TEXTS}).json()["results"]
        expected = [r.to_dict() for r in core_pipeline.classify(TEXTS)]
        assert [r["emotion"]["label"] for r in results] == [r["emotion"]["label"] for r in expected]
        assert [r["sentiment"]["label"] for r in results] == [r["sentiment"]["label"] for r in expected]

        (before,) = _batch_settings("EmotionModel", calls=1)
        smaller = {"max_batch_size": 32, "batch_wait_timeout_s": 0.002}
        deploy_config(args, {**layout, "EmotionModel": {**layout["EmotionModel"], "user_config": smaller}})
        (after,) = _batch_settings("EmotionModel", calls=1)
        assert before["max_batch_size"] == 64 and after["max_batch_size"] == 32
        assert after["batch_wait_timeout_s"] == 0.002 and after["pid"] == before["pid"]  # not restarted

        tiny = {
            "max_ongoing_requests": 1,
            "max_queued_requests": 1,
            "user_config": {"max_batch_size": 16, "batch_wait_timeout_s": 0.0},
        }
        deploy_config(args, {**layout, "EmotionModel": {**layout["EmotionModel"], **tiny}})
        # One ongoing and one queued call: a request's 3 chunks of 16 texts already overflow.
        _assert_some_busy(asyncio.run(_burst(served["base"])), some_served=False)
    finally:
        deploy_config({"database_url": served["db_url"]})


def test_custom_metrics_are_exported(served, client):
    client.post("/v1/classify", json={"texts": ["metrics please"]})
    wanted = {
        "ray_moodwire_requests_total",
        "ray_moodwire_request_latency_seconds_bucket",
        "ray_moodwire_batch_size_bucket",
        "ray_moodwire_model_batch_seconds_bucket",
        "ray_moodwire_texts_total",
        "ray_moodwire_db_write_seconds_bucket",
    }
    found: set[str] = set()
    deadline = time.time() + 60
    while time.time() < deadline and not wanted <= found:
        try:
            body = httpx.get(f"http://127.0.0.1:{served['metrics_port']}/metrics", timeout=10).text
            found = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line.startswith("ray_moodwire")}
        except httpx.HTTPError:
            pass
        time.sleep(2)
    assert wanted <= found, sorted(found)


def test_backfill_beside_the_app_writes_through_its_aggregator(served, tmp_path, capsys):
    """A backfill on the same cluster finds the app by name and writes through its Aggregator."""
    import json

    from batch_jobs.backfill import main

    engine, url = served["engine"], served["db_url"]
    rows = [{"text": f"Rent went up again this month, flat {i}", "external_id": f"beside-{i}"} for i in range(20)]
    rows.append({"text": "", "external_id": "beside-empty"})
    source = tmp_path / "beside.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    config = ROOT / "configs" / "backfill-beside-serve.yaml"
    assert main([str(source), "--database-url", url, "--config", str(config)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written_through"] == "serve:moodwire"
    assert (summary["read"], summary["stored"], summary["failed"]) == (21, 20, 1)
    with engine.connect() as c:
        stored = c.execute(
            select(func.count()).select_from(Mention).where(Mention.external_id.like("beside-%"))
        ).scalar()
    assert stored == 21
    other = tmp_path / "other.db"
    assert main([str(source), "--database-url", f"sqlite:///{other}", "--config", str(config)]) == 2
    assert "writes to" in capsys.readouterr().err  # write_through: serve refuses another database


def test_a_killed_aggregator_answers_503_with_retry_after_never_a_bare_500(served, client):
    """Reads behind a dead Aggregator replica: Ray's ActorDiedError goes through the error table."""
    import ray

    replicas = [
        a for a in ray.util.list_named_actors(all_namespaces=True) if "#Aggregator#" in a["name"] and a["namespace"]
    ]
    assert replicas, "no Aggregator replica found"
    for replica in replicas:
        ray.kill(ray.get_actor(replica["name"], namespace=replica["namespace"]), no_restart=True)
    statuses = []
    for _ in range(20):
        response = client.get("/v1/trends")
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1"
            assert response.json()["error"]["type"] in {"service_unavailable", "storage_error"}
        time.sleep(0.2)
    assert set(statuses) <= {200, 503}, statuses
    wait_until_ready(served["base"])
    assert client.get("/v1/trends").status_code == 200


def test_the_alert_watcher_delivers_a_surge_once_and_its_restart_adds_nothing(served, client, receiver):
    """A surge in the last complete hour, written through the Aggregator as a backfill would:
    the watcher (polling every second) records one volume alert and delivers it once; a killed
    watcher comes back, scores the same hours again and neither records nor sends a second."""
    import ray
    from ray import serve

    from spikes.detection import scorable_end
    from spikes.series import floor_hour
    from tests.integration.test_spikes import history_records

    now = datetime.now(UTC)
    surge = scorable_end(now, grace_minutes=10) - timedelta(hours=1)
    records, planted = history_records(
        now,
        topics=(WATCHED, "serve-alerts-quiet"),
        surge_hours_ago=int((floor_hour(now) - surge) / timedelta(hours=1)),
        prefix="alerts-",
    )
    assert planted == surge
    aggregator = serve.get_deployment_handle("Aggregator", app_name="moodwire")
    for start in range(0, len(records), 1000):
        aggregator.store_job_batch.remote(records[start : start + 1000], [], []).result(timeout_s=120)

    deadline = time.time() + 120
    while not receiver.requests and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # a few more rounds: nothing else may arrive
    ((headers, body),) = receiver.requests
    assert (body["topic"], body["kind"], body["bucket_start"]) == (WATCHED, "volume", surge.isoformat())
    assert headers["idempotency-key"] == body["idempotency_key"]
    (alert,) = client.get("/v1/alerts", params={"topic": WATCHED}).json()["alerts"]
    assert (alert["kind"], alert["state"], alert["deliveries"][0]["attempts"]) == ("volume", "delivered", 1)
    assert client.get("/v1/alerts", params={"limit": 0}).status_code == 422

    replicas = [a for a in ray.util.list_named_actors(all_namespaces=True) if "#AlertWatcher#" in a["name"]]
    assert len(replicas) == 1
    ray.kill(ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]), no_restart=True)
    watcher = serve.get_deployment_handle("AlertWatcher", app_name="moodwire")
    deadline, status = time.time() + 120, {}
    while time.time() < deadline:
        with contextlib.suppress(Exception):
            status = watcher.status.remote().result(timeout_s=10)
            if status["rounds"] >= 3:
                break
        time.sleep(1)
    assert status.get("rounds", 0) >= 3 and status["error"] is None, status
    assert len(receiver.requests) == 1
    assert len(client.get("/v1/alerts", params={"topic": WATCHED}).json()["alerts"]) == 1
