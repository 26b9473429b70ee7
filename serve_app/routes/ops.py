"""The analysts' page's own files, health and readiness: open without a key (they hold no data)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from serve_app.errors import short_message
from serve_app.page import PAGE_HEADERS, page_file
from serve_app.routes.replica import GatewayState, replica

logger = logging.getLogger("moodwire.gateway")
router = APIRouter()


class Readiness:
    """Which parts last failed a readiness check; the reason goes to the log once per change."""

    def __init__(self) -> None:
        self.unready: set[str] = set()

    def note(self, part: str, problem: BaseException | None) -> None:
        was_ready = part not in self.unready
        if problem is not None and was_ready:
            self.unready.add(part)
            logger.warning("readiness: %s not ready: %s: %s", part, type(problem).__name__, short_message(problem))
        elif problem is None and not was_ready:
            self.unready.discard(part)
            logger.warning("readiness: %s ready again", part)


@router.get("/", include_in_schema=False)
async def page(request: Request) -> Response:
    """The analysts' page (``serve_app/page``): static, no data in it, open without a key.
    Under a route prefix opened without its trailing slash (``/moodwire``), redirect to
    ``/moodwire/`` so the page's relative URLs resolve under the prefix."""
    if not request.url.path.endswith("/"):
        return RedirectResponse(request.url.path + "/", status_code=308)
    return page_file("index.html")


@router.get("/page-config.json", include_in_schema=False)
async def page_config(gateway: GatewayState = Depends(replica)) -> JSONResponse:
    """What the page must know before its first data call: whether to ask for a key."""
    return JSONResponse({"auth_required": gateway.api_key is not None}, headers=PAGE_HEADERS)


@router.get("/static/{name:path}", include_in_schema=False)
async def page_asset(name: str) -> Response:
    return page_file(name)


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
async def readyz(gateway: GatewayState = Depends(replica)) -> JSONResponse:
    """Open without a key, so it says only which part is not ready (``models``,
    ``database``); the reason goes to the replica's log, once per change."""
    not_ready = []
    checks = (("models", gateway.online.ready(), 30), ("database", gateway.aggregator.ping.remote(), 10))
    for part, check, timeout in checks:
        try:
            await asyncio.wait_for(check, timeout=timeout)
        except Exception as exc:  # readiness reports any failure instead of raising
            not_ready.append(part)
            gateway.readiness.note(part, exc)
        else:
            gateway.readiness.note(part, None)
    if not_ready:
        return JSONResponse({"status": "not ready", "not_ready": not_ready}, status_code=503)
    return JSONResponse({"status": "ready", "models": gateway.online.info.as_dict()})
