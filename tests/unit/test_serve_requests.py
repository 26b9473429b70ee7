"""Request validation and response formatting of the API routes (Ray-free)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from serve_app.errors import InvalidRequestError, TooManyTextsError, UnknownModelError
from serve_app.requests import (
    classify_response,
    embeddings_response,
    json_response,
    validate_classify,
    validate_embeddings,
)
from serve_app.schemas import ClassifyRequest, EmbeddingsRequest
from storage.records import RecordRules

RULES = RecordRules(max_text_chars=20, future_tolerance=timedelta(minutes=5))
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def classify(**body):
    return validate_classify(ClassifyRequest(**body), rules=RULES, max_texts=3, now=NOW)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"texts": ["fine", "  "]}, InvalidRequestError, "texts[1] is empty"),
        ({"items": [{"text": "x" * 21}]}, InvalidRequestError, "items[0].text is 21 characters long"),
        ({"texts": []}, InvalidRequestError, "no texts given"),
        ({"texts": ["a"] * 4}, TooManyTextsError, "at most 3 texts per request, got 4"),
        (
            {"items": [{"text": "a"}, {"text": "b", "created_at": "2026-11-20T13:00:00Z"}], "persist": True},
            InvalidRequestError,
            "items[1].created_at 2026-11-20T13:00:00Z is in the future",
        ),
        ({"items": [{"text": "a", "created_at": "soon"}], "persist": True}, InvalidRequestError, "not an ISO 8601"),
        ({"items": [{"text": "a", "external_id": "x" * 300}], "persist": True}, InvalidRequestError, "external_id"),
    ],
)
def test_bad_requests_name_the_field(body, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        classify(**body)


def test_times_are_only_checked_when_results_are_stored():
    job = classify(items=[{"text": "a", "created_at": "soon"}])
    assert job.prepared is None and job.texts == ["a"]


def test_a_stored_request_is_keyed_once_with_storage_rules():
    job = classify(items=[{"text": "a", "external_id": "e1", "created_at": "2026-11-20T12:04:00+00:00"}], persist=True)
    (prepared,) = job.prepared
    assert prepared.idempotency_key == "ext:e1" and prepared.given_created_at
    assert prepared.created_at == datetime(2026, 11, 20, 12, 4)


def test_classify_response_keeps_external_ids(tmp_path):
    from inference.postprocess import PostProcessor
    from tests.unit.fakes import fake_models, fake_settings

    emotion, embedder = fake_models()
    post = PostProcessor.from_settings(fake_settings(tmp_path), labels=emotion.labels, embedder=embedder)
    texts = ["raise taxes", "vote"]
    analyses = post.analyses(texts, probs=emotion.predict_proba(texts), vectors=embedder.embed(texts))
    job = classify(items=[{"text": texts[0], "external_id": "e1"}, {"text": texts[1]}])
    results = classify_response(job, analyses)["results"]
    assert results[0]["external_id"] == "e1" and "external_id" not in results[1]
    assert results[0]["topics"][0]["key"] == "economy"


def test_embeddings_requests_and_both_encodings():
    def check(**body):
        return validate_embeddings(
            EmbeddingsRequest(**body), served_names={"m", "default"}, dim=4, max_texts=2, max_text_chars=20
        )

    assert check(model="m", input="hi") == ["hi"]
    with pytest.raises(UnknownModelError):
        check(model="other", input="hi")
    with pytest.raises(InvalidRequestError, match="dimensions=4"):
        check(model="m", input="hi", dimensions=8)
    with pytest.raises(TooManyTextsError):
        check(model="m", input=["a", "b", "c"])
    with pytest.raises(InvalidRequestError, match=r"input\[0\] is empty"):
        check(model="m", input=[""])
    vector = np.array([0.5, -0.5, 0.5, -0.5], dtype=np.float32)
    floats = json.loads(
        json_response(embeddings_response(EmbeddingsRequest(model="m", input="x"), np.stack([vector]), 3)).body
    )
    assert floats["data"][0]["embedding"] == vector.tolist() and floats["usage"]["prompt_tokens"] == 3
    encoded = embeddings_response(
        EmbeddingsRequest(model="m", input="x", encoding_format="base64"), np.stack([vector]), 3
    )
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), "<f4"), vector)
