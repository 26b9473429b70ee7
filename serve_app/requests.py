"""Request validation and response formatting for the API routes: Ray-free, so the unit tier
tests it directly.

Each route validates its request here once, against storage's own rules (``RecordRules``):
what passes is stored without being checked again on the other side of the Aggregator hop.
Problems are raised as domain errors naming the field (``items[2].created_at``); the error
table in ``serve_app.errors`` decides their status.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from fastapi.responses import Response

from inference.postprocess import Analysis
from inference.validation import text_problem
from serve_app.errors import InvalidRequestError, TooManyTextsError, UnknownModelError
from serve_app.schemas import ClassifyRequest, EmbeddingsRequest
from storage.records import InvalidRecordError, MentionRecord, PreparedMention, RecordRules, prepare


@dataclass(frozen=True, slots=True)
class ClassifyJob:
    """A validated ``/v1/classify`` request: its texts, and with ``persist`` their storage keys."""

    texts: list[str]
    external_ids: list[str | None]
    prepared: list[PreparedMention] | None  # None: results are not stored

    @property
    def digests(self) -> list[str] | None:
        """The texts' SHA-256 when preparing them for storage computed it (the result cache
        keys by the same hash, so a persisted text is hashed once)."""
        return [p.content_hash for p in self.prepared] if self.prepared is not None else None


def _field(body: ClassifyRequest, index: int, name: str) -> str:
    return f"texts[{index}]" if body.texts is not None else f"items[{index}].{name}"


def check_count(count: int, *, limit: int, what: str = "texts") -> None:
    if count > limit:
        raise TooManyTextsError(f"at most {limit} {what} per request, got {count}")


def validate_classify(body: ClassifyRequest, *, rules: RecordRules, max_texts: int, now: datetime) -> ClassifyJob:
    if body.texts is not None:
        texts = list(body.texts)
        records = [MentionRecord(text=t) for t in texts]
    else:
        items = body.items or []
        texts = [i.text for i in items]
        records = [
            MentionRecord(text=i.text, external_id=i.external_id, created_at=i.created_at, source=i.source)
            for i in items
        ]
    check_count(len(records), limit=max_texts)
    if not records:
        raise InvalidRequestError("no texts given", param="texts" if body.texts is not None else "items")
    prepared = None
    if body.persist:
        try:
            prepared = prepare(records, rules=rules, now=now, require_result=False)
        except InvalidRecordError as exc:
            param = _field(body, exc.index, exc.field)
            raise InvalidRequestError(f"{param} {exc.problem}", param=param) from None
    else:
        for index, record in enumerate(records):
            problem = text_problem(record.text, rules.max_text_chars)
            if problem:
                param = _field(body, index, "text")
                raise InvalidRequestError(f"{param} {problem}", param=param)
    return ClassifyJob(texts=list(texts), external_ids=[r.external_id for r in records], prepared=prepared)


def classified_mentions(job: ClassifyJob, analyses: Sequence[Analysis], model_version: str) -> list[PreparedMention]:
    """The job's prepared mentions with their results attached, ready to store."""
    assert job.prepared is not None
    return [
        dataclasses.replace(
            p,
            record=dataclasses.replace(p.record, result=a.result, embedding=a.embedding, model_version=model_version),
        )
        for p, a in zip(job.prepared, analyses, strict=True)
    ]


def classify_response(job: ClassifyJob, analyses: Sequence[Analysis]) -> dict:
    results = []
    for external_id, analysis in zip(job.external_ids, analyses, strict=True):
        entry = {"external_id": external_id} if external_id is not None else {}
        entry.update(analysis.result.to_dict())
        results.append(entry)
    return {"results": results}


def validate_embeddings(
    body: EmbeddingsRequest,
    *,
    served_names: set[str],
    dim: int,
    max_texts: int,
    max_text_chars: int,
) -> list[str]:
    if body.model not in served_names:
        raise UnknownModelError(f"The model `{body.model}` does not exist or is not an embedding model")
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts:
        raise InvalidRequestError("'input' must not be empty", param="input")
    check_count(len(texts), limit=max_texts, what="inputs")
    for index, text in enumerate(texts):
        problem = text_problem(text, max_text_chars)
        if problem:
            raise InvalidRequestError(f"input[{index}] {problem}", param="input")
    if body.dimensions is not None and body.dimensions != dim:
        raise InvalidRequestError(f"model `{body.model}` only supports dimensions={dim}", param="dimensions")
    return texts


def json_response(answer: dict) -> Response:
    """A route's answer encoded by orjson (numpy rows and scalars included), handed to the
    client as is: FastAPI's own path re-walks the answer (``jsonable_encoder``) and encodes it
    with the standard library, which for vectors and score dicts costs more than the model
    spends on a short text (docs/PERFORMANCE.md)."""
    import orjson

    return Response(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def embeddings_response(body: EmbeddingsRequest, vectors: np.ndarray, tokens: int) -> dict:
    """The OpenAI-shaped answer; ``float`` rows stay numpy arrays for ``json_response``."""
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    if body.encoding_format == "base64":
        values: Sequence = [base64.b64encode(row.tobytes()).decode() for row in rows]
    else:
        values = list(rows)
    data = [{"object": "embedding", "index": index, "embedding": value} for index, value in enumerate(values)]
    return {
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
