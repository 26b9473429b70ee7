"""What the job entry points share: the check of the database a submitted job writes to, one
JSON summary on stdout, and errors and exit codes from the one table in
``entrypoints.exit_codes`` (one ``PROG: message`` line, never a traceback)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray for the driver of a submitted job


def check_job_database(explicit_url: str | None) -> None:
    """Under ``ray job submit`` the driver runs in a temporary copy of the working directory
    and the submitter's environment does not travel: a relative SQLite file (or the default
    one under ./data) would be written there and lost."""
    from storage.engine import normalise_database_url
    from storage.settings import DATABASE_URL_ENV

    if JOB_ENV not in os.environ:
        return
    url = explicit_url or os.environ.get(DATABASE_URL_ENV)
    if url is None:
        raise ValueError(
            "running under `ray job submit`: give --database-url (PostgreSQL, or sqlite:////absolute/path.db)"
        )
    parsed = normalise_database_url(url)  # DatabaseConfigError for what is not a usable URL
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_absolute():
        raise ValueError(f"running under `ray job submit`: the SQLite path {parsed.database!r} must be absolute")


def job_body(
    run: Callable[[argparse.Namespace], dict],
    args: argparse.Namespace,
    report: Callable[[dict], int | None] | None = None,
) -> Callable[[], int]:
    """The job as a command body: run it, print its summary as JSON, then ``report`` on it
    (extra stderr lines, an exit code); errors propagate to the caller's ``run_command``."""

    def body() -> int:
        summary = run(args)
        print(json.dumps(summary))
        return int((report(summary) if report is not None else 0) or 0)

    return body


def run_job(
    prog: str,
    run: Callable[[argparse.Namespace], dict],
    args: argparse.Namespace,
    report: Callable[[dict], int | None] | None = None,
) -> int:
    """Run a job under the exit-code table; its exit code."""
    from entrypoints.exit_codes import run_command

    return run_command(prog, job_body(run, args, report))
