"""Engine factory: pooled PostgreSQL, or SQLite tuned for one writer process.

Never build an engine at import time or share one across processes: each Serve replica,
actor or CLI process calls ``create_database_engine`` itself.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.settings import StorageSettings


class DatabaseConfigError(ValueError):
    """The database URL is malformed or names an unsupported back end."""


def _sqlite_pragmas(busy_timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def create_database_engine(url: str, settings: StorageSettings | None = None) -> Engine:
    settings = settings or StorageSettings()
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"invalid database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000})
        event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_busy_timeout_ms))
        return engine
    if backend != "postgresql":
        raise DatabaseConfigError(f"unsupported database '{backend}': use postgresql:// or sqlite:///")
    extra = {}
    if parsed.get_driver_name() == "psycopg2":
        # Batch executemany statements SQLAlchemy cannot turn into multi-row VALUES
        # (upserts of the rollups, bulk updates) instead of one round trip per row.
        extra = {"executemany_mode": "values_plus_batch", "executemany_batch_page_size": 500}
    return create_engine(
        parsed,
        insertmanyvalues_page_size=1000,
        **extra,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=settings.pool_pre_ping,
        pool_recycle=settings.pool_recycle,
        pool_timeout=settings.pool_timeout,
    )


def database_identity(url) -> str:
    """A URL naming one database, password hidden and SQLite paths absolute, so two
    processes can tell whether they write to the same database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    return parsed.render_as_string(hide_password=True)
