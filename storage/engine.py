"""Engine factory: pooled PostgreSQL, or SQLite tuned for one writer process.

Never build an engine at import time or share one across processes: each Serve replica,
actor or CLI process calls ``create_database_engine`` itself.

Database URLs are normalised here, once: ``postgresql://``, ``postgres://`` and
``postgresql+psycopg2://`` all mean the installed psycopg2 driver (SQLAlchemy 2.1 would map a
bare ``postgresql://`` to psycopg 3, which moodwire does not install); ``sqlite:///PATH`` is
the embedded database. Anything else is a ``DatabaseConfigError``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from storage.errors import DatabaseConfigError
from storage.settings import StorageSettings

ACCEPTED_URLS = "postgresql://, postgres://, postgresql+psycopg2:// or sqlite:///PATH"

# drivername as written -> the one moodwire uses
_DRIVERS = {
    "postgresql": "postgresql+psycopg2",
    "postgres": "postgresql+psycopg2",
    "postgresql+psycopg2": "postgresql+psycopg2",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
}


def _without_credentials(text: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://***@host``, for strings SQLAlchemy cannot parse."""
    head, at, host = text.rpartition("@")
    if not at:
        return text
    scheme = head.split("://", 1)[0] + "://" if "://" in head else ""
    return f"{scheme}***@{host}"


def _render(parsed: URL) -> str:
    """``parsed`` as text with its password hidden, a ``?password=`` query value included."""
    secret = {key: "***" for key in parsed.query if "password" in key.lower()}
    if secret:
        parsed = parsed.set(query={**parsed.query, **secret})
    return parsed.render_as_string(hide_password=True)


def normalise_database_url(url: str | URL) -> URL:
    """The SQLAlchemy URL moodwire connects with; raises ``DatabaseConfigError`` (password never
    in the message) for strings that are not a URL and for drivers moodwire does not ship."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        shown = _without_credentials(str(url))
        raise DatabaseConfigError(f"{shown!r} is not a database URL; use {ACCEPTED_URLS}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise DatabaseConfigError(
            f"unsupported database driver '{parsed.drivername}' in {_render(parsed)}; use {ACCEPTED_URLS}"
        )
    return parsed.set(drivername=driver) if driver != parsed.drivername else parsed


def _sqlite_pragmas(busy_timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def create_database_engine(url: str | URL, settings: StorageSettings | None = None) -> Engine:
    settings = settings or StorageSettings()
    parsed = normalise_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseConfigError(
                    f"cannot create the folder of the SQLite file {database}: {exc.strerror or exc}"
                ) from None
        engine = create_engine(parsed, connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000})
        event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_busy_timeout_ms))
        return engine
    return create_engine(
        parsed,
        insertmanyvalues_page_size=1000,
        # Batch executemany statements SQLAlchemy cannot turn into multi-row VALUES
        # (upserts of the rollups, bulk updates) instead of one round trip per row.
        executemany_mode="values_plus_batch",
        executemany_batch_page_size=500,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=settings.pool_pre_ping,
        pool_recycle=settings.pool_recycle,
        pool_timeout=settings.pool_timeout,
    )


def shown_url(url: str | URL) -> str:
    """The normalised URL with its password hidden: how messages for the operator name a database."""
    return _render(normalise_database_url(url))


def database_identity(url: str | URL) -> str:
    """A URL naming one database, password hidden, driver normalised and SQLite paths absolute,
    so two processes can tell whether they write to the same database."""
    parsed = normalise_database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    return _render(parsed)


__all__ = [
    "ACCEPTED_URLS",
    "DatabaseConfigError",
    "create_database_engine",
    "database_identity",
    "normalise_database_url",
    "shown_url",
]
