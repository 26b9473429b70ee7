"""``moodwire`` console script: argument parsing; exit codes come from ``entrypoints.exit_codes``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from entrypoints.exit_codes import run_command


def build_parser() -> argparse.ArgumentParser:
    from moodwire.commands import backfill, bench, classify, db, quality, serve, spikes, store, topics, train

    parser = argparse.ArgumentParser(prog="moodwire", description="Emotion, sentiment and topics for text mentions.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    classify.register(commands)
    train.register(commands)
    quality.register(commands)
    db.register(commands)
    store.register(commands)
    topics.register(commands)
    spikes.register(commands)
    bench.register(commands)
    serve.register(commands)
    backfill.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(f"moodwire {args.command}", lambda: args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
