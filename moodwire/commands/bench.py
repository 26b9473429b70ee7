"""``moodwire bench SUBCOMMAND``: reproducible throughput and latency figures."""

from __future__ import annotations

import argparse
import json


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("bench", help="measure throughput and latency")
    kinds = parser.add_subparsers(dest="bench_command", required=True, metavar="KIND")
    for name, default_texts, help_text in [
        ("ingest", 20_000, "database writes: mentions/s in batches of 500"),
        ("aggregate", 100_000, "per-topic aggregate latency on a seeded database"),
    ]:
        sub = kinds.add_parser(name, help=help_text)
        sub.add_argument("--texts", type=int, default=default_texts, help="mentions to write or seed")
        sub.add_argument("--database-url", help="default: a temporary SQLite file")
        sub.add_argument("--json", action="store_true", help="last line: one JSON object")
        if name == "ingest":
            sub.add_argument("--concurrency", type=int, default=1, help="concurrent writers (own connections)")
            sub.add_argument("--spread-days", type=float, default=30, help="posting times span this many days")
        sub.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from moodwire.bench import storage

    if args.bench_command == "ingest":
        figures = storage.bench_ingest(
            args.database_url, args.texts, writers=args.concurrency, spread_days=args.spread_days
        )
    else:
        figures = storage.bench_aggregate(args.database_url, args.texts)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>32}: {value}")
    return 0
