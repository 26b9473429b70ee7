"""A PostgreSQL server of the test's own (``initdb`` in a temporary folder, password auth,
a free port), so it can be restarted and asked with a wrong password without touching the
machine's shared server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.engine import create_database_engine
from storage.errors import DatabaseUnavailableError
from storage.migrate import upgrade
from storage.service import AggregationService
from tests.integration.conftest import NOW, record
from tests.integration.serving import free_port
from tests.integration.test_storage_ingest import rollups_match_rows

PASSWORD = "s3cret-restart"


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL's initdb (Debian's postgresql package) or runuser is not installed")
    return Path(found[-1]).parent


class Server:
    """``pg_ctl`` over a cluster in ``folder``, run as the ``postgres`` user (initdb refuses root)."""

    def __init__(self, folder: Path) -> None:
        self.bin, self.folder, self.port = pg_bin(), folder, free_port()
        self.data = folder / "data"

    def _as_postgres(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        pwfile = self.folder / "pw"
        pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(pwfile, "postgres")
        self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "moodwire",
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
        )

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "log"),
            "-w",
            *extra,
            action,
        )

    def url(self, password: str = PASSWORD, database: str = "moodwire") -> str:
        return f"postgresql://moodwire:{password}@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="module")
def server():
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="mw-pg-"))
    os.chmod(folder, 0o755)
    server = Server(folder)
    server.init()
    server.pg_ctl("start")
    try:
        admin_url = server.url(database="postgres").replace("postgresql://", "postgresql+psycopg2://")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE moodwire"))
        admin.dispose()
        yield server
    finally:
        server.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


def test_a_wrong_password_is_one_line_exit_2_and_never_printed(server, capsys):
    from moodwire.cli import main

    assert main(["db", "upgrade", "--database-url", server.url(password="wrong-pw")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused the credentials" in err
    assert "wrong-pw" not in err and PASSWORD not in err


def test_a_restarted_server_fails_writes_whole_while_down_and_the_same_engine_writes_after(server):
    engine = create_database_engine(server.url())
    upgrade(engine)
    service = AggregationService(engine, clock=lambda: NOW)
    stored, refused, stop = [], [], threading.Event()

    def writer() -> None:
        batch = 0
        while not stop.is_set():
            rows = [record(f"rents {batch}-{i}", external_id=f"r-{batch}-{i}", seed=i) for i in range(20)]
            try:
                service.ingest(rows)
                stored.append(batch)
            except DatabaseUnavailableError:
                refused.append(batch)
                time.sleep(0.1)
            batch += 1

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(1)
    server.pg_ctl("restart", "-m", "fast")  # stops (refusing connections), then starts again
    time.sleep(2)
    stop.set()
    thread.join(timeout=60)
    assert refused, "no write was refused while the server was down"
    assert stored and stored[-1] > refused[-1], "writes did not resume on the same engine"
    with engine.connect() as c:
        rows = c.execute(text("SELECT count(*) FROM mentions")).scalar()
        ids = {r[0].split("-")[1] for r in c.execute(text("SELECT external_id FROM mentions"))}
    assert rows == 20 * len(stored), "a refused batch was stored in part"
    assert ids == {str(b) for b in stored}
    rollups_match_rows(engine)
    engine.dispose()
