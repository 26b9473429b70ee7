"""Gateway: the FastAPI ingress composing the model deployments and the Aggregator."""

import asyncio
import base64
import hmac
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from inference.cache import content_hash
from inference.pipeline import InvalidTextError, ModelOutputs, text_problem
from serve_app.config import ColocatedBatchConfig, ServeAppArgs
from serve_app.errors import (
    ApiError,
    StoreFailedError,
    UnknownModelError,
    error_body,
    error_response,
    short_message,
)
from serve_app.model_clients import ColocatedModels, ModelClient, RemoteModels
from serve_app.schemas import ClassifyRequest, EmbeddingsRequest
from storage.records import InvalidRecordError, MentionRecord, parse_timestamp

API_KEY_ENV = "MOODWIRE_API_KEY"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})

app = FastAPI(title="moodwire", version="0.1.0", description="Emotion, sentiment and topics for text mentions.")


# -- middleware and error handlers: registered before @serve.ingress copies the app ----------------
class BodyTooLarge(Exception):
    pass


@app.middleware("http")
async def guard(request: Request, call_next):
    """Auth, body size, metrics and the error table, in one place for every route."""
    gateway = getattr(request.app.state, "gateway", None)
    started = time.perf_counter()
    path = request.url.path
    response = await _guarded(request, call_next, gateway)
    if gateway is not None:
        route = getattr(request.scope.get("route"), "path", None) or (
            "unmatched" if response.status_code == 404 else path
        )
        gateway.metrics.requests.inc(tags={"route": route, "status": str(response.status_code)})
        gateway.metrics.latency.observe(time.perf_counter() - started, tags={"route": route})
    return response


async def _guarded(request: Request, call_next, gateway):
    if gateway is not None and gateway.api_key and request.url.path not in OPEN_PATHS:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), gateway.api_key.encode()):
            return JSONResponse(
                error_body(
                    "missing or wrong API key: send 'Authorization: Bearer <key>'",
                    "authentication_error",
                    code="invalid_api_key",
                ),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    if gateway is not None and request.method in {"POST", "PUT", "PATCH"}:
        limit = gateway.args.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return JSONResponse(error_body(f"request body over {limit} bytes", "invalid_request_error"), 413)
        body = await request.body()  # cached by Starlette for the route handler
        if len(body) > limit:
            return JSONResponse(error_body(f"request body over {limit} bytes", "invalid_request_error"), 413)
    try:
        return await call_next(request)
    except Exception as exc:
        response = error_response(exc, retry_after_s=gateway.args.retry_after_s if gateway else 1)
        if response is None:
            raise
        return response


def _describe(errors: Sequence[dict]) -> str:
    parts = []
    for err in errors:
        location = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = location[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in location[1:]) if location else ""
        if err.get("type") == "json_invalid":
            parts.append(f"malformed JSON: {err.get('ctx', {}).get('error', err.get('msg'))}")
        else:
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts)


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(error_body(_describe(exc.errors()), "invalid_request_error"), status_code=422)


for _kind in (ApiError, InvalidTextError, InvalidRecordError):

    @app.exception_handler(_kind)
    async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc) or JSONResponse(error_body(str(exc), "api_error"), status_code=500)


class _Vectors:
    """An embedder over precomputed vectors (topic prototypes are embedded remotely)."""

    def __init__(self, texts: list[str], vectors: np.ndarray, version: str) -> None:
        self._rows = dict(zip(texts, vectors, strict=True))
        self.dim = vectors.shape[1]
        self.version = version

    def embed(self, texts):
        return np.vstack([self._rows[t] for t in texts])


