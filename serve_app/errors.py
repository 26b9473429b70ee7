"""The one table mapping domain errors to HTTP status codes, and the JSON error body.

Every error answers in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``,
so the official clients raise their usual exception types.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from ray.serve.exceptions import BackPressureError

from inference.pipeline import InvalidTextError
from storage.queries import QueryError
from storage.records import InvalidRecordError
from storage.service import StorageError, UnknownTopicError


class ApiError(Exception):
    """An error raised by the gateway itself with its status already decided."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.param = param


class UnknownModelError(LookupError):
    pass


class StoreFailedError(RuntimeError):
    """``persist`` could not store the batch; nothing was stored (the write is atomic)."""


class ServiceBusyError(RuntimeError):
    """A model deployment's queue is full (Serve back-pressure)."""


# exception type -> (HTTP status, OpenAI error type). First match wins.
ERROR_TABLE: list[tuple[type[BaseException], int, str]] = [
    (InvalidTextError, 422, "invalid_request_error"),
    (InvalidRecordError, 422, "invalid_request_error"),
    (QueryError, 422, "invalid_request_error"),
    (UnknownTopicError, 404, "not_found_error"),
    (UnknownModelError, 404, "invalid_request_error"),
    (BackPressureError, 503, "overloaded_error"),
    (ServiceBusyError, 503, "overloaded_error"),
    (StoreFailedError, 503, "storage_error"),
    (StorageError, 503, "storage_error"),
]


def short_message(exc: BaseException) -> str:
    """First line of an error's message; Ray wraps errors raised in other replicas."""
    cause = getattr(exc, "cause", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def error_body(message: str, kind: str, *, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(exc: BaseException, *, retry_after_s: int = 1) -> JSONResponse | None:
    """The response for a known domain error, or None (a real bug: let it be a 500)."""
    if isinstance(exc, ApiError):
        return JSONResponse(error_body(str(exc), exc.kind, param=exc.param), status_code=exc.status)
    for kind, status, error_type in ERROR_TABLE:
        if isinstance(exc, kind):
            message = short_message(exc)
            if isinstance(exc, BackPressureError):
                message = "the service is at capacity; retry after a moment"
            headers = {"Retry-After": str(retry_after_s)} if status == 503 else None
            code = "model_not_found" if isinstance(exc, UnknownModelError) else None
            return JSONResponse(error_body(message, error_type, code=code), status_code=status, headers=headers)
    return None
