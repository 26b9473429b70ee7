"""Every command that takes a database, against every bad URL: one stderr line, the table's code.

The entry points run in-process (``moodwire.cli.main``, ``batch_jobs.backfill.main``,
``batch_jobs.retopic.main``); two subprocesses check that plain ``postgresql://`` and
``postgres://`` URLs work from the environment as a user would type them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.engine import DatabaseConfigError, database_identity, normalise_database_url
from tests.integration.conftest import make_pg_engine

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-pw"  # trust auth ignores it; it must never be printed
SERVER = f"postgres:{SECRET}@127.0.0.1"

BAD_URLS = {
    # name: (URL, exit code)
    "unreachable": (f"postgresql://{SERVER}:1/test", 1),
    "missing-database": (f"postgresql://{SERVER}:5432/no_such_db_xyz", 2),
    "unmigrated": (None, 2),  # a fresh empty schema, made per test
    "not-a-url": ("not-a-url", 2),
    "mysql": (f"mysql://u:{SECRET}@127.0.0.1/x", 2),
    "asyncpg": (f"postgresql+asyncpg://{SERVER}:5432/test", 2),
    "psycopg3": (f"postgresql+psycopg://{SERVER}:5432/test", 2),
}

# name: (entry point, argv before --database-url, stderr prefix); FILE is a valid input file
COMMANDS = {
    "db upgrade": ("moodwire", ["db", "upgrade"], "moodwire db: "),
    "db prune": ("moodwire", ["db", "prune", "--older-than", "1"], "moodwire db: "),
    "import": ("moodwire", ["import", "FILE"], "moodwire import: "),
    "delete": ("moodwire", ["delete", "X"], "moodwire delete: "),
    "aggregate": ("moodwire", ["aggregate", "--topic", "t"], "moodwire aggregate: "),
    "trends": ("moodwire", ["trends"], "moodwire trends: "),
    "mentions": ("moodwire", ["mentions", "--topic", "t"], "moodwire mentions: "),
    "backfill": ("moodwire", ["backfill", "FILE"], "moodwire backfill: "),
    "bench ingest": ("moodwire", ["bench", "ingest", "--texts", "1"], "moodwire bench: "),
    "batch_jobs.backfill": ("backfill", ["FILE"], "backfill: "),
    "batch_jobs.retopic": ("retopic", [], "retopic: "),
}


def entry_point(name: str):
    if name == "moodwire":
        from moodwire.cli import main
    elif name == "backfill":
        from batch_jobs.backfill import main
    else:
        from batch_jobs.retopic import main
    return main


@pytest.fixture()
def fresh_schema(pg_admin):
    """A URL (plain ``postgresql://``) on a new, empty schema: reachable but not migrated."""
    engine, schema = make_pg_engine(pg_admin, prefix="mw_test_cli_")
    engine.dispose()
    yield f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture()
def no_ray(monkeypatch):
    """The jobs must fail on their database before Ray is started."""
    import batch_jobs.backfill

    def started():
        raise AssertionError("Ray was started before the database was checked")

    monkeypatch.setattr(batch_jobs.backfill, "connect_ray", started)
    monkeypatch.delenv("MOODWIRE_LOG_LEVEL", raising=False)
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)


@pytest.fixture()
def input_file(tmp_path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "prices are up again", "external_id": "1"}\n', encoding="utf-8")
    return path