@serve.deployment(name="Gateway", ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=128)
@serve.ingress(app)
class Gateway:
    def __init__(
        self,
        emotion: DeploymentHandle | None,
        embedding: DeploymentHandle | None,
        aggregator: DeploymentHandle,
        args: dict,
    ) -> None:
        """``emotion``/``embedding`` are the model deployments, ``None`` when colocated."""
        from inference.settings import load_pipeline_settings
        from serve_app.metrics import GatewayMetrics
        from serve_app.result_cache import build_result_cache

        self.args = ServeAppArgs.model_validate(args)
        self.pipeline_settings = load_pipeline_settings(self.args.pipeline_config)
        if self.args.model_layout == "colocated":
            self.models: ModelClient = ColocatedModels(self.pipeline_settings)
        else:
            self.models = RemoteModels(emotion, embedding)
        self.aggregator = aggregator
        self.api_key = os.environ.get(API_KEY_ENV) or None
        self.metrics = GatewayMetrics()
        self.cache = build_result_cache(
            self.args.result_cache,
            capacity=self.args.cache_size,
            redis_url=self.args.redis_url,
            ttl_s=self.args.cache_ttl_s,
        )
        self._postprocess = None
        self._model_info: dict[str, Any] = {}
        self._ready_lock = asyncio.Lock()
        app.state.gateway = self

    def reconfigure(self, user_config: dict | None) -> None:
        """``user_config``: the colocated models' batching, applied without a restart."""
        if not isinstance(self.models, ColocatedModels):
            raise ValueError(
                "Gateway user_config sets the colocated models' batching; with model_layout "
                "'deployments' set user_config on EmotionModel and EmbeddingModel"
            )
        self.models.configure(ColocatedBatchConfig.model_validate(user_config or {}))

    def batch_settings(self) -> dict:
        """The colocated batcher's live values, and which process answered."""
        if not isinstance(self.models, ColocatedModels):
            return {"pid": os.getpid(), "model_layout": "deployments"}
        return {"pid": os.getpid(), **self.models.batch_settings()}

    # -- start-up -------------------------------------------------------------------------------
    async def ready(self):
        """Ask the model deployments for their labels/versions and embed topic prototypes once."""
        if self._postprocess is not None:
            return self._postprocess
        async with self._ready_lock:
            if self._postprocess is None:
                from inference.postprocess import PostProcessor
                from inference.sentiment import SentimentRule
                from inference.topics import TopicScorer, load_topic_file, prototype_texts

                emotion_info, embedding_info = await self.models.info()
                topic_file = load_topic_file(self.pipeline_settings.resolved_topics_file())
                views = sorted({v for topic in topic_file.topics for v in prototype_texts(topic)})
                vectors = await self.models.embed(views)
                scorer = TopicScorer(topic_file, _Vectors(views, vectors, embedding_info["version"]))
                self._model_info = {"emotion": emotion_info, "embedding": embedding_info}
                self.model_version = f"{emotion_info['version']}+{embedding_info['version']}"
                self._postprocess = PostProcessor(
                    labels=emotion_info["labels"],
                    sentiment=SentimentRule(self.pipeline_settings.sentiment, emotion_info["labels"]),
                    topics=scorer,
                )
        return self._postprocess

    async def model_outputs(self, texts: Sequence[str]) -> list[ModelOutputs]:
        keys = [f"{self.model_version}:{content_hash(t)}" for t in texts]
        found = self.cache.get_many(keys)
        todo: dict[str, str] = {}
        for key, text, hit in zip(keys, texts, found, strict=True):
            if hit is None:
                todo.setdefault(key, text)
        hits = len(texts) - sum(1 for f in found if f is None)
        if hits:
            self.metrics.cache_hits.inc(hits)
        if todo:
            self.metrics.cache_misses.inc(len(texts) - hits)
            pending = list(todo.values())
            probs, vectors = await self.models.outputs(pending)
            fresh = {key: ModelOutputs(emotion_probs=probs[i], embedding=vectors[i]) for i, key in enumerate(todo)}
            self.cache.put_many(fresh)
            found = [f if f is not None else fresh[k] for k, f in zip(keys, found, strict=True)]
        return found  # type: ignore[return-value]

    # -- routes -----------------------------------------------------------------------------------
    @app.get("/healthz", tags=["ops"])
    async def healthz(self) -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(self) -> JSONResponse:
        problems = {}
        try:
            await asyncio.wait_for(self.ready(), timeout=30)
        except Exception as exc:  # readiness reports any failure instead of raising
            problems["models"] = f"{type(exc).__name__}: {short_message(exc)}"
        try:
            await asyncio.wait_for(self.aggregator.ping.remote(), timeout=10)
        except Exception as exc:
            problems["database"] = f"{type(exc).__name__}: {short_message(exc)}"
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready", "models": self._model_info})

    @app.post("/v1/classify", tags=["classify"])
    async def classify(self, body: ClassifyRequest) -> dict:
        postprocess = await self.ready()
        if body.texts is not None:
            items = [{"text": t} for t in body.texts]
            field = "texts[{}]"
        else:
            items = [item.model_dump() for item in body.items or []]
            field = "items[{}].text"
        if len(items) > self.args.max_texts_per_request:
            raise ApiError(413, f"at most {self.args.max_texts_per_request} texts per request, got {len(items)}")
        if not items:
            raise ApiError(422, "no texts given")
        for index, item in enumerate(items):
            problem = text_problem(item["text"], self.pipeline_settings.max_text_chars)
            if problem:
                raise ApiError(422, f"{field.format(index)} {problem}", param=field.format(index))
        now = datetime.now(UTC)
        if body.persist:
            for index, item in enumerate(items):
                try:
                    parse_timestamp(item.get("created_at"), now=now, future_tolerance=timedelta(minutes=5))
                except ValueError as exc:
                    raise ApiError(
                        422, f"items[{index}].created_at: {exc}", param=f"items[{index}].created_at"
                    ) from None
        self.metrics.texts.inc(len(items), tags={"route": "/v1/classify"})
        texts = [item["text"] for item in items]
        outputs = await self.model_outputs(texts)
        analyses = postprocess.analyses(
            np.vstack([o.emotion_probs for o in outputs]), np.vstack([o.embedding for o in outputs])
        )
        if body.persist:
            records = [
                MentionRecord(
                    text=item["text"],
                    external_id=item.get("external_id"),
                    created_at=item.get("created_at"),
                    source=item.get("source"),
                    result=a.result,
                    embedding=a.embedding,
                    model_version=self.model_version,
                )
                for item, a in zip(items, analyses, strict=True)
            ]
            stored = await self.aggregator.ingest.remote(records)
            if stored.get("error") == "invalid":
                raise ApiError(422, stored["message"])
            if "error" in stored:
                raise StoreFailedError(f"storing failed, nothing was stored: {stored['message']}")
        results = []
        for item, analysis in zip(items, analyses, strict=True):
            entry = {"external_id": item["external_id"]} if item.get("external_id") is not None else {}
            entry.update(analysis.result.to_dict())
            results.append(entry)
        return {"results": results}

    def _served_models(self) -> dict[str, dict]:
        emotion = self._model_info.get("emotion", {})
        return {
            self.args.embedding_model_name: {"kind": "embedding"},
            "moodwire-emotion": {"kind": "classification", "version": emotion.get("version")},
        }

    @app.get("/v1/models", tags=["openai"])
    async def models(self) -> dict:
        await self.ready()
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "moodwire"} for name in self._served_models()
            ],
        }

    @app.post("/v1/embeddings", tags=["openai"])
    async def embeddings(self, body: EmbeddingsRequest) -> dict:
        await self.ready()
        if body.model not in {self.args.embedding_model_name, "default"}:
            raise UnknownModelError(f"The model `{body.model}` does not exist or is not an embedding model")
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        if not texts:
            raise ApiError(422, "'input' must not be empty", param="input")
        if len(texts) > self.args.max_texts_per_request:
            raise ApiError(413, f"at most {self.args.max_texts_per_request} inputs per request, got {len(texts)}")
        for index, text in enumerate(texts):
            problem = text_problem(text, self.pipeline_settings.max_text_chars)
            if problem:
                raise ApiError(422, f"input[{index}] {problem}", param="input")
        dim = self._model_info["embedding"]["dim"]
        if body.dimensions is not None and body.dimensions != dim:
            raise ApiError(422, f"model `{body.model}` only supports dimensions={dim}", param="dimensions")
        self.metrics.texts.inc(len(texts), tags={"route": "/v1/embeddings"})
        outputs, tokens = await asyncio.gather(self.model_outputs(texts), self.models.count_tokens(texts))
        data = []
        for index, output in enumerate(outputs):
            vector = np.asarray(output.embedding, dtype="<f4")
            value = base64.b64encode(vector.tobytes()).decode() if body.encoding_format == "base64" else vector.tolist()
            data.append({"object": "embedding", "index": index, "embedding": value})
        return {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @app.get("/v1/topics", tags=["topics"])
    async def topics(self) -> dict:
        return {"topics": await self.aggregator.query.remote("topics", {})}

    @app.get("/v1/topics/{key}/aggregate", tags=["topics"])
    async def aggregate(
        self,
        key: str,
        window: str = "hour",
        since: datetime | None = None,
        until: datetime | None = None,
        tz: str = "UTC",
    ) -> dict:
        kwargs = {"topic": key, "window": window, "since": since, "until": until, "tz": tz}
        return await self.aggregator.query.remote("aggregate", kwargs)

    @app.get("/v1/trends", tags=["topics"])
    async def trends(self, window: str = "day", days: int = 30, tz: str = "UTC") -> dict:
        return {"trends": await self.aggregator.query.remote("trends", {"window": window, "days": days, "tz": tz})}

    @app.get("/v1/mentions", tags=["topics"])
    async def mentions(
        self,
        topic: str,
        since: datetime | None = None,
        until: datetime | None = None,
        sentiment: str | None = None,
        emotion: str | None = None,
        source: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict:
        kwargs = {
            "topic": topic,
            "since": since,
            "until": until,
            "sentiment": sentiment,
            "emotion": emotion,
            "source": source,
            "limit": limit,
            "cursor": cursor,
        }
        return await self.aggregator.query.remote("mentions", kwargs)

    @app.delete("/v1/mentions/{external_id}", tags=["topics"])
    async def delete_mention(self, external_id: str) -> dict:
        deleted = await self.aggregator.query.remote("delete", {"external_ids": [external_id]})
        if not deleted:
            raise ApiError(404, f"no stored mention has external_id {external_id!r}", kind="not_found_error")
        return {"deleted": external_id}
