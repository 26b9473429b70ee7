"""A PostgreSQL connection killed mid-batch: the batch rolls back and a retry stores it once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from storage.errors import DatabaseUnavailableError, StorageError
from storage.migrate import upgrade
from storage.models import Mention, MentionTopic, TopicRollup
from storage.service import AggregationService
from storage.settings import StorageSettings
from tests.integration.conftest import NOW, make_pg_engine, record, result


@pytest.fixture()
def pg_engine(pg_admin):
    engine, schema = make_pg_engine(pg_admin)
    upgrade(engine)
    yield engine
    engine.dispose()
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def counts(engine) -> tuple[int, int, int]:
    with engine.connect() as c:
        return (
            c.execute(select(func.count()).select_from(Mention)).scalar(),
            c.execute(select(func.count()).select_from(MentionTopic)).scalar(),
            c.execute(select(func.coalesce(func.sum(TopicRollup.count), 0))).scalar(),
        )


@pytest.mark.parametrize(
    "kill_before", ["INSERT INTO mention_topics", "INSERT INTO mention_embeddings", "INSERT INTO topic_rollups"]
)
def test_backend_terminated_mid_batch_rolls_back_and_retry_stores_once(pg_engine, pg_admin, kill_before, monkeypatch):
    from storage import repository

    service = AggregationService(pg_engine, settings=StorageSettings(), clock=lambda: NOW)
    records = [
        record(
            f"mention {i}",
            external_id=f"k{i}",
            created_at="2026-11-20T08:00:00Z",
            result=result("anger", -0.5, {"economy": 0.5, "crime": 0.4}),
            seed=i,
        )
        for i in range(50)
    ]
    killed = []
    bulk_write = repository._pg_execute_values

    def kill_then_write(connection, sql, values):
        """Terminate this transaction's backend after the mentions were already inserted."""
        if sql.startswith(kill_before) and not killed:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with pg_admin.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)
        return bulk_write(connection, sql, values)

    monkeypatch.setattr(repository, "_pg_execute_values", kill_then_write)
    with pytest.raises(DatabaseUnavailableError, match="was not done"):  # the connection died: retry later
        service.ingest(records)
    monkeypatch.undo()
    assert killed
    assert counts(pg_engine) == (0, 0, 0)  # nothing half-written

    report = service.ingest(records)  # pool_pre_ping replaces the dead connection
    assert report.inserted == 50
    assert counts(pg_engine) == (50, 100, 100)
    assert service.ingest(records).duplicates == 50
    assert counts(pg_engine) == (50, 100, 100)


def test_concurrent_writers_of_the_same_keys_store_each_mention_once(pg_engine):
    from concurrent.futures import ThreadPoolExecutor

    service = AggregationService(pg_engine, settings=StorageSettings(), clock=lambda: NOW)
    records = [record(f"same {i}", external_id=f"c{i}", created_at="2026-11-20T08:00:00Z", seed=i) for i in range(40)]

    def write(_):
        try:
            return service.ingest(records)
        except StorageError:  # a unique-key race may abort one writer; a retry is safe
            return service.ingest(records)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert counts(pg_engine) == (40, 40, 40)


def test_mentions_query_uses_the_topic_index(pg_engine):
    service = AggregationService(pg_engine, settings=StorageSettings(), clock=lambda: NOW)
    for start in range(0, 5000, 1000):
        service.ingest([record(f"m{i}", external_id=f"e{i}", seed=i) for i in range(start, start + 1000)])
    with pg_engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in c.execute(
                text(
                    "EXPLAIN SELECT m.* FROM mentions m JOIN mention_topics t ON t.mention_id = m.id "
                    "WHERE t.topic_key = 'economy' ORDER BY t.created_at DESC, t.mention_id DESC LIMIT 50"
                )
            )
        )
        assert "ix_mention_topics_topic_created" in plan
        plan = "\n".join(
            r[0]
            for r in c.execute(
                text("EXPLAIN SELECT * FROM topic_rollups WHERE topic_key = 'economy' AND bucket_start >= now()")
            )
        )
        assert "topic_rollups_pkey" in plan