def invoke(capsys, command: str, url: str, input_file: Path) -> tuple[int, str, str]:
    entry, argv, _ = COMMANDS[command]
    argv = [str(input_file) if arg == "FILE" else arg for arg in argv]
    code = entry_point(entry)([*argv, "--database-url", url])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("bad", list(BAD_URLS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_database_url_gives_one_line_and_its_code(capsys, no_ray, input_file, request, command, bad):
    url, expected = BAD_URLS[bad]
    if bad == "unmigrated":
        if command in ("db upgrade", "bench ingest"):
            pytest.skip("upgrading an empty schema is what `db upgrade` is for; bench makes its own schema")
        url = request.getfixturevalue("fresh_schema")
    code, out, err = invoke(capsys, command, url, input_file)
    assert (code, out) == (expected, ""), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(COMMANDS[command][2]) and "Traceback" not in err
    assert SECRET not in err
    if bad == "unmigrated":
        assert "run `moodwire db upgrade`" in err
    elif bad == "unreachable":
        assert "cannot reach the database postgresql+psycopg2://postgres:***@127.0.0.1:1/test" in err
    elif bad == "missing-database":
        assert "no_such_db_xyz does not exist" in err
    else:
        assert "use postgresql://, postgres://, postgresql+psycopg2:// or sqlite:///PATH" in err


def test_backfill_with_ray_unreachable_exits_1_in_seconds(capsys, pg_url, input_file, monkeypatch):
    import ray

    from batch_jobs.backfill import main

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    code = main([str(input_file), "--database-url", pg_url[0]])
    err = capsys.readouterr().err
    assert code == 1 and err == "backfill: cannot reach Ray at 127.0.0.1:1 (RAY_ADDRESS): Connection refused\n"


def test_postgresql_postgres_and_psycopg2_urls_are_one_database():
    forms = [
        "postgresql://u:pw@db.example:5432/moodwire?options=-csearch_path%3Dx",
        "postgres://u:pw@db.example:5432/moodwire?options=-csearch_path%3Dx",
        "postgresql+psycopg2://u:other@db.example:5432/moodwire?options=-csearch_path%3Dx",
    ]
    identities = {database_identity(url) for url in forms}
    assert identities == {"postgresql+psycopg2://u:***@db.example:5432/moodwire?options=-csearch_path%3Dx"}
    assert database_identity(normalise_database_url(forms[0])) in identities  # an engine's URL object too
    assert normalise_database_url("sqlite:///data/m.db").render_as_string() == "sqlite:///data/m.db"


@pytest.mark.parametrize(
    "url",
    [
        "not-a-url",
        f"postgresql//postgres:{SECRET}@127.0.0.1/test",
        f"mysql://u:{SECRET}@127.0.0.1/x",
        f"postgresql+asyncpg://u:{SECRET}@127.0.0.1/x",
        f"postgresql+psycopg://u:{SECRET}@127.0.0.1/x?password={SECRET}",
    ],
)
def test_unusable_urls_are_refused_in_one_line_without_the_password(url):
    with pytest.raises(DatabaseConfigError) as info:
        normalise_database_url(url)
    message = str(info.value)
    assert "\n" not in message and SECRET not in message and "use postgresql://" in message


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_db_upgrade_from_the_environment_with_a_plain_url(fresh_schema, scheme):
    url = fresh_schema.replace("postgresql://", f"{scheme}://", 1)
    env = {**os.environ, "MOODWIRE_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "moodwire", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["database"].startswith("postgresql+psycopg2://postgres@127.0.0.1:5432/test") and out["revision"]


def test_a_failing_command_prints_one_line_in_a_real_process():
    """No pytest log handler here: the driver's text must not reach stderr by default."""
    env = {k: v for k, v in os.environ.items() if k != "MOODWIRE_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "moodwire", "trends", "--database-url", BAD_URLS["unreachable"][0]],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("moodwire trends: cannot reach the database")


def test_a_database_migrated_by_a_newer_moodwire_is_a_config_error(capsys, fresh_schema):
    from moodwire.cli import main
    from storage.engine import create_database_engine

    assert main(["db", "upgrade", "--database-url", fresh_schema]) == 0
    engine = create_database_engine(fresh_schema)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
    engine.dispose()
    capsys.readouterr()
    assert main(["db", "upgrade", "--database-url", fresh_schema]) == 2
    err = capsys.readouterr().err
    assert err.startswith("moodwire db: cannot upgrade the database postgresql+psycopg2://") and err.count("\n") == 1
    assert "ffffffff" in err


@pytest.mark.parametrize("bad", list(BAD_URLS))
def test_serve_checks_its_database_before_starting_ray(capsys, monkeypatch, request, bad):
    """`moodwire serve` takes its URL from the environment (or the config's args)."""
    import ray

    url, expected = BAD_URLS[bad]
    if bad == "unmigrated":
        url = request.getfixturevalue("fresh_schema")

    def started(*args, **kwargs):
        raise AssertionError("Ray was started before the database was checked")

    monkeypatch.setattr(ray, "init", started)
    monkeypatch.setenv("MOODWIRE_DATABASE_URL", url)
    from moodwire.cli import main

    code = main(["serve", "--port", "1"])
    err = capsys.readouterr().err
    assert code == expected and err.count("\n") == 1 and err.startswith("moodwire serve: "), err
    assert SECRET not in err and "Traceback" not in err


def serve_before_ray(tmp_path, capsys, monkeypatch, **args) -> tuple[int, str]:
    """``moodwire serve`` on a migrated SQLite file with ``args`` in its Serve config, Ray's
    start replaced by a failure: ``(exit code, stderr)`` of a check that ran before Ray."""
    import ray

    from moodwire.cli import main
    from storage.engine import create_database_engine
    from storage.migrate import upgrade

    def started(*_args, **_kwargs):
        raise AssertionError("Ray was started before the settings were checked")

    monkeypatch.setattr(ray, "init", started)
    database = f"sqlite:///{tmp_path}/ok.db"
    upgrade(create_database_engine(database))
    lines = "".join(f"      {key}: {value}\n" for key, value in {"database_url": database, **args}.items())
    (tmp_path / "serve.yaml").write_text(
        "applications:\n  - name: moodwire\n    import_path: serve_app.app:build_app\n    args:\n" + lines,
        encoding="utf-8",
    )
    code = main(["serve", "--config", str(tmp_path / "serve.yaml"), "--port", "1"])
    return code, capsys.readouterr().err


def test_serve_rejects_a_sentiment_head_setting_on_a_model_without_one_before_ray(tmp_path, capsys, monkeypatch):
    """`sentiment.method: head` (the default) with an emotion checkpoint that has no sentiment
    head: one line naming the key, exit 2, Ray never started."""
    from inference.loading import artifacts_dir

    # An emotion-only checkpoint: the shipped artifact's manifest without its sentiment outputs.
    emotion_only = tmp_path / "emotion-only"
    emotion_only.mkdir()
    for item in (artifacts_dir() / "ekman-minilm").iterdir():
        (emotion_only / item.name).write_bytes(item.read_bytes())
    manifest = json.loads((emotion_only / "moodwire_artifact.json").read_text(encoding="utf-8"))
    manifest["labels"] = [label for label in manifest["labels"] if not label.startswith("sentiment:")]
    (emotion_only / "moodwire_artifact.json").write_text(json.dumps(manifest), encoding="utf-8")
    (tmp_path / "moodwire.yaml").write_text(f"emotion:\n  source: {emotion_only}\n", encoding="utf-8")
    code, err = serve_before_ray(tmp_path, capsys, monkeypatch, pipeline_config=tmp_path / "moodwire.yaml")
    assert code == 2 and err.count("\n") == 1 and "sentiment.method" in err and "valence" in err, err


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ("targets:\n  - {name: slack, kind: slack, url_env: MW_TEST_UNSET_SLACK}\n", "MW_TEST_UNSET_SLACK"),
        ("public_url: http://x\ntarget: []\n", "unknown key 'target'"),
    ],
)
def test_serve_checks_the_alerts_file_and_its_secrets_before_ray(tmp_path, capsys, monkeypatch, alerts, message):
    """A bad configs/alerts.yaml, or a target whose URL variable is unset: one line naming the
    file and key (and the variable), exit 2, Ray never started."""
    monkeypatch.delenv("MW_TEST_UNSET_SLACK", raising=False)
    (tmp_path / "alerts.yaml").write_text(alerts, encoding="utf-8")
    code, err = serve_before_ray(tmp_path, capsys, monkeypatch, alerts_config=tmp_path / "alerts.yaml")
    assert code == 2 and err.count("\n") == 1 and "alerts.yaml" in err and message in err, err
