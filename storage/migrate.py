"""Alembic migrations run programmatically (``moodwire db upgrade``, first use of SQLite).

A driver's exception while reading or upgrading the schema becomes a domain error naming the
database (password hidden): unreachable -> ``DatabaseUnavailableError``, missing database or
refused credentials -> ``DatabaseConfigError``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from storage.errors import DatabaseConfigError, database_errors

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations under {MIGRATIONS_DIR}: the package is incomplete")
    return head


def current_revision(engine: Engine) -> str | None:
    with database_errors(what="the schema check", where=_where(engine)), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    config = _config()
    try:
        with database_errors(what="the schema upgrade", where=_where(engine)), engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except CommandError as exc:  # e.g. the database is at a revision this moodwire does not know
        raise DatabaseConfigError(
            f"cannot upgrade the database {_where(engine)}: {str(exc).strip().splitlines()[0]}"
        ) from exc
    return current_revision(engine)


def ensure_migrated(engine: Engine) -> None:
    """Migrate the embedded SQLite database on first use; servers are migrated explicitly."""
    if current_revision(engine) != head_revision():
        upgrade(engine)
