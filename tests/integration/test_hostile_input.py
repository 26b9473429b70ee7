"""Hostile input against the running app (configs/serve.yaml behind HAProxy, on its own
PostgreSQL schema, with an API key): generated requests over every route of its OpenAPI
schema, then the named cases. No answer may be a 5xx, hang, or leave the documented error
shape; stored data must stay intact."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select, text

from inference.settings import load_pipeline_settings
from storage.models import Mention
from tests.integration.conftest import make_pg_engine, schema_url
from tests.integration.serving import local_serve_app

API_KEY = "hostile-" + uuid.uuid4().hex[:8]
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MAX_TEXTS = 2048  # configs/serve.yaml's max_texts_per_request
# MOODWIRE_HOSTILE_EXAMPLES=N: a deeper, random run of the generated requests (by hand).
DEEP_EXAMPLES = int(os.environ.get("MOODWIRE_HOSTILE_EXAMPLES", "0"))


@pytest.fixture(scope="module")
def app(pg_admin):
    from storage.migrate import upgrade

    engine, schema = make_pg_engine(pg_admin, prefix="mw_test_hostile_")
    upgrade(engine)
    try:
        with (
            local_serve_app(
                {"database_url": schema_url(schema)}, api_key=API_KEY, namespace="moodwire-hostile"
            ) as base,
            httpx.Client(base_url=base, headers=AUTH, timeout=120) as http,
        ):
            seeded = http.post(
                "/v1/classify",
                json={"items": [{"text": "Rents are up again", "external_id": "seed-1"}], "persist": True},
            )
            assert seeded.status_code == 200
            spec = http.get("/openapi.json").json()
            yield SimpleNamespace(base=base, http=http, engine=engine, schema=schema, spec=spec)
    finally:
        engine.dispose()
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def documented_error(answer: httpx.Response) -> dict:
    """The error object of a 4xx answer, asserting the documented shape."""
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.text[:200]
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


def check(answer: httpx.Response) -> None:
    assert answer.status_code < 500, (answer.request.method, str(answer.request.url)[:300], answer.text[:300])
    if answer.status_code >= 400:
        documented_error(answer)


# -- generated requests over the schema ----------------------------------------------------------
# URLs carry UTF-8: every character but surrogates, which no client can encode.
url_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
hostile_scalars = st.one_of(
    url_text,
    st.sampled_from(["' OR 1=1 --", "'; DROP TABLE mentions; --", "../..", "%00", "a/b", "\x00", "NaN", "-1", "0"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["2026-11-01T00:00:00Z", "0001-01-01T00:00:00", "9999-12-31T23:59:59+14:00", "hour", "day"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40) | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
texts = st.text(max_size=60)  # surrogates and NUL included: the app must refuse those with a 4xx
classify_bodies = st.one_of(
    st.fixed_dictionaries({"texts": st.lists(texts, max_size=4)}, optional={"persist": st.booleans()}),
    st.fixed_dictionaries(
        {
            "items": st.lists(
                st.fixed_dictionaries(
                    {"text": texts}, optional={"external_id": texts, "source": texts, "created_at": hostile_scalars}
                ),
                max_size=3,
            )
        },
        optional={"persist": st.booleans(), "extra": json_values},
    ),
    json_values,
)
embeddings_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "input": st.one_of(texts, st.lists(texts, max_size=3)),
            "model": st.sampled_from(["default", "all-MiniLM-L6-v2", "x"]),
        },
        optional={
            "encoding_format": st.sampled_from(["float", "base64", "hex"]),
            "dimensions": json_values,
            "user": texts,
        },
    ),
    json_values,
)


# Mostly JSON; sometimes none, a wrong one, or JSON with odd parameters.
CONTENT_TYPES = st.one_of(
    st.just("application/json"),
    st.sampled_from(
        [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "application/vnd.api+json",
        ]
    ),
)


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


@st.composite
def requests_for(draw, spec: dict):
    method, path, op = draw(st.sampled_from(operations(spec)))
    url = path
    query = {}
    for parameter in op.get("parameters", []):
        value = draw(hostile_scalars)
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", quote(value, safe="") or "x")
        elif draw(st.booleans()):
            query[parameter["name"]] = value
    body = None
    if path == "/v1/classify":
        body = draw(classify_bodies)
    elif path == "/v1/embeddings":
        body = draw(embeddings_bodies)
    return method, url, query, body


def test_generated_requests_over_every_route_never_answer_5xx_and_errors_keep_the_documented_shape(app):
    seen_routes = set()

    @settings(
        max_examples=DEEP_EXAMPLES or 250,
        deadline=None,
        database=None,
        derandomize=not DEEP_EXAMPLES,  # CI repeats the same 250; a deep run draws new ones
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests_for(app.spec), content_type=CONTENT_TYPES)
    def property_(request, content_type):
        method, url, query, body = request
        seen_routes.add(url.split("?")[0] if "{" not in url else url)
        if body is None:
            answer = app.http.request(method, url, params=query, timeout=30)
        else:  # json.dumps keeps lone surrogates as \ud800 escapes, as a hostile client sends them
            content = json.dumps(body).encode()
            headers = {"Content-Type": content_type} if content_type else {}
            answer = app.http.request(method, url, params=query, content=content, timeout=30, headers=headers)
        check(answer)

    property_()
    assert len(seen_routes) >= 10
    with app.engine.connect() as c:  # the tables are intact, the seeded mention still there
        assert c.execute(select(func.count()).where(Mention.external_id == "seed-1")).scalar() == 1


def test_unknown_or_ill_typed_body_fields_are_422_naming_them(app):
    unknown = app.http.post("/v1/classify", json={"texts": ["fine"], "persit": True})
    assert unknown.status_code == 422 and "persit" in documented_error(unknown)["message"]
    ill_typed = app.http.post("/v1/classify", json={"texts": "not a list"})
    assert ill_typed.status_code == 422 and "texts" in documented_error(ill_typed)["message"]
    embeddings = app.http.post("/v1/embeddings", json={"input": "hi", "model": "default", "foo": 1})
    assert embeddings.status_code == 422 and "foo" in documented_error(embeddings)["message"]
    user = app.http.post("/v1/embeddings", json={"input": "hi", "model": "default", "user": "analyst-7"})
    assert user.status_code == 200  # OpenAI's own optional field


# -- named cases ---------------------------------------------------------------------------------
def post_raw(app, path: str, content: bytes) -> httpx.Response:
    return app.http.post(path, content=content, headers={"Content-Type": "application/json"})


def test_invalid_utf8_is_a_400(app):
    answer = post_raw(app, "/v1/classify", b'{"texts": ["caf\xe9"]}')
    assert answer.status_code == 400 and documented_error(answer)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"texts": ["ok", "bad \\ud800 here"]}', "texts[1]"),
        (b'{"items": [{"text": "fine", "external_id": "\\udfff"}], "persist": true}', "items[0].external_id"),
        (b'{"input": ["\\ud83d"], "model": "default"}', "input"),
        (b'{"texts": ["nul \\u0000 inside"]}', "texts[0]"),
    ],
    ids=["surrogate-text", "surrogate-external-id", "surrogate-embeddings", "nul"],
)
def test_lone_surrogates_and_nul_are_422_naming_the_field(app, body, param):
    path = "/v1/embeddings" if b'"input"' in body else "/v1/classify"
    answer = post_raw(app, path, body)
    assert answer.status_code == 422, answer.text
    assert documented_error(answer)["param"] == param


def test_control_right_to_left_zero_width_and_emoji_texts_are_classified_and_stored_as_sent(app):
    texts = {
        "control": "bell\x07 and escape\x1b[31m in a post about rents",
        "rtl": "\u05e9\u05db\u05e8 \u05d3\u05d9\u05e8\u05d4 \u200f\u05e2\u05dc\u05d4 \u202eevil",
        "zero-width": "r\u200be\u200dn\u200ct\ufeff prices",
        "emoji": "\U0001f621\U0001f621\U0001f525\U0001f3e0",
    }
    items = [{"text": t, "external_id": f"odd-{name}"} for name, t in texts.items()]
    answer = app.http.post("/v1/classify", json={"items": items, "persist": True})
    assert answer.status_code == 200 and len(answer.json()["results"]) == len(texts)
    with app.engine.connect() as c:
        stored = dict(
            c.execute(select(Mention.external_id, Mention.text).where(Mention.external_id.like("odd-%"))).all()
        )
    assert stored == {f"odd-{name}": t for name, t in texts.items()}


def test_a_text_of_exactly_max_text_chars_is_classified_and_one_more_is_422(app):
    limit = load_pipeline_settings().max_text_chars
    words = ("Rents and wages and prices " * (limit // 27 + 1))[:limit]
    assert app.http.post("/v1/classify", json={"texts": [words]}).status_code == 200
    over = app.http.post("/v1/classify", json={"texts": [words + "x"]})
    assert over.status_code == 422 and str(limit) in documented_error(over)["message"]


def test_2048_texts_are_answered_and_2049_are_413(app):
    assert (
        len(app.http.post("/v1/classify", json={"texts": ["Bus fares again"] * MAX_TEXTS}).json()["results"])
        == MAX_TEXTS
    )
    over = app.http.post("/v1/classify", json={"texts": ["Bus fares again"] * (MAX_TEXTS + 1)})
    assert over.status_code == 413 and documented_error(over)["code"] == "too_many_texts"


def test_deeply_nested_json_and_huge_numbers_are_4xx(app):
    nested = b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    check(post_raw(app, "/v1/classify", nested))
    assert post_raw(app, "/v1/classify", nested).status_code in (400, 422)
    huge = post_raw(app, "/v1/classify", b'{"texts": ["a"], "persist": 1e999}')
    assert huge.status_code == 422
    for path in ("/v1/trends?days=" + "9" * 40, "/v1/mentions?topic=housing&limit=" + "9" * 40, "/v1/alerts?limit=-1"):
        answer = app.http.get(path)
        assert 400 <= answer.status_code < 500, (path, answer.text)
        documented_error(answer)


def test_sql_looking_filter_values_are_data_and_leave_the_tables_intact(app):
    before = inspect(app.engine).get_table_names(schema=app.schema)
    for value in [
        "' OR '1'='1",
        "housing'; DROP TABLE mentions; --",
        'x" OR 1=1 --',
        "%' UNION SELECT * FROM mentions --",
    ]:
        for name in ("topic", "source", "sentiment", "emotion", "language", "cursor"):
            params = {"topic": "housing", name: value}
            check(app.http.get("/v1/mentions", params=params))
        check(app.http.get(f"/v1/topics/{quote(value, safe='')}/aggregate"))
        check(app.http.get("/v1/spikes", params={"topic": value, "kind": value}))
        check(app.http.delete(f"/v1/mentions/{quote(value, safe='')}"))
    assert inspect(app.engine).get_table_names(schema=app.schema) == before
    with app.engine.connect() as c:
        assert c.execute(select(func.count()).where(Mention.external_id == "seed-1")).scalar() == 1


@pytest.mark.parametrize("key", ["a/b", "..", "a%2Fb", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"])
def test_topic_keys_with_slashes_and_dots_are_404s(app, key):
    for route in ("aggregate", "timeline"):
        answer = app.http.get(f"/v1/topics/{key}/{route}")
        assert answer.status_code == 404, (key, answer.text)
        documented_error(answer)


@pytest.mark.parametrize(
    "url", ["/v1/topics/%00/aggregate", "/v1/mentions?topic=housing&source=a%00b", "/v1/mentions/%00"]
)
def test_a_nul_in_a_path_or_query_is_a_400(app, url):
    answer = app.http.request("DELETE" if url.startswith("/v1/mentions/") else "GET", url)
    assert answer.status_code == 400 and documented_error(answer)["code"] == "invalid_url"


def test_a_1_mb_authorization_header_is_a_400_or_a_closed_connection(app):
    """HAProxy refuses headers past its 16 kB buffer before any of the app runs; its own
    page for that parse error is plain HTML (HAProxy 2.8 uses no errorfile there)."""
    try:
        answer = httpx.get(f"{app.base}/v1/topics", headers={"Authorization": "Bearer " + "a" * 1_000_000}, timeout=30)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        return  # a closed connection is an answer too
    assert answer.status_code in (400, 431), answer.status_code


def test_twenty_slow_bodies_do_not_hold_up_other_clients(app):
    """Twenty clients each trickle a body for 6 s; meanwhile other requests are answered
    within 2 s each."""
    host, port = app.base.removeprefix("http://").split(":")
    body = json.dumps({"texts": ["slowly sent text about rents"]}).encode()
    finished = []

    def trickle() -> None:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            head = (
                f"POST /v1/classify HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {API_KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode())
            for i in range(0, len(body), max(1, len(body) // 12)):
                sock.sendall(body[i : i + max(1, len(body) // 12)])
                time.sleep(0.5)
            finished.append(sock.recv(65536).split(b"\r\n", 1)[0])

    slow = [threading.Thread(target=trickle) for _ in range(20)]
    for thread in slow:
        thread.start()
    time.sleep(0.5)
    latencies = []
    while any(thread.is_alive() for thread in slow):
        started = time.monotonic()
        assert app.http.post("/v1/classify", json={"texts": ["quick one"]}).status_code == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.1)
    assert latencies and max(latencies) < 2.0, max(latencies)
    assert len(finished) == 20 and all(b" 200 " in line for line in finished), finished


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z"])
@pytest.mark.parametrize("path", ["/v1/topics/housing/aggregate", "/v1/topics/housing/timeline", "/v1/spikes"])
def test_times_at_the_ends_of_the_calendar_are_422_naming_the_parameter(app, path, moment):
    for name in ("since", "until"):
        answer = app.http.get(path, params={name: moment})
        assert answer.status_code == 422, (path, name, answer.text)
        assert documented_error(answer)["param"] == name
