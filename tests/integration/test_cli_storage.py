"""The storage commands end to end on an embedded SQLite file (migrated on first use)."""

from __future__ import annotations

import json

import pytest

from moodwire.cli import main
from storage.factory import open_service, open_storage
from storage.query_types import MentionsQuery
from tests.integration.conftest import record, result


def run(capsys, *argv) -> tuple[int, object, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    out = json.loads(captured.out) if captured.out.strip() else None
    return code, out, captured.err


@pytest.fixture()
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


def test_import_is_idempotent_and_names_bad_lines(capsys, tmp_path, db_url):
    good = tmp_path / "in.jsonl"
    good.write_text(
        '{"text": "one", "external_id": "1", "created_at": "2026-11-01T10:00:00Z"}\n'
        '{"text": "two", "external_id": "2"}\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "import", str(good), "--database-url", db_url)
    assert code == 0 and out == {"file": str(good), "read": 2, "stored": 2, "duplicates": 0}
    code, out, _ = run(capsys, "import", str(good), "--database-url", db_url)
    assert out["stored"] == 0 and out["duplicates"] == 2

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "external_id": "3"}\n{"text": "x", "created_at": "soon"}\n', encoding="utf-8")
    code, out, err = run(capsys, "import", str(bad), "--database-url", db_url)
    assert code == 2 and out is None
    assert f"{bad}:2: created_at 'soon' is not an ISO 8601 timestamp" in err
    listed = open_storage(db_url).reads.mentions.mentions(MentionsQuery(topic="economy"))
    assert listed.model_dump(mode="json") == {"topic": "economy", "items": [], "next_cursor": None}


def test_query_and_delete_commands(capsys, db_url):
    service = open_service(db_url)
    service.ingest(
        [
            record("a", external_id="x1", created_at="2026-11-20T09:10:00Z", result=result("anger", -0.8)),
            record("b", external_id="x2", created_at="2026-11-20T10:10:00Z", result=result("joy", 0.6)),
        ]
    )
    code, out, _ = run(
        capsys,
        "aggregate",
        "--topic",
        "economy",
        "--window",
        "day",
        "--since",
        "2026-11-20T00:00:00Z",
        "--until",
        "2026-11-21T00:00:00Z",
        "--database-url",
        db_url,
    )
    assert code == 0 and [b["count"] for b in out["buckets"]] == [2]
    code, out, _ = run(capsys, "mentions", "--topic", "economy", "--sentiment", "negative", "--database-url", db_url)
    assert [m["external_id"] for m in out["items"]] == ["x1"]
    code, out, _ = run(capsys, "trends", "--database-url", db_url)
    assert code == 0 and {t["topic"] for t in out} >= {"economy"}
    code, out, _ = run(capsys, "delete", "x1", "nope", "--database-url", db_url)
    assert out == {"deleted": ["x1"], "not_found": ["nope"]}
    code, out, _ = run(
        capsys,
        "aggregate",
        "--topic",
        "economy",
        "--window",
        "day",
        "--since",
        "2026-11-20T00:00:00Z",
        "--until",
        "2026-11-21T00:00:00Z",
        "--database-url",
        db_url,
    )
    assert [b["count"] for b in out["buckets"]] == [1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["aggregate", "--topic", "nosuch"], "unknown topic 'nosuch'"),
        (["aggregate", "--topic", "economy", "--tz", "Nowhere/City"], "unknown time zone"),
        (["mentions", "--topic", "economy", "--cursor", "zzz"], "cursor"),
        (["db", "prune", "--older-than", "-1"], "--older-than"),
    ],
)
def test_bad_queries_exit_2_with_one_line(capsys, db_url, argv, message):
    code, out, err = run(capsys, *argv, "--database-url", db_url)
    assert code == 2 and out is None and message in err and "Traceback" not in err


def test_db_upgrade_and_prune(capsys, db_url):
    code, out, _ = run(capsys, "db", "upgrade", "--database-url", db_url)
    assert code == 0 and out["revision"] == "0005"
    open_service(db_url).ingest([record("old", external_id="o", created_at="2020-01-01T00:00:00Z")])
    code, out, _ = run(capsys, "db", "prune", "--older-than", "30", "--database-url", db_url)
    assert out == {"texts_pruned": 1, "embeddings_pruned": 1}


def test_server_database_must_be_upgraded_first(capsys, pg_admin):
    from sqlalchemy import text

    from tests.integration.conftest import PG_URL

    schema = "mw_test_unmigrated"
    with pg_admin.connect() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        code, _, err = run(capsys, "trends", "--database-url", url)
        assert code == 2 and "run `moodwire db upgrade`" in err and err.count("\n") == 1
        assert run(capsys, "db", "upgrade", "--database-url", url)[0] == 0
        assert run(capsys, "trends", "--database-url", url)[0] == 0
    finally:
        with pg_admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
