"""What the job entry points share: one JSON summary on stdout; errors and exit codes from
the one table in ``moodwire.exit_codes`` (one ``PROG: message`` line, never a traceback)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable


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
    from moodwire.exit_codes import run_command

    return run_command(prog, job_body(run, args, report))
