"""The one exit-code table every command line entry point shares (no database, no Ray)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from batch_jobs.sources import SourceError
from entrypoints.exit_codes import ServiceUnreachableError, exit_code_table, run_command
from inference.config_files import ConfigError
from inference.loading import ModelLoadError
from inference.validation import InvalidTextError
from moodwire.inputs import InputFileError
from storage.errors import (
    DatabaseConfigError,
    DatabaseUnavailableError,
    QueryError,
    SchemaNotReadyError,
    StorageError,
    UnknownTopicError,
)
from storage.records import InvalidRecordError
from training.goemotions import DatasetError

# The documented codes: 1 a service cannot be reached or failed, 2 bad input or configuration.
DOCUMENTED = {
    DatabaseUnavailableError: 1,
    StorageError: 1,
    ServiceUnreachableError: 1,
    ConfigError: 2,
    InputFileError: 2,
    DatasetError: 2,
    SourceError: 2,
    ModelLoadError: 2,
    DatabaseConfigError: 2,
    SchemaNotReadyError: 2,
    QueryError: 2,
    UnknownTopicError: 2,
    InvalidRecordError: 2,
    InvalidTextError: 2,
    ValueError: 2,
}


def error(cls: type[BaseException], message: str) -> BaseException:
    """An instance carrying ``message`` whatever the class's own constructor takes."""
    exc = cls.__new__(cls)
    BaseException.__init__(exc, message)
    return exc


def run(capsys, exc: BaseException) -> tuple[int, str]:
    def body():
        raise exc

    code = run_command("moodwire test", body)
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


# The faces' own bad-input errors are ValueErrors: the table, below both faces, knows them as such.
FACE_ERRORS = (InputFileError, DatasetError, SourceError)


def test_the_table_is_the_documented_one():
    assert exit_code_table() == {cls: code for cls, code in DOCUMENTED.items() if cls not in FACE_ERRORS}
    assert all(issubclass(cls, ValueError) for cls in FACE_ERRORS)


@pytest.mark.parametrize("cls", list(DOCUMENTED), ids=lambda cls: cls.__name__)
def test_each_domain_error_gives_its_code_and_one_prefixed_line(capsys, cls):
    code, err = run(capsys, error(cls, f"{cls.__name__} happened\nsecond line\n  third"))
    assert code == DOCUMENTED[cls]
    assert err == f"moodwire test: {cls.__name__} happened\n"


def test_a_subclass_takes_its_nearest_listed_class(capsys):
    class Unlisted(ServiceUnreachableError):
        pass

    assert run(capsys, Unlisted("Ray is gone")) == (1, "moodwire test: Ray is gone\n")


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (
            OperationalError(
                "SELECT 1", {}, Exception('connection to server at "h", port 1 failed: Connection refused')
            ),
            1,
            "moodwire test: cannot reach the database; moodwire test was not done",
        ),
        (
            OperationalError("SELECT 1", {}, Exception('FATAL:  database "nope" does not exist')),
            2,
            "moodwire test: the database does not exist",
        ),
        (
            ProgrammingError("SELECT", {}, Exception('relation "mentions" does not exist')),
            2,
            "moodwire test: the database schema is not migrated: run `moodwire db upgrade`",
        ),
        (
            sqlite3.OperationalError("no such table: mentions"),
            2,
            "moodwire test: the database schema is not migrated: run `moodwire db upgrade`",
        ),
        (
            ProgrammingError("INSERT", {}, Exception("duplicate key value violates unique constraint")),
            1,
            "moodwire test: moodwire test failed in the database and was rolled back",
        ),
    ],
    ids=["unreachable", "no-database", "unmigrated", "raw-sqlite", "other"],
)
def test_raw_database_errors_are_translated_first(capsys, exc, code, message):
    assert run(capsys, exc) == (code, message + "\n")


def test_driver_text_stays_off_stderr_unless_asked(capsys, monkeypatch):
    exc = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.delenv("MOODWIRE_LOG_LEVEL", raising=False)
    assert run(capsys, exc)[1].count("\n") == 1
    monkeypatch.setenv("MOODWIRE_LOG_LEVEL", "warning")
    code, err = run(capsys, exc)
    assert code == 1 and "server closed the connection unexpectedly" in err and err.count("\n") == 2


@pytest.mark.parametrize("exc", [RuntimeError("a bug"), KeyError("k"), ConnectionError("not a domain error")])
def test_unknown_exceptions_propagate(exc):
    def body():
        raise exc

    with pytest.raises(type(exc)):
        run_command("moodwire test", body)


def test_interrupt_broken_pipe_and_success(capsys):
    def interrupted():
        raise KeyboardInterrupt

    def broken():
        raise BrokenPipeError

    assert run_command("moodwire test", interrupted) == 130
    assert capsys.readouterr().err == "moodwire test: interrupted\n"
    assert run_command("moodwire test", broken) == 0
    assert run_command("moodwire test", lambda: None) == 0
    assert run_command("moodwire test", lambda: 3) == 3


def test_the_table_module_imports_nothing_heavy():
    code = (
        "import sys, entrypoints.exit_codes as e; e.exit_code_table(); "
        "print(sorted(m for m in ('torch', 'ray', 'sqlalchemy', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
