"""The one JSON shape of every error answer, OpenAI's: ``{"error": {"message", "type",
"param", "code"}}``. Light (standard library only): the HTTP error table
(``serve_app.errors``) and HAProxy's own error pages (``serve_app.ingress``, loaded by the
CLI before Ray starts) both write it from here."""

from __future__ import annotations

RESTARTING_MESSAGE = "a part of the service is restarting or unreachable; retry after a moment"


def _printable(value: str | None) -> str | None:
    """``value`` encodable as UTF-8: a message may quote a client's lone surrogate."""
    return None if value is None else value.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(message: str, kind: str, *, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": _printable(message), "type": kind, "param": _printable(param), "code": code}}
