"""The Gateway's middleware: plain ASGI, outside the routes.

``Guard`` checks the API key, a NUL in the URL and the body size, counts every answer by route
and status, and answers errors no handler took (a logged 500); ``ConfiguredCORS`` adds CORS
for the configured origins only. Both read the replica's settings from ``app.state.gateway``,
which the Gateway sets when its replica starts (``serve_app.gateway``).
"""

from __future__ import annotations

import hmac
import time

from fastapi import FastAPI, Request

from serve_app.errors import AuthenticationError, BodyTooLargeError, InvalidURLError, error_response
from serve_app.page import is_page_path

API_KEY_ENV = "MOODWIRE_API_KEY"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def retry_after_s(app) -> int:
    """The ``Retry-After`` of temporary errors: the replica's ``retry_after_s`` (read per
    error, so a change applies at once), 1 before the replica is up."""
    gateway = getattr(app.state, "gateway", None)
    return gateway.args.retry_after_s if gateway is not None else 1


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
            await error_response(exc, retry_after_s=retry_after_s(scope["app"]))(scope, receive, noted_send)
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


def install_middleware(app: FastAPI) -> None:
    """Guard inside, CORS outermost (its preflights carry no key, and Guard's 401s and 413s
    need the CORS headers too)."""
    app.add_middleware(Guard)
    app.add_middleware(ConfiguredCORS)  # added last: the outermost
