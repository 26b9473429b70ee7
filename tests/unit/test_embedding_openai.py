"""The openai backend against a small OpenAI-compatible server on loopback."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from inference.embedding_openai import OpenAIEmbedder, plan_requests
from inference.settings import OpenAIEmbeddingSettings

DIM = 8


def fake_vector(text: str, dims: int) -> list[float]:
    rng = np.random.default_rng(abs(hash(text)) % (2**32))
    return (rng.normal(size=dims) * 3).tolist()  # deliberately not normalised


class FakeEmbeddingsServer:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.failures: list[int] = []  # status codes to answer before succeeding
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                if outer.failures:
                    status = outer.failures.pop(0)
                    self._send(status, {"error": {"message": "try later", "type": "rate_limit"}}, retry=True)
                    return
                dims = body.get("dimensions") or DIM
                data = []
                for i, text in enumerate(body["input"]):
                    vec = np.asarray(fake_vector(text, dims), dtype=np.float32)
                    if body.get("encoding_format") == "base64":
                        emb = base64.b64encode(vec.tobytes()).decode()
                    else:
                        emb = vec.tolist()
                    data.append({"object": "embedding", "index": i, "embedding": emb})
                data.reverse()  # the client must order by index, not by position
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )

            def _send(self, status: int, payload: dict, retry: bool = False) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                if retry:
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture()
def server():
    srv = FakeEmbeddingsServer()
    yield srv
    srv.close()


def embedder_for(server: FakeEmbeddingsServer, monkeypatch, **overrides) -> OpenAIEmbedder:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return OpenAIEmbedder(OpenAIEmbeddingSettings(model="fake-embed", base_url=server.url, **overrides))


def test_embeds_in_input_order_and_normalises(server, monkeypatch):
    embedder = embedder_for(server, monkeypatch)
    texts = ["alpha", "beta", "gamma"]
    vectors = embedder.embed(texts)
    expected = np.asarray([fake_vector(t, DIM) for t in texts])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert embedder.dim == DIM
    assert server.requests[0]["auth"] == "Bearer sk-test"


def test_requests_are_split_at_2048_inputs(server, monkeypatch):
    embedder = embedder_for(server, monkeypatch)
    vectors = embedder.embed([f"text {i}" for i in range(5000)])
    assert vectors.shape == (5000, DIM)
    assert [len(r["body"]["input"]) for r in server.requests] == [2048, 2048, 904]


def test_requests_are_split_at_the_token_cap(server, monkeypatch):
    embedder = embedder_for(server, monkeypatch, max_tokens_per_request=100)
    embedder.embed(["x" * 90] * 10)  # about 31 tokens each by the conservative estimate
    sizes = [len(r["body"]["input"]) for r in server.requests]
    assert sum(sizes) == 10 and max(sizes) == 3


def test_long_input_becomes_windows_and_is_pooled(server, monkeypatch):
    embedder = embedder_for(server, monkeypatch, max_tokens_per_input=100)
    text = "".join(chr(97 + i % 26) for i in range(1000))
    vector = embedder.embed([text])[0]
    sent = server.requests[0]["body"]["input"]
    assert len(sent) > 3 and all(len(piece) <= 300 for piece in sent)
    stride = 300 - 300 // 8  # 100 tokens x 3 characters, one eighth shared with the next window
    assert "".join(p[:stride] for p in sent[:-1]) + sent[-1] == text  # windows cover the text
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_dimensions_are_passed_through(server, monkeypatch):
    embedder = embedder_for(server, monkeypatch, dimensions=4)
    assert embedder.embed(["a"]).shape == (1, 4)
    assert server.requests[0]["body"]["dimensions"] == 4


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_on_rate_limit_and_server_errors(server, monkeypatch, status):
    server.failures = [status, status]
    embedder = embedder_for(server, monkeypatch, max_retries=3)
    assert embedder.embed(["retry me"]).shape == (1, DIM)
    assert len(server.requests) == 3


def test_gives_up_after_max_retries(server, monkeypatch):
    import openai

    server.failures = [429] * 5
    embedder = embedder_for(server, monkeypatch, max_retries=1)
    with pytest.raises(openai.RateLimitError):
        embedder.embed(["nope"])
    assert len(server.requests) == 2


def test_missing_api_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIEmbedder(OpenAIEmbeddingSettings())


def test_plan_requests_keeps_order_and_limits():
    groups = plan_requests([5, 5, 5, 20, 1], max_inputs=2, max_tokens=12)
    assert groups == [[0, 1], [2], [3], [4]]
