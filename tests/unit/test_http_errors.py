"""The HTTP face's one error table, and the JSON shape of every error answer (the framework's
own included), on the Gateway's real FastAPI app and middleware; no Ray, no database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from ray.exceptions import ActorDiedError, RayTaskError
from ray.serve.exceptions import BackPressureError

from inference.validation import InvalidTextError
from serve_app import errors
from serve_app.gateway import app as gateway_app
from serve_app.middleware import Guard
from storage.errors import (
    DatabaseConfigError,
    DatabaseUnavailableError,
    InvalidLanguageError,
    InvalidRangeError,
    InvalidSpikeKindError,
    InvalidTimeError,
    QueryError,
    SchemaNotReadyError,
    SpikeQueryError,
    StorageError,
    UnknownTopicError,
)
from storage.records import InvalidRecordError

# domain error -> (status, type, Retry-After?)
EXPECTED = [
    (InvalidTextError(1, "is empty"), 422, "invalid_request_error", False),
    (InvalidRecordError(0, "created_at", "is in the future"), 422, "invalid_request_error", False),
    (errors.InvalidRequestError("no texts given"), 422, "invalid_request_error", False),
    (errors.InvalidURLError("the URL contains a NUL character (%00)"), 400, "invalid_request_error", False),
    (QueryError("limit must be between 1 and 1000"), 422, "invalid_request_error", False),
    (InvalidTimeError("until must be between 1970 and 2200", param="until"), 422, "invalid_request_error", False),
    (InvalidLanguageError("language must be a lower-case ISO 639-1 code"), 400, "invalid_request_error", False),
    (InvalidSpikeKindError("kind must be volume, ..."), 400, "invalid_request_error", False),
    (InvalidRangeError("since must be before until"), 400, "invalid_request_error", False),
    (
        SpikeQueryError("min_severity must be between 1 and 10", param="min_severity"),
        400,
        "invalid_request_error",
        False,
    ),
    (errors.TooManyTextsError("at most 2 texts per request, got 3"), 413, "invalid_request_error", False),
    (errors.BodyTooLargeError("request body over 1024 bytes"), 413, "invalid_request_error", False),
    (errors.AuthenticationError("missing or wrong API key"), 401, "authentication_error", False),
    (UnknownTopicError("unknown topic 'x'"), 404, "not_found_error", False),
    (errors.UnknownModelError("The model `x` does not exist"), 404, "invalid_request_error", False),
    (errors.MentionNotFoundError("no stored mention has external_id 'x'"), 404, "not_found_error", False),
    (errors.ServiceBusyError("the models are at capacity"), 503, "overloaded_error", True),
    (BackPressureError(num_queued_requests=9, max_queued_requests=8), 503, "overloaded_error", True),
    (ActorDiedError(), 503, "service_unavailable", True),
    (StorageError("ingest failed in the database and was rolled back"), 503, "storage_error", True),
    (DatabaseUnavailableError("cannot reach the database"), 503, "storage_error", True),
    (SchemaNotReadyError("not migrated"), 503, "storage_error", True),
    (DatabaseConfigError("the database x does not exist"), 503, "storage_error", True),
]


@pytest.mark.parametrize(("exc", "status", "kind", "retry"), EXPECTED, ids=lambda v: type(v).__name__)
def test_every_domain_error_has_one_row(exc, status, kind, retry):
    response = errors.error_response(exc, retry_after_s=7)
    assert response.status_code == status
    body = response.body.decode()
    assert f'"type":"{kind}"' in body
    assert (response.headers.get("Retry-After") == "7") is retry


def test_a_ray_wrapped_domain_error_keeps_its_row_and_its_own_first_line():
    try:
        raise UnknownTopicError("unknown topic 'nosuch'")
    except UnknownTopicError as cause:
        wrapped = RayTaskError("query", "Traceback (most recent call last): ...", cause).as_instanceof_cause()
    response = errors.error_response(wrapped)
    assert response.status_code == 404 and b"unknown topic 'nosuch'" in response.body


def test_a_bad_language_filter_from_the_aggregator_is_a_400_naming_the_parameter():
    from storage.factory import Storage
    from storage.query_types import MentionsQuery

    try:  # raised by the Aggregator replica before it touches the database
        Storage.over(None).reads.mentions.mentions(MentionsQuery(topic="economy", language="english"))
    except InvalidLanguageError as cause:
        wrapped = RayTaskError("query", "Traceback (most recent call last): ...", cause).as_instanceof_cause()
    response = errors.error_response(wrapped)
    body = json.loads(response.body)["error"]
    assert response.status_code == 400 and (body["param"], body["code"]) == ("language", "invalid_language")
    assert "ISO 639-1" in body["message"] and "'english'" in body["message"]


@pytest.mark.parametrize(
    ("kwargs", "param", "code", "words"),
    [
        ({"kind": "loudness"}, "kind", "invalid_kind", "'loudness'"),
        ({"min_severity": 0}, "min_severity", None, "between 1 and 10"),
        (
            {"since": datetime(2026, 11, 20, tzinfo=UTC), "until": datetime(2026, 11, 19, tzinfo=UTC)},
            "since",
            "invalid_range",
            "must be before until",
        ),
    ],
)
def test_bad_spike_queries_from_the_aggregator_are_400s_naming_the_parameter(kwargs, param, code, words):
    from storage.errors import SpikeQueryError
    from storage.factory import Storage
    from storage.query_types import SpikeQuery

    try:  # raised by the Aggregator replica before it touches the database
        Storage.over(None).reads.spikes.spikes(SpikeQuery(**kwargs))
    except SpikeQueryError as cause:
        wrapped = RayTaskError("query", "Traceback (most recent call last): ...", cause).as_instanceof_cause()
    response = errors.error_response(wrapped)
    body = json.loads(response.body)["error"]
    assert response.status_code == 400 and (body["param"], body["code"]) == (param, code)
    assert words in body["message"]


def test_the_spikes_route_takes_the_documented_query_parameters():
    operation = gateway_app.openapi()["paths"]["/v1/spikes"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {
        "since",
        "until",
        "topic",
        "kind",
        "min_severity",
    }


def test_the_spikes_route_asks_the_aggregator_with_one_typed_query():
    import asyncio
    from types import SimpleNamespace

    from serve_app.routes import reads
    from storage.answers import SpikesAnswer
    from storage.query_types import SpikeQuery

    calls = []

    class Spikes:
        async def remote(self, query):
            calls.append(query)
            return SpikesAnswer(spikes=[])

    replica = SimpleNamespace(aggregator=SimpleNamespace(spikes=Spikes()))
    since = datetime(2026, 11, 1, tzinfo=UTC)
    query = SpikeQuery(since=since, topic="economy", kind="volume", min_severity=3)
    body = asyncio.run(reads.spikes(query, replica))
    assert body == SpikesAnswer(spikes=[])
    assert calls == [SpikeQuery(since=since, until=None, topic="economy", kind="volume", min_severity=3)]


def test_messages_of_temporary_failures_carry_no_connection_details():
    body = errors.error_response(ActorDiedError()).body.decode()
    assert "restarting" in body and "Actor" not in body
    config = errors.error_response(DatabaseConfigError("the database postgresql://u@db.internal/x does not exist"))
    assert b"db.internal" not in config.body


def test_an_unexpected_error_is_a_plain_500():
    response = errors.error_response(RuntimeError("secret detail"))
    assert response.status_code == 500 and b"secret detail" not in response.body


@pytest.fixture(scope="module")
def http():
    return TestClient(gateway_app, raise_server_exceptions=False)


def _shape(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_framework_errors_answer_in_the_documented_shape(http):
    unknown = http.get("/no/such/route")
    assert unknown.status_code == 404 and _shape(unknown)["message"] == "Not Found"
    method = http.get("/v1/classify")
    assert method.status_code == 405 and _shape(method)["message"] == "Method Not Allowed"
    # Bytes that are not UTF-8: FastAPI's own 400 "There was an error parsing the body".
    garbled = http.post("/v1/classify", content=b'{"texts": ["\xff"]}', headers={"content-type": "application/json"})
    assert garbled.status_code == 400 and "error parsing the body" in _shape(garbled)["message"]
    malformed = http.post("/v1/classify", content=b'{"texts": [', headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and "malformed JSON" in _shape(malformed)["message"]


def test_the_middleware_answers_errors_no_handler_took():
    app = FastAPI()
    errors.install_error_handlers(app)
    app.add_middleware(Guard)

    @app.get("/bug")
    async def bug():
        raise RuntimeError("a real bug with postgresql://user:pw@host/db in it")

    @app.get("/gone")
    async def gone():
        raise ActorDiedError()

    client = TestClient(app, raise_server_exceptions=False)
    bug_response = client.get("/bug")
    assert bug_response.status_code == 500 and "postgresql" not in bug_response.text
    _shape(bug_response)
    gone_response = client.get("/gone")
    assert gone_response.status_code == 503 and gone_response.headers["Retry-After"] == "1"
    assert _shape(gone_response)["type"] == "service_unavailable"


def test_reads_against_an_unreachable_database_are_503_without_the_host():
    from storage.engine import create_database_engine
    from storage.factory import Storage
    from storage.query_types import TrendsQuery

    storage = Storage.over(create_database_engine("postgresql+psycopg2://nobody@127.0.0.1:1/nowhere"))
    with pytest.raises(DatabaseUnavailableError) as info:
        storage.reads.topics.trends(TrendsQuery())
    response = errors.error_response(info.value)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "127.0.0.1" not in response.body.decode() and "nobody" not in response.body.decode()


class _Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def inc(self, value=1, tags=None) -> None:
        self.calls.append((value, tags))

    def observe(self, value, tags=None) -> None:
        self.calls.append((value, tags))


def _guarded_app(api_key: str | None, max_body_bytes: int) -> tuple[FastAPI, SimpleNamespace]:
    app = FastAPI()
    errors.install_error_handlers(app)
    app.add_middleware(Guard)
    gateway = SimpleNamespace(
        api_key=api_key,
        args=SimpleNamespace(max_body_bytes=max_body_bytes, retry_after_s=1),
        metrics=SimpleNamespace(requests=_Recorded(), latency=_Recorded()),
    )
    app.state.gateway = gateway

    @app.post("/echo")
    async def echo(request: Request):
        return {"bytes": len(await request.body())}

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    return app, gateway


def test_the_guard_checks_the_key_and_counts_each_answer_by_route_and_status():
    app, gateway = _guarded_app("s3cret", 1024)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/healthz").status_code == 200  # open without a key
    refused = client.post("/echo", content=b"x")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert _shape(refused)["type"] == "authentication_error"
    ok = client.post("/echo", content=b"x" * 10, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json() == {"bytes": 10}
    assert client.get("/nowhere", headers={"Authorization": "Bearer s3cret"}).status_code == 404
    statuses = [tags for _, tags in gateway.metrics.requests.calls]
    assert statuses == [
        {"route": "/healthz", "status": "200"},
        {"route": "/echo", "status": "401"},
        {"route": "/echo", "status": "200"},
        {"route": "unmatched", "status": "404"},
    ]
    assert len(gateway.metrics.latency.calls) == 4


def test_the_guard_refuses_bodies_over_the_limit_declared_or_chunked():
    app, _ = _guarded_app(None, 100)
    client = TestClient(app, raise_server_exceptions=False)
    declared = client.post("/echo", content=b"x" * 101)
    assert declared.status_code == 413 and _shape(declared)["message"] == "request body over 100 bytes"

    def pieces(total: int):
        for _ in range(total // 10):
            yield b"y" * 10

    chunked = client.post("/echo", content=pieces(110))  # a generator: no Content-Length
    assert chunked.status_code == 413 and _shape(chunked)["message"] == "request body over 100 bytes"
    within = client.post("/echo", content=pieces(100))
    assert within.status_code == 200 and within.json() == {"bytes": 100}


def test_a_chunked_body_is_read_only_up_to_the_limit():
    import asyncio

    from serve_app.middleware import _whole_body

    received = []

    async def receive():
        received.append(10)
        return {"type": "http.request", "body": b"z" * 10, "more_body": True}  # never ends

    with pytest.raises(errors.BodyTooLargeError, match="request body over 100 bytes"):
        asyncio.run(_whole_body(receive, 100))
    assert sum(received) == 110  # the chunk that passed the limit, and not one more


def test_a_nul_anywhere_in_the_url_is_a_400_before_any_route_runs():
    app, _ = _guarded_app(None, 1024)
    client = TestClient(app, raise_server_exceptions=False)
    for url in ("/healthz?x=%00", "/health%00z"):
        answer = client.get(url)
        assert answer.status_code == 400 and _shape(answer)["code"] == "invalid_url"
    assert client.get("/healthz?x=%01").status_code == 200


def test_readyz_names_the_part_that_is_not_ready_and_nothing_of_the_error():
    from serve_app.routes.ops import Readiness, readyz

    async def broken_models():
        raise RuntimeError("model load failed at /srv/secret/path")

    class Ping:
        @staticmethod
        def remote():
            async def fail():
                raise DatabaseUnavailableError("cannot reach postgresql://moodwire@db.internal:5432/prod")

            return fail()

    replica = SimpleNamespace(
        online=SimpleNamespace(ready=broken_models), aggregator=SimpleNamespace(ping=Ping()), readiness=Readiness()
    )
    answer = asyncio.run(readyz(replica))
    assert answer.status_code == 503
    assert json.loads(answer.body) == {"status": "not ready", "not_ready": ["models", "database"]}
    assert replica.readiness.unready == {"models", "database"}  # logged once per change, not per probe


@pytest.mark.parametrize(("exc", "status", "kind", "retry"), EXPECTED, ids=lambda v: type(v).__name__)
def test_every_domain_error_survives_pickling_as_ray_sends_it_between_replicas(exc, status, kind, retry):
    import pickle

    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc)
    assert getattr(back, "param", None) == getattr(exc, "param", None)
    assert errors.error_response(back).status_code == status
