"""Real databases: a temporary SQLite file and a fresh schema on the local PostgreSQL."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore
from storage.engine import create_database_engine
from storage.factory import Storage
from storage.migrate import upgrade
from storage.records import MentionRecord
from storage.service import AggregationService
from storage.settings import StorageSettings

PG_URL = os.environ.get("MOODWIRE_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_admin():
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:  # fails loudly when the server is down: tests need it
        connection.execute(text("SELECT 1"))
    yield engine
    engine.dispose()


@pytest.fixture()
def pg_url(pg_admin):
    """A migrated schema of its own on the local PostgreSQL: ``(url, engine)``; for code that
    takes a URL (jobs, CLI) as well as for checking rows. Dropped afterwards."""
    engine, schema = make_pg_engine(pg_admin)
    upgrade(engine)
    yield schema_url(schema), engine
    engine.dispose()
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def schema_url(schema: str) -> str:
    """The test database's URL with ``schema`` as the search path."""
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def make_pg_engine(pg_admin, settings: StorageSettings | None = None, *, prefix: str = "mw_test_"):
    """``(engine, schema)`` on a new, empty schema; the caller migrates and drops it."""
    schema = f"{prefix}{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_database_engine(schema_url(schema), settings)
    return engine, schema


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = create_database_engine(f"sqlite:///{tmp_path}/moodwire.db")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    admin = request.getfixturevalue("pg_admin")
    engine, schema = make_pg_engine(admin)
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture()
def storage(engine) -> Storage:
    """The writes, reads and alert recorder of one process over ``engine``, at ``NOW``."""
    return Storage.over(engine, settings=StorageSettings(cache_ttl_s=300), clock=lambda: NOW)


@pytest.fixture()
def service(storage) -> AggregationService:
    """The write service of ``storage`` (it invalidates the cache ``storage.reads`` share)."""
    return storage.writes


def result(emotion: str = "anger", score: float = -0.8, topics: dict[str, float] | None = None) -> MentionResult:
    label = "positive" if score >= 0.3 else "negative" if score <= -0.3 else "neutral"
    labels = ["anger", "joy", "neutral"]
    scores = {name: (0.8 if name == emotion else 0.1) for name in labels}
    return MentionResult(
        emotion=EmotionResult(label=emotion, scores=scores),
        sentiment=SentimentResult(label=label, score=score),
        topics=[TopicScore(key=k, score=v) for k, v in (topics or {"economy": 0.5}).items()],
    )


def record(text: str, *, version: str = "m1", seed: int = 0, **kwargs) -> MentionRecord:
    res = kwargs.pop("result", None) or result()
    vector = np.random.default_rng(seed).normal(size=8).astype(np.float32)
    return MentionRecord(text=text, result=res, embedding=vector, model_version=version, **kwargs)
