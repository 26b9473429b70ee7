"""The one table from domain errors to exit codes, for every command line entry point
(``moodwire ...``, ``python -m batch_jobs.backfill``, ``python -m batch_jobs.retopic``). It
lives below both faces, so the bulk jobs and the CLI exit the same way without importing
each other.

======  =====================================================================================
code    meaning
======  =====================================================================================
0       success (also when the reader of stdout went away: ``moodwire mentions ... | head``)
1       a service the command needs cannot be reached or failed: the database server
        (``DatabaseUnavailableError``, any other ``StorageError``), Ray or Redis
        (``ServiceUnreachableError``)
2       bad input or configuration: config and input files, data sets, SOURCE arguments,
        model sources, database URLs, missing databases, refused credentials, an unmigrated
        schema, query parameters, unknown topics, invalid records or texts, any ``ValueError``
        (the faces' own bad-input errors are ``ValueError`` subclasses: ``InputFileError``
        of ``moodwire.inputs``, ``SourceError`` of ``batch_jobs.sources``, ``DatasetError``
        of ``training.goemotions``)
130     interrupted (Ctrl-C)
======  =====================================================================================

A known error prints ONE line, ``PROG: message``, on stderr and never a traceback; a raw
SQLAlchemy or DB-API error is first turned into its domain error by ``database_failure``.
Anything else is a bug and propagates with its traceback. What the driver itself said is
logged on the ``moodwire`` logger, shown on stderr with ``MOODWIRE_LOG_LEVEL=WARNING``.

Nothing heavy is imported here at module level (no torch, ray, sqlalchemy or transformers):
the error classes are imported the first time an error needs its code.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import cache

SUCCESS = 0
SERVICE_UNREACHABLE = 1
BAD_INPUT = 2
INTERRUPTED = 130
LOG_LEVEL_ENV = "MOODWIRE_LOG_LEVEL"


class ServiceUnreachableError(ConnectionError):
    """A service the command needs (a Ray cluster, Redis) cannot be reached."""


@cache
def exit_code_table() -> dict[type[BaseException], int]:
    """Domain error class -> exit code; for an error, its most specific class in the table wins."""
    from inference.config_files import ConfigError
    from inference.loading import ModelLoadError
    from inference.validation import InvalidTextError
    from storage.errors import (
        DatabaseConfigError,
        DatabaseUnavailableError,
        QueryError,
        SchemaNotReadyError,
        StorageError,
        UnknownTopicError,
    )
    from storage.records import InvalidRecordError

    return {
        # 1: a service cannot be reached or failed
        DatabaseUnavailableError: SERVICE_UNREACHABLE,
        StorageError: SERVICE_UNREACHABLE,
        ServiceUnreachableError: SERVICE_UNREACHABLE,
        # 2: the user's input or configuration is wrong
        ConfigError: BAD_INPUT,
        ModelLoadError: BAD_INPUT,
        DatabaseConfigError: BAD_INPUT,
        SchemaNotReadyError: BAD_INPUT,
        QueryError: BAD_INPUT,
        UnknownTopicError: BAD_INPUT,
        InvalidRecordError: BAD_INPUT,
        InvalidTextError: BAD_INPUT,
        ValueError: BAD_INPUT,
    }


def _is_database_error(exc: BaseException) -> bool:
    """A SQLAlchemy or DB-API exception; checked without importing SQLAlchemy when none is loaded."""
    if "sqlalchemy" not in sys.modules and not type(exc).__module__.startswith(("psycopg2", "sqlite3")):
        return False
    from storage.errors import is_database_error

    return is_database_error(exc)


def known_error(exc: BaseException, *, what: str = "the command") -> tuple[BaseException, int] | None:
    """``(domain error, exit code)`` for a known failure, or None for a bug.

    A raw database error becomes its domain error first (``what`` names the work that failed).
    """
    if _is_database_error(exc):
        from storage.errors import database_failure

        exc = database_failure(exc, what=what)
    table = exit_code_table()
    return next(((exc, table[kind]) for kind in type(exc).__mro__ if kind in table), None)


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is no file (captured, closed)
        pass


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging() -> None:
    """``moodwire`` log records (a driver's own words behind a one-line error) reach stderr only
    at ``$MOODWIRE_LOG_LEVEL`` or above; unset, the one line is all a failing command prints.
    A handler the process configured itself (a root handler, pytest's) still gets every record."""
    logger = logging.getLogger("moodwire")
    handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
    level = os.environ.get(LOG_LEVEL_ENV, "").strip().upper()
    handler.setLevel(level if level in logging.getLevelNamesMapping() else logging.CRITICAL + 1)


def run_command(prog: str, body: Callable[[], int | None]) -> int:
    """Run a command's body; a known error prints one ``PROG: message`` line and gives its code."""
    configure_logging()
    try:
        return int(body() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # before the table: a broken pipe is a ConnectionError too
        _silence_stdout()
        return SUCCESS
    except Exception as exc:
        known = known_error(exc, what=prog)
        if known is None:
            raise
        error, code = known
        print(f"{prog}: {one_line(error)}", file=sys.stderr)
        return code


__all__ = [
    "BAD_INPUT",
    "INTERRUPTED",
    "LOG_LEVEL_ENV",
    "SERVICE_UNREACHABLE",
    "SUCCESS",
    "ServiceUnreachableError",
    "configure_logging",
    "exit_code_table",
    "known_error",
    "one_line",
    "run_command",
]
