"""``moodwire backfill SOURCE...``: the Ray Data backfill, on a local Ray when none is running."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    from batch_jobs.backfill import build_parser

    template = build_parser()
    parser = commands.add_parser("backfill", help="classify and store files of mentions in bulk (Ray Data)")
    for action in template._actions[1:]:  # reuse the job's own arguments, minus --help
        parser._add_action(action)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_jobs.backfill import main

    argv = [*args.sources, *(["--model-changed"] if args.model_changed else [])]
    if args.config is not None:
        argv += ["--config", str(args.config)]
    if args.database_url is not None:
        argv += ["--database-url", args.database_url]
    return main(argv)
