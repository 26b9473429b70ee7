"""Storage's domain errors, and the one place a database driver's exception becomes one of them.

Nothing here imports SQLAlchemy or a driver at module level, so the HTTP error table and
the CLI exit-code table can name these classes without loading either.

Messages are written for the person who sees them: an HTTP client learns *what* failed
("the database is unavailable"), never the connection string, host or driver text; the
CLI names the database (password hidden) because its user is the operator. The driver's
own words always go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("moodwire.storage")


class StorageError(RuntimeError):
    """The database failed; the whole batch was rolled back and may be retried."""


class DatabaseUnavailableError(StorageError):
    """The database server cannot be reached (down, refusing connections, timing out)."""


class DatabaseFullError(StorageError):
    """The database could not write: its disk is full, a file-size limit was reached, or the
    disk failed. The transaction was rolled back; nothing of it is stored."""


class DatabaseConfigError(ValueError):
    """The database is configured wrongly: not a URL, an unknown driver, a database that does
    not exist, credentials it refuses."""


class SchemaNotReadyError(DatabaseConfigError):
    """A server database has not been migrated to this version of moodwire."""


class QueryError(ValueError):
    """A query parameter is invalid (unknown window, bad cursor, since after until...);
    ``param`` names it where one parameter is at fault."""

    param: str | None = None


class InvalidTimeError(QueryError):
    """A ``since`` or ``until`` outside the years moodwire answers for (dates past them
    overflow once a window is added); ``param`` names it."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param

    def __reduce__(self):  # Ray pickles it from the Aggregator to the Gateway: keep ``param``
        return _with_param, (type(self), str(self), self.param)


def _with_param(cls: type[QueryError], message: str, param: str | None) -> QueryError:
    """Rebuild a query error with its ``param`` (their ``__init__``s differ)."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.param = param
    return exc


class InvalidLanguageError(QueryError):
    """A language filter that is not an ISO 639-1 code or ``und``."""

    param = "language"


class SpikeQueryError(QueryError):
    """A spike query parameter is invalid; ``param`` names it."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

    def __reduce__(self):  # Ray pickles it from the Aggregator to the Gateway: keep ``param``
        return _with_param, (type(self), str(self), self.param)


class InvalidSpikeKindError(SpikeQueryError):
    """A spike ``kind`` that is not ``volume``, ``sentiment:negative`` or ``emotion:<label>``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="kind")


class InvalidRangeError(SpikeQueryError):
    """``since`` is not before ``until``, or the range is longer than the service answers."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="since")


class UnknownTopicError(LookupError):
    """No configured or stored topic has this key."""


# Driver messages (psycopg2, sqlite3) that say the configuration is wrong rather than that the
# server is down. Connection failures carry no SQLSTATE in psycopg2, so the text decides: the
# first entry whose phrases all occur wins (a missing role also "does not exist").
_CONFIG_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("role", "does not exist"), "the database {where} has no such user (role)"),
    (("does not exist",), "the database {where} does not exist"),
    (("password authentication failed",), "the database {where} refused the credentials"),
    (("no password supplied",), "the database {where} asks for a password"),
    (("authentication failed",), "the database {where} refused the credentials"),
    (("unable to open database file",), "cannot open the SQLite file {where}"),
    (("readonly database",), "the SQLite file {where} is read-only: moodwire needs to write to it"),
)
# A write the database could not make durable: no space, a file-size limit, an I/O error.
_WRITE_FAILURES = ("database or disk is full", "disk i/o error", "could not extend file", "no space left on device")
_NOT_MIGRATED = "the database schema is not migrated: run `moodwire db upgrade`"


def _config_message(text: str) -> str | None:
    """The configuration-error message template a driver's connection failure text matches."""
    if any(word in text for word in ("relation", "table", "column")):
        return None
    return next((message for phrases, message in _CONFIG_PHRASES if all(p in text for p in phrases)), None)


def _not_migrated(text: str) -> bool:
    """A table or column this version needs is missing: the schema is older than the code."""
    return (
        "no such table" in text
        or "no such column" in text
        or (("relation" in text or "column" in text) and "does not exist" in text)
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def is_database_error(exc: BaseException) -> bool:
    """A SQLAlchemy or DB-API error (bulk writes on PostgreSQL use the raw cursor)."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("psycopg2", "sqlite3")) or type(exc).__name__ in {"OperationalError", "DatabaseError"}


def database_failure(exc: BaseException, *, what: str, where: str = "") -> StorageError | DatabaseConfigError:
    """The domain error for a database driver's exception, with the driver's text logged.

    ``what`` says what failed ("ingest of 3 mentions"), ``where`` names the database for
    messages the operator reads (a URL with the password hidden, or "" to say nothing).
    """
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    detail = f"{type(exc).__name__}: {_first_line(exc)}"
    logger.warning("%s failed: %s", what, detail)
    text = str(getattr(exc, "orig", None) or exc).lower()
    named = f" {where}" if where else ""
    connection_level = (
        isinstance(exc, OperationalError | InterfaceError)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        # a raw DB-API error (bulk writes on PostgreSQL use the driver's cursor)
        or (not isinstance(exc, DBAPIError) and type(exc).__name__ in {"OperationalError", "InterfaceError"})
    )
    if any(phrase in text for phrase in _WRITE_FAILURES):
        return DatabaseFullError(
            f"the database{named} could not write (disk full, a file-size limit or a disk error); "
            f"{what} was rolled back"
        )
    if connection_level:
        message = _config_message(text)
        if message is not None:
            return DatabaseConfigError(message.format(where=where or "").replace("  ", " ").strip())
        if _not_migrated(text):
            return SchemaNotReadyError(_NOT_MIGRATED)
        return DatabaseUnavailableError(f"cannot reach the database{named}; {what} was not done")
    if "invalid dsn" in text:  # psycopg2: an unknown ?option= in the URL
        return DatabaseConfigError(f"the database URL{named} has an option the driver does not accept")
    if _not_migrated(text):
        return SchemaNotReadyError(_NOT_MIGRATED)
    return StorageError(f"{what} failed in the database and was rolled back")


@contextmanager
def database_errors(*, what: str, where: str = "") -> Iterator[None]:
    """Within the block, a driver's exception is raised as its domain error (``database_failure``)."""
    try:
        yield
    except Exception as exc:
        if is_database_error(exc):
            raise database_failure(exc, what=what, where=where) from exc
        raise
