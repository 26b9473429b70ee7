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


# -- SQLite that cannot be written ---------------------------------------------------------------
FULL_SCRIPT = """
import json, resource, signal, sys
from storage.engine import create_database_engine
from storage.errors import DatabaseFullError
from storage.service import AggregationService
from tests.integration.conftest import NOW, record

url, limit = sys.argv[1], int(sys.argv[2])
service = AggregationService(create_database_engine(url), clock=lambda: NOW)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), not the process
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
stored = 0
for batch in range(200):
    records = [record(f"mention {batch}-{i} about rents", external_id=f"{batch}-{i}", seed=i) for i in range(50)]
    try:
        stored += service.ingest(records).inserted
    except DatabaseFullError as exc:
        print(json.dumps({"stored": stored, "error": str(exc)}))
        sys.exit(0)
print(json.dumps({"stored": stored, "error": None}))
"""


def test_a_full_sqlite_file_fails_a_batch_whole_with_a_clear_error_and_a_retry_stores_it_once(tmp_path):
    """A file-size limit (RLIMIT_FSIZE) stands in for a full disk: the batch that hits it is
    rolled back whole, the error says what happened, and the batches before it are intact."""
    import json
    import subprocess
    import sys

    from storage.engine import create_database_engine
    from tests.integration.test_storage_ingest import rollups_match_rows

    url = f"sqlite:///{tmp_path}/full.db"
    engine = create_database_engine(url)
    upgrade(engine)
    limit = (tmp_path / "full.db").stat().st_size + 300_000
    done = subprocess.run(
        [sys.executable, "-c", FULL_SCRIPT, url, str(limit)], capture_output=True, text=True, timeout=120, check=True
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["error"] and "could not write" in outcome["error"] and "rolled back" in outcome["error"]
    assert outcome["stored"] > 0 and outcome["stored"] % 50 == 0  # whole batches only
    mentions, _, _ = counts(engine)
    assert mentions == outcome["stored"]
    rollups_match_rows(engine)
    # Room again: the failed batch and the ones after it are sent again; each row is stored once.
    service = AggregationService(engine, clock=lambda: NOW)
    batch = outcome["stored"] // 50
    again = [record(f"mention {batch}-{i} about rents", external_id=f"{batch}-{i}", seed=i) for i in range(50)]
    assert service.ingest(again).inserted == 50
    assert service.ingest(again).inserted == 0
    assert counts(engine)[0] == outcome["stored"] + 50
    rollups_match_rows(engine)
    engine.dispose()


@pytest.fixture()
def read_only_file(tmp_path):
    """A migrated SQLite file with one mention, made immutable (``chattr +i``: read-only
    even for root, as the tests run here)."""
    import shutil
    import subprocess

    from storage.engine import create_database_engine

    path = tmp_path / "ro.db"
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade(engine)
    AggregationService(engine, clock=lambda: NOW).ingest([record("already here", external_id="kept")])
    engine.dispose()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_sqlite_file_is_one_clear_line_and_nothing_changes(read_only_file, tmp_path, capsys):
    from moodwire.cli import main
    from storage.engine import create_database_engine
    from storage.errors import DatabaseConfigError

    before = read_only_file.read_bytes()
    url = f"sqlite:///{read_only_file}"
    service = AggregationService(create_database_engine(url), clock=lambda: NOW)
    with pytest.raises(DatabaseConfigError, match="is read-only"):
        service.ingest([record("a new one", external_id="new")])
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "Rents are up again", "external_id": "new-2"}\n', encoding="utf-8")
    code = main(["import", str(source), "--database-url", url])
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("moodwire import: ")]  # past the progress bar
    assert code == 2 and len(said) == 1 and "is read-only" in said[0] and str(read_only_file) in said[0]
    assert read_only_file.read_bytes() == before
