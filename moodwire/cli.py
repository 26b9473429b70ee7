"""``moodwire`` console script: argument parsing and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from inference.config_files import ConfigError
from inference.goemotions import DatasetError
from inference.loading import ModelLoadError
from moodwire.inputs import InputFileError
from storage.engine import DatabaseConfigError
from storage.factory import SchemaNotReadyError
from storage.queries import QueryError
from storage.records import InvalidRecordError
from storage.service import StorageError, UnknownTopicError

# Domain errors -> exit code. 2: the user's input or config is wrong; 1: the system failed.
EXIT_CODES: dict[type[Exception], int] = {
    ConfigError: 2,
    InputFileError: 2,
    DatasetError: 2,
    DatabaseConfigError: 2,
    QueryError: 2,
    UnknownTopicError: 2,
    InvalidRecordError: 2,
    ValueError: 2,
    ModelLoadError: 1,
    SchemaNotReadyError: 1,
    StorageError: 1,
    SQLAlchemyError: 1,
}


def build_parser() -> argparse.ArgumentParser:
    from moodwire.commands import backfill, bench, classify, db, quality, serve, store, topics, train

    parser = argparse.ArgumentParser(prog="moodwire", description="Emotion, sentiment and topics for text mentions.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    classify.register(commands)
    train.register(commands)
    quality.register(commands)
    db.register(commands)
    store.register(commands)
    topics.register(commands)
    bench.register(commands)
    serve.register(commands)
    backfill.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except tuple(EXIT_CODES) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"moodwire {args.command}: {message}", file=sys.stderr)
        return next(code for kind, code in EXIT_CODES.items() if isinstance(exc, kind))
    except KeyboardInterrupt:
        print(f"moodwire {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
