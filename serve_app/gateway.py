"""Gateway: the FastAPI ingress. Thin routes over ``OnlineClassifier`` (result cache, models,
shared post-processing), ``serve_app.requests`` (validation, formatting) and the Aggregator.

A ``/v1/classify`` request is validated once here (``serve_app.requests``, storage's rules),
its texts go to the models (a result cache in front), the shared ``PostProcessor`` turns the
outputs into results, and with ``persist`` the prepared mentions go to the Aggregator, which
stores them without validating again. Every failure is a domain error that
``serve_app.errors`` turns into a status.
"""

import asyncio
import hmac
import logging
import os
import time
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app.config import ColocatedBatchConfig, ServeAppArgs
from serve_app.errors import (
    AuthenticationError,
    BodyTooLargeError,
    InvalidRequestError,
    InvalidURLError,
    MentionNotFoundError,
    error_response,
    install_error_handlers,
    short_message,
)
from serve_app.model_clients import ColocatedModels, ModelClient, RemoteModels
from serve_app.online import OnlineClassifier
from serve_app.page import PAGE_HEADERS, is_page_path, page_file
from serve_app.requests import (
    classified_mentions,
    classify_response,
    embeddings_response,
    json_response,
    validate_classify,
    validate_embeddings,
)
from serve_app.schemas import ClassifyRequest, EmbeddingsRequest

logger = logging.getLogger("moodwire.gateway")

API_KEY_ENV = "MOODWIRE_API_KEY"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})

app = FastAPI(title="moodwire", version="0.1.0", description="Emotion, sentiment and topics for text mentions.")


# -- middleware and error handlers: registered before @serve.ingress copies the app ----------------
def _retry_after_s() -> int:
    gateway = getattr(app.state, "gateway", None)
    return gateway.args.retry_after_s if gateway is not None else 1


install_error_handlers(app, _retry_after_s)


def _route_path(request: Request) -> str:
    """The path under the app's route prefix (Serve passes the prefix as ``root_path``)."""
    path, root = request.scope.get("path", "/"), request.scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def _authenticate(request: Request, api_key: str | None) -> None:
    """Every data route needs the key; health checks and the page's own files (which hold no
    data) load without one."""
    path = _route_path(request)
    if api_key and path not in OPEN_PATHS and not is_page_path(path):
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise AuthenticationError("missing or wrong API key: send 'Authorization: Bearer <key>'")


