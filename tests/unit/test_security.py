"""The HTTP face's security defaults on the Gateway's real app and middleware (no Ray): API
docs behind the key, CORS off unless configured, a warning for an open non-loopback bind."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serve_app import errors
from serve_app.gateway import app as gateway_app
from serve_app.local import is_loopback, warn_if_open
from serve_app.middleware import ConfiguredCORS, Guard

KEY = "s3cret-key"


class _Ignored:
    def inc(self, *args, **kwargs) -> None:
        pass

    observe = inc


def _replica(api_key: str | None, cors_origins: list[str] | None = None) -> SimpleNamespace:
    args = SimpleNamespace(max_body_bytes=1024, retry_after_s=1, cors_origins=cors_origins or [])
    return SimpleNamespace(api_key=api_key, args=args, metrics=SimpleNamespace(requests=_Ignored(), latency=_Ignored()))


@pytest.fixture
def keyed_gateway():
    """The real Gateway app as a replica with a key serves it."""
    gateway_app.state.gateway = _replica(KEY)
    try:
        yield TestClient(gateway_app, raise_server_exceptions=False)
    finally:
        del gateway_app.state.gateway


def test_api_docs_and_schema_need_the_key_when_one_is_set(keyed_gateway):
    for path in ("/docs", "/openapi.json", "/redoc"):
        refused = keyed_gateway.get(path)
        assert refused.status_code == 401, path
        assert refused.json()["error"]["type"] == "authentication_error"
    schema = keyed_gateway.get("/openapi.json", headers={"Authorization": f"Bearer {KEY}"})
    assert schema.status_code == 200 and "/v1/classify" in schema.json()["paths"]
    assert keyed_gateway.get("/docs", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_the_key_is_never_echoed_in_an_answer(keyed_gateway):
    wrong = keyed_gateway.get("/openapi.json", headers={"Authorization": f"Bearer {KEY}x"})
    assert wrong.status_code == 401 and KEY not in wrong.text


def _cors_app(origins: list[str]) -> TestClient:
    app = FastAPI()
    errors.install_error_handlers(app)
    app.add_middleware(Guard)
    app.add_middleware(ConfiguredCORS)
    app.state.gateway = _replica(KEY, origins)

    @app.get("/v1/topics")
    async def topics():
        return {"topics": []}

    return TestClient(app, raise_server_exceptions=False)


def test_cors_is_off_by_default():
    client = _cors_app([])
    answer = client.get("/v1/topics", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    preflight = client.options(
        "/v1/topics", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_configured_origins_get_cors_headers_on_answers_errors_and_preflights_without_a_key():
    client = _cors_app(["https://dash.example"])
    allowed = {"Origin": "https://dash.example"}
    preflight = client.options(
        "/v1/topics",
        headers=allowed | {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://dash.example"
    refused = client.get("/v1/topics", headers=allowed)  # no key: the 401 still readable by the page
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://dash.example"
    ok = client.get("/v1/topics", headers=allowed | {"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://dash.example"
    other = client.get("/v1/topics", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {KEY}"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("moodwire.internal", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_an_open_non_loopback_bind_is_warned_about_and_a_keyed_or_loopback_one_is_not(monkeypatch, capsys):
    monkeypatch.delenv("MOODWIRE_API_KEY", raising=False)
    warn_if_open("0.0.0.0")
    warning = capsys.readouterr().err
    assert "MOODWIRE_API_KEY is not set" in warning and "0.0.0.0" in warning
    warn_if_open("127.0.0.1")
    monkeypatch.setenv("MOODWIRE_API_KEY", KEY)
    warn_if_open("0.0.0.0")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("shutdown_grace_s: -1", "'shutdown_grace_s': Input should be greater than or equal to 0 (got -1)"),
        ("cors_origins: https://dash.example", "'cors_origins': Input should be a valid list"),
    ],
)
def test_a_bad_new_serve_setting_names_the_file_and_key_before_ray_starts(tmp_path, capsys, line, message):
    import yaml

    from inference.config_files import project_configs_dir
    from moodwire.cli import main

    config = yaml.safe_load((project_configs_dir() / "serve.yaml").read_text(encoding="utf-8"))
    key, value = line.split(": ", 1)
    config["applications"][0]["args"][key] = yaml.safe_load(value)
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["serve", "--config", str(path), "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"moodwire serve: {path}: applications[0].args: ") and message in err
    assert "\n" not in err


def test_every_read_route_documents_its_answer_in_the_openapi_schema(keyed_gateway):
    """Read routes answer with response models, so /openapi.json describes every answer."""
    schema = keyed_gateway.get("/openapi.json", headers={"Authorization": f"Bearer {KEY}"}).json()
    reads = {
        "/v1/topics": "TopicsAnswer",
        "/v1/topics/{key}/aggregate": "AggregateAnswer",
        "/v1/trends": "TrendsAnswer",
        "/v1/overview": "OverviewAnswer",
        "/v1/topics/{key}/timeline": "TimelineAnswer",
        "/v1/spikes": "SpikesAnswer",
        "/v1/alerts": "AlertsAnswer",
        "/v1/mentions": "MentionsPage",
    }
    for path, model in reads.items():
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["application/json"]["schema"]["$ref"].endswith(f"/{model}"), path
        assert schema["components"]["schemas"][model]["properties"], model
    assert "text/csv" in schema["paths"]["/v1/mentions"]["get"]["responses"]["200"]["content"]
    parameters = {p["name"] for p in schema["paths"]["/v1/mentions"]["get"]["parameters"]}
    assert {"topic", "since", "until", "sentiment", "language", "include_unsupported", "limit", "cursor"} <= parameters
