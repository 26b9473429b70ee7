"""``POST /v1/classify``, ``POST /v1/embeddings`` and ``GET /v1/models``.

A classify request is validated once (``serve_app.requests``, against storage's rules; with
``persist`` that also computes each text's hash and storage key), its texts go to the models
(a result cache in front, keyed by the same hashes), the shared ``PostProcessor`` turns the
outputs into results, and with ``persist`` the prepared mentions go to the Aggregator, which
stores them without validating again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from serve_app.requests import (
    classified_mentions,
    classify_response,
    embeddings_response,
    json_response,
    validate_classify,
    validate_embeddings,
)
from serve_app.routes.replica import GatewayState, replica
from serve_app.schemas import ClassifyRequest, EmbeddingsRequest

router = APIRouter()


@router.post("/v1/classify", tags=["classify"], response_model=None)
async def classify(body: ClassifyRequest, gateway: GatewayState = Depends(replica)) -> Response:
    online = gateway.online
    await online.ready()
    job = validate_classify(
        body, rules=gateway.rules, max_texts=gateway.args.max_texts_per_request, now=datetime.now(UTC)
    )
    gateway.metrics.texts.inc(len(job.texts), tags={"route": "/v1/classify"})
    analyses = await online.analyse(job.texts, digests=job.digests)
    if job.prepared is not None:
        await gateway.aggregator.ingest.remote(classified_mentions(job, analyses, online.model_version))
    return json_response(classify_response(job, analyses))


@router.get("/v1/models", tags=["openai"])
async def models(gateway: GatewayState = Depends(replica)) -> dict:
    """The served models, in OpenAI's list shape."""
    await gateway.online.ready()
    names = [gateway.args.embedding_model_name, "moodwire-emotion"]
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "moodwire"} for name in dict.fromkeys(names)
        ],
    }


@router.post("/v1/embeddings", tags=["openai"], response_model=None)
async def embeddings(body: EmbeddingsRequest, gateway: GatewayState = Depends(replica)) -> Response:
    online = gateway.online
    await online.ready()
    texts = validate_embeddings(
        body,
        served_names={gateway.args.embedding_model_name, "default"},
        dim=online.info.embedding_dim,
        max_texts=gateway.args.max_texts_per_request,
        max_text_chars=gateway.pipeline_settings.max_text_chars,
    )
    gateway.metrics.texts.inc(len(texts), tags={"route": "/v1/embeddings"})
    vectors, tokens = await online.embeddings(texts)
    return json_response(embeddings_response(body, vectors, tokens))