async def _whole_body(receive, limit: int) -> bytes:
    """A body sent without ``Content-Length`` (chunked), read to its end (or to the client's
    disconnect); ``BodyTooLargeError`` as soon as it passes ``limit``, without reading on."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(parts)
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise BodyTooLargeError(f"request body over {limit} bytes")
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive):
    """A ``receive`` that hands the app ``body`` once, then waits on the real one (for the
    disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class Guard:
    """Auth, body size, metrics, and the answer for errors no handler took (a logged 500).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) runs
    every request through an extra task and a pair of memory streams, which under py-spy was
    the largest share of the Gateway's per-request Python work on ``/v1/embeddings``
    (docs/PERFORMANCE.md). A body with ``Content-Length`` is checked by that number and
    never read here; only a chunked body is read ahead, to count it.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gateway = getattr(scope["app"].state, "gateway", None)  # None before the replica is up
        started = time.perf_counter()
        status = 500
        response_started = False

        async def noted_send(message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
            await send(message)

        try:
            if gateway is not None:
                request = Request(scope)
                _authenticate(request, gateway.api_key)
                _refuse_nul(scope)
                if scope["method"] in {"POST", "PUT", "PATCH"}:
                    receive = await _size_checked(request, receive, gateway.args.max_body_bytes)
            await self.app(scope, receive, noted_send)
        except Exception as exc:
            if response_started:  # too late for an error body; the client sees a cut response
                raise
            await error_response(exc, retry_after_s=_retry_after_s())(scope, receive, noted_send)
        if gateway is None:
            return
        route = getattr(scope.get("route"), "path", None) or ("unmatched" if status == 404 else scope["path"])
        gateway.metrics.requests.inc(tags={"route": route, "status": str(status)})
        gateway.metrics.latency.observe(time.perf_counter() - started, tags={"route": route})


def _refuse_nul(scope) -> None:
    """A NUL (``%00``) in the path or the query: no topic, id or filter holds one, and
    PostgreSQL refuses it in a query; say so as a 400 rather than fail in the database."""
    if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
        raise InvalidURLError("the URL contains a NUL character (%00)")


async def _size_checked(request: Request, receive, limit: int):
    """``receive`` for a body within ``limit`` bytes, or ``BodyTooLargeError`` (413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise BodyTooLargeError(f"request body over {limit} bytes")
        return receive  # the server holds the body to its declared length
    return _replay(await _whole_body(receive, limit), receive)


class ConfiguredCORS:
    """CORS for the origins in ``cors_origins`` (Starlette's ``CORSMiddleware``), and none
    when the list is empty, as it is by default. Outside ``Guard``: a browser's preflight
    carries no API key, and the 401s and 413s Guard answers need the CORS headers too, or
    the page reads them as a network error. Built at the first request, once the replica
    has read its ``args``."""

    def __init__(self, app) -> None:
        self.app = app
        self.handler = None

    async def __call__(self, scope, receive, send) -> None:
        if self.handler is None:
            gateway = getattr(scope["app"].state, "gateway", None) if scope["type"] == "http" else None
            if gateway is None:
                await self.app(scope, receive, send)
                return
            self.handler = self.app
            if gateway.args.cors_origins:
                from starlette.middleware.cors import CORSMiddleware

                self.handler = CORSMiddleware(
                    self.app,
                    allow_origins=gateway.args.cors_origins,
                    allow_methods=["GET", "POST", "DELETE"],
                    allow_headers=["Authorization", "Content-Type"],
                    expose_headers=["Retry-After", "X-Truncated", "Content-Disposition"],
                    max_age=600,
                )
        await self.handler(scope, receive, send)


app.add_middleware(Guard)
app.add_middleware(ConfiguredCORS)  # added last: the outermost


@serve.deployment(name="Gateway", ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=128)
@serve.ingress(app)
class Gateway:
    def __init__(
        self,
        emotion: DeploymentHandle | None,
        embedding: DeploymentHandle | None,
        aggregator: DeploymentHandle,
        args: dict,
        alert_watcher: DeploymentHandle | None = None,
    ) -> None:
        """``emotion``/``embedding`` are the model deployments, ``None`` when colocated;
        ``alert_watcher`` is held so Serve deploys the watcher with the app."""
        from inference.settings import load_pipeline_settings
        from serve_app.metrics import GatewayMetrics
        from serve_app.result_cache import build_result_cache
        from storage.records import RecordRules
        from storage.settings import load_storage_settings

        self.args = ServeAppArgs.model_validate(args)
        self.pipeline_settings = load_pipeline_settings(self.args.pipeline_config)
        self.rules = RecordRules.from_settings(
            load_storage_settings(self.args.storage_config), max_text_chars=self.pipeline_settings.max_text_chars
        )
        if self.args.model_layout == "colocated":
            from serve_app.batcher import HostBatcher
            from serve_app.deployments.models import load_replica_host

            host = load_replica_host(self.pipeline_settings.model_dump(mode="json"))
            self.models: ModelClient = ColocatedModels(HostBatcher(host, ColocatedBatchConfig()))
        else:
            self.models = RemoteModels(emotion, embedding)
        self.aggregator = aggregator
        self.alert_watcher = alert_watcher
        self.api_key = os.environ.get(API_KEY_ENV) or None
        self.metrics = GatewayMetrics()
        cache = build_result_cache(
            self.args.result_cache,
            capacity=self.args.cache_size,
            redis_url=self.args.redis_url,
            ttl_s=self.args.cache_ttl_s,
            on_skip=lambda count: self.metrics.cache_skipped.inc(count),
        )
        self.online = OnlineClassifier(self.models, cache, self.pipeline_settings, self.metrics)
        self._unready: set[str] = set()  # parts /readyz last found not ready
        app.state.gateway = self

    def reconfigure(self, user_config: dict | None) -> None:
        """``user_config``: the colocated models' batching, applied without a restart."""
        if not isinstance(self.models, ColocatedModels):
            raise ValueError(
                "Gateway user_config sets the colocated models' batching; with model_layout "
                "'deployments' set user_config on EmotionModel and EmbeddingModel"
            )
        self.models.batcher.configure(ColocatedBatchConfig.model_validate(user_config or {}))

    def batch_settings(self) -> dict:
        """The colocated batcher's live values, and which process answered."""
        if not isinstance(self.models, ColocatedModels):
            return {"pid": os.getpid(), "model_layout": "deployments"}
        return {"pid": os.getpid(), **self.models.batcher.batch_settings()}

    # -- routes -----------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page(self, request: Request) -> Response:
        """The analysts' page (``serve_app/page``): static, no data in it, open without a key.
        Under a route prefix opened without its trailing slash (``/moodwire``), redirect to
        ``/moodwire/`` so the page's relative URLs resolve under the prefix."""
        if not request.url.path.endswith("/"):
            return RedirectResponse(request.url.path + "/", status_code=308)
        return page_file("index.html")

    @app.get("/page-config.json", include_in_schema=False)
    async def page_config(self) -> JSONResponse:
        """What the page must know before its first data call: whether to ask for a key."""
        return JSONResponse({"auth_required": self.api_key is not None}, headers=PAGE_HEADERS)

    @app.get("/static/{name:path}", include_in_schema=False)
    async def page_asset(self, name: str) -> Response:
        return page_file(name)

    @app.get("/healthz", tags=["ops"])
    async def healthz(self) -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(self) -> JSONResponse:
        """Open without a key, so it says only which part is not ready (``models``,
        ``database``); the reason goes to the replica's log, once per change."""
        not_ready = []
        try:
            await asyncio.wait_for(self.online.ready(), timeout=30)
        except Exception as exc:  # readiness reports any failure instead of raising
            not_ready.append("models")
            self._note_readiness("models", exc)
        else:
            self._note_readiness("models", None)
        try:
            await asyncio.wait_for(self.aggregator.ping.remote(), timeout=10)
        except Exception as exc:
            not_ready.append("database")
            self._note_readiness("database", exc)
        else:
            self._note_readiness("database", None)
        if not_ready:
            return JSONResponse({"status": "not ready", "not_ready": not_ready}, status_code=503)
        return JSONResponse({"status": "ready", "models": self.online.info.as_dict()})

    def _note_readiness(self, part: str, problem: BaseException | None) -> None:
        was_ready = part not in self._unready
        if problem is not None and was_ready:
            self._unready.add(part)
            logger.warning("readiness: %s not ready: %s: %s", part, type(problem).__name__, short_message(problem))
        elif problem is None and not was_ready:
            self._unready.discard(part)
            logger.warning("readiness: %s ready again", part)

    @app.post("/v1/classify", tags=["classify"], response_model=None)
    async def classify(self, body: ClassifyRequest) -> Response:
        await self.online.ready()
        job = validate_classify(
            body, rules=self.rules, max_texts=self.args.max_texts_per_request, now=datetime.now(UTC)
        )
        self.metrics.texts.inc(len(job.texts), tags={"route": "/v1/classify"})
        analyses = await self.online.analyse(job.texts)
        if job.prepared is not None:
            await self.aggregator.ingest.remote(classified_mentions(job, analyses, self.online.model_version))
        return json_response(classify_response(job, analyses))

    def _served_models(self) -> dict[str, dict]:
        return {
            self.args.embedding_model_name: {"kind": "embedding"},
            "moodwire-emotion": {"kind": "classification", "version": self.online.info.emotion_version},
        }

    @app.get("/v1/models", tags=["openai"])
    async def models(self) -> dict:
        await self.online.ready()
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "moodwire"} for name in self._served_models()
            ],
        }

    @app.post("/v1/embeddings", tags=["openai"], response_model=None)
    async def embeddings(self, body: EmbeddingsRequest) -> Response:
        await self.online.ready()
        texts = validate_embeddings(
            body,
            served_names={self.args.embedding_model_name, "default"},
            dim=self.online.info.embedding_dim,
            max_texts=self.args.max_texts_per_request,
            max_text_chars=self.pipeline_settings.max_text_chars,
        )
        self.metrics.texts.inc(len(texts), tags={"route": "/v1/embeddings"})
        vectors, tokens = await self.online.embeddings(texts)
        return json_response(embeddings_response(body, vectors, tokens))

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

    @app.get("/v1/overview", tags=["topics"])
    async def overview(self) -> dict:
        """Every topic's row of the page's overview: volumes, sparkline, net sentiment,
        dominant emotion, change against the expected count, highest recent spike."""
        return await self.aggregator.query.remote("overview", {})

    @app.get("/v1/topics/{key}/timeline", tags=["topics"])
    async def timeline(
        self,
        key: str,
        window: str = "hour",
        since: datetime | None = None,
        until: datetime | None = None,
        tz: str = "UTC",
    ) -> dict:
        """The topic view's series: aggregate buckets with ``complete``, ``expected`` and the
        95 % band, and the topic's spikes in the range."""
        kwargs = {"topic": key, "window": window, "since": since, "until": until, "tz": tz}
        return await self.aggregator.query.remote("timeline", kwargs)

    @app.get("/v1/spikes", tags=["topics"])
    async def spikes(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        topic: str | None = None,
        kind: str | None = None,
        min_severity: int | None = None,
    ) -> dict:
        """Spikes in the complete hours of [since, until) (default: the last 7 days), newest
        first; the Aggregator's service validates the filters (400 naming the parameter)."""
        kwargs = {"since": since, "until": until, "topic": topic, "kind": kind, "min_severity": min_severity}
        return await self.aggregator.query.remote("spikes", kwargs)

    @app.get("/v1/alerts", tags=["topics"])
    async def alerts(self, since: datetime | None = None, topic: str | None = None, limit: int = 100) -> dict:
        """Alerts the watcher recorded, newest bucket first, each with its delivery state per
        target (pending, delivered, failed with the reason, or suppressed by a cooldown or cap)."""
        return await self.aggregator.query.remote("alerts", {"since": since, "topic": topic, "limit": limit})

    @app.get("/v1/mentions", tags=["topics"], response_model=None)
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
        language: str | None = None,
        include_unsupported: bool = False,
        format: str = "json",
    ) -> dict | StreamingResponse:
        """A page of mentions (JSON), or with ``format=csv`` every matching mention, streamed."""
        filters = {
            "topic": topic,
            "since": since,
            "until": until,
            "sentiment": sentiment,
            "emotion": emotion,
            "source": source,
            "language": language,
            "include_unsupported": include_unsupported,
        }
        if format == "csv":
            return await self._export_csv(filters)
        if format != "json":
            raise InvalidRequestError(f"format must be json or csv, got {format!r}", param="format")
        kwargs = filters | {"limit": limit, "cursor": cursor}
        return await self.aggregator.query.remote("mentions", kwargs)

    async def _export_csv(self, filters: dict) -> StreamingResponse:
        """Every matching mention as CSV (``storage.export``), streamed a page at a time from
        the database, up to ``max_export_rows``; ``X-Truncated`` says whether more matched.
        The filters are validated (and counted) before the first byte, so bad ones are a 4xx."""
        from storage.export import header

        plan = await self.aggregator.query.remote("export_plan", filters)

        async def rows():
            yield header()
            cursor, sent = None, 0
            while sent < plan["rows"]:
                page = await self.aggregator.query.remote(
                    "export_page", filters | {"cursor": cursor, "limit": min(1000, plan["rows"] - sent)}
                )
                yield page["csv"]
                sent, cursor = sent + page["rows"], page["next_cursor"]
                if cursor is None or not page["rows"]:
                    break

        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in filters["topic"])[:64]
        headers = {
            "X-Truncated": "true" if plan["truncated"] else "false",
            "Content-Disposition": f'attachment; filename="moodwire-{name}.csv"',
        }
        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)

    @app.delete("/v1/mentions/{external_id}", tags=["topics"])
    async def delete_mention(self, external_id: str) -> dict:
        deleted = await self.aggregator.query.remote("delete", {"external_ids": [external_id]})
        if not deleted:
            raise MentionNotFoundError(f"no stored mention has external_id {external_id!r}")
        return {"deleted": external_id}
