"""The HTTP face's one error table: every domain error, the framework's and Ray's own included,
becomes a status, an OpenAI-shaped body and, for temporary failures, ``Retry-After``.

Routes and the model and storage layers raise domain errors and never choose a status.
Every error answers ``{"error": {"message", "type", "param", "code"}}``, so the official
OpenAI clients raise their usual exception types. Messages never carry connection strings,
hosts or driver text (storage writes those to the log); an unexpected error answers a plain
500 and its traceback goes to the replica's log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError
from starlette.exceptions import HTTPException as StarletteHTTPException

from inference.validation import InvalidTextError
from serve_app.error_shape import RESTARTING_MESSAGE, error_body
from storage.errors import (
    DatabaseConfigError,
    InvalidLanguageError,
    InvalidRangeError,
    InvalidSpikeKindError,
    QueryError,
    SpikeQueryError,
    StorageError,
    UnknownTopicError,
)
from storage.records import InvalidRecordError

logger = logging.getLogger("moodwire.http")


# -- the Gateway's own domain errors ------------------------------------------------------------
class RequestError(ValueError):
    """A request the API refuses; ``param`` names the offending field when there is one."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class InvalidRequestError(RequestError):
    """The request is well-formed JSON but asks for something invalid."""


class InvalidURLError(RequestError):
    """A path or query no route can take (a NUL character)."""


class TooManyTextsError(RequestError):
    """More texts in one request than ``max_texts_per_request``."""


class BodyTooLargeError(RequestError):
    """A request body over ``max_body_bytes``."""


class AuthenticationError(PermissionError):
    """No API key, or the wrong one."""


class UnknownModelError(LookupError):
    """``/v1/embeddings`` asked for a model this app does not serve."""


class MentionNotFoundError(LookupError):
    """No stored mention has this ``external_id``."""


class PageNotFoundError(LookupError):
    """No such file of the analysts' page."""


class ServiceBusyError(RuntimeError):
    """The models' queue is full; a bounded wait beats an unbounded one."""


# -- the table -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    type: str
    code: str | None = None
    retry_after: bool = False
    message: str | None = None  # fixed text, for errors whose own text is not for clients


BUSY = "the service is at capacity; retry after a moment"
RESTARTING = RESTARTING_MESSAGE  # HAProxy's own 502/503 pages say the same

# First match wins: subclasses before their bases.
ERROR_TABLE: dict[type[BaseException], ErrorSpec] = {
    InvalidTextError: ErrorSpec(422, "invalid_request_error"),
    InvalidRecordError: ErrorSpec(422, "invalid_request_error"),
    InvalidRequestError: ErrorSpec(422, "invalid_request_error"),
    InvalidURLError: ErrorSpec(400, "invalid_request_error", "invalid_url"),
    InvalidLanguageError: ErrorSpec(400, "invalid_request_error", "invalid_language"),
    InvalidSpikeKindError: ErrorSpec(400, "invalid_request_error", "invalid_kind"),
    InvalidRangeError: ErrorSpec(400, "invalid_request_error", "invalid_range"),
    SpikeQueryError: ErrorSpec(400, "invalid_request_error"),
    QueryError: ErrorSpec(422, "invalid_request_error"),
    RequestValidationError: ErrorSpec(422, "invalid_request_error"),
    TooManyTextsError: ErrorSpec(413, "invalid_request_error", "too_many_texts"),
    BodyTooLargeError: ErrorSpec(413, "invalid_request_error", "body_too_large"),
    AuthenticationError: ErrorSpec(401, "authentication_error", "invalid_api_key"),
    UnknownTopicError: ErrorSpec(404, "not_found_error", "topic_not_found"),
    UnknownModelError: ErrorSpec(404, "invalid_request_error", "model_not_found"),
    MentionNotFoundError: ErrorSpec(404, "not_found_error", "mention_not_found"),
    PageNotFoundError: ErrorSpec(404, "not_found_error", "page_not_found"),
    ServiceBusyError: ErrorSpec(503, "overloaded_error", retry_after=True),
    BackPressureError: ErrorSpec(503, "overloaded_error", retry_after=True, message=BUSY),
    # A model replica or the Aggregator died or is restarting behind this request.
    RayActorError: ErrorSpec(503, "service_unavailable", retry_after=True, message=RESTARTING),
    DeploymentUnavailableError: ErrorSpec(503, "service_unavailable", retry_after=True, message=RESTARTING),
    ReplicaUnavailableError: ErrorSpec(503, "service_unavailable", retry_after=True, message=RESTARTING),
    StorageError: ErrorSpec(503, "storage_error", retry_after=True),
    DatabaseConfigError: ErrorSpec(
        503, "storage_error", retry_after=True, message="the database is not available; retry after a moment"
    ),
}
INTERNAL = ErrorSpec(500, "api_error", message="internal error; it has been logged")

# The framework's own errors (unknown route, wrong method, unparseable body), by status.
FRAMEWORK_TYPES = {401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error"}


def spec_for(exc: BaseException) -> ErrorSpec | None:
    for kind, spec in ERROR_TABLE.items():
        if isinstance(exc, kind):
            return spec
    return None


def short_message(exc: BaseException) -> str:
    """First line of an error's message; Ray wraps errors raised in other replicas."""
    cause = getattr(exc, "cause", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def describe_validation(errors: Sequence[dict]) -> str:
    """FastAPI's validation errors as one line: ``texts[1]: Input should be a valid string``."""
    parts = []
    for err in errors:
        location = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = location[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in location[1:]) if location else ""
        if err.get("type") == "json_invalid":
            parts.append(f"malformed JSON: {err.get('ctx', {}).get('error', err.get('msg'))}")
        else:
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts)


def error_response(exc: BaseException, *, retry_after_s: int = 1) -> JSONResponse:
    """The answer for any exception: the table's row, the framework's status, or a logged 500."""
    if isinstance(exc, StarletteHTTPException):
        kind = FRAMEWORK_TYPES.get(exc.status_code, "invalid_request_error")
        body = error_body(str(exc.detail), kind, code=str(exc.status_code))
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
    spec = spec_for(exc)
    if spec is None:
        logger.error("unexpected error behind a request", exc_info=exc)
        spec = INTERNAL
    if isinstance(exc, RequestValidationError):
        message = describe_validation(exc.errors())
    else:
        message = spec.message or short_message(exc)
    headers = {"Retry-After": str(retry_after_s)} if spec.retry_after else {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    param = getattr(getattr(exc, "cause", None) or exc, "param", None)
    return JSONResponse(
        error_body(message, spec.type, param=param if isinstance(param, str) else None, code=spec.code),
        status_code=spec.status,
        headers=headers or None,
    )


def install_error_handlers(app: FastAPI, retry_after_s=lambda: 1) -> None:
    """Answer every table error and the framework's own through ``error_response``.

    Starlette gives a handler for ``Exception`` to its outermost middleware, which re-raises
    after answering; so unexpected errors are answered by the Gateway's middleware instead
    (``error_response`` there too). ``retry_after_s`` is read per error, so a change applies
    at once.
    """

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc, retry_after_s=retry_after_s())

    for kind in (*ERROR_TABLE, StarletteHTTPException):
        app.add_exception_handler(kind, handle)
