"""``moodwire backfill SOURCE...``: the Ray Data backfill, on a local Ray when none is running."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    from batch_jobs.backfill import add_arguments

    parser = commands.add_parser("backfill", help="classify and store files of mentions in bulk (Ray Data)")
    add_arguments(parser)  # the job's own arguments
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_jobs import backfill
    from batch_jobs.cli import job_body

    # The job's own arguments, parsed by the same actions; errors reach moodwire's exit-code table.
    return job_body(backfill.run, args)()
