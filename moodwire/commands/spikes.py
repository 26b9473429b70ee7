"""``moodwire spikes``: spikes over the stored rollups (``--json``: exactly the body of
``GET /v1/spikes``), and ``moodwire spikes --backtest --days N`` to tune the settings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodwire.commands.query_args import add_query_arguments, query_from_args
from storage.query_types import SpikeQuery


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("spikes", help="volume spikes and emotion/sentiment shifts per topic and hour")
    add_query_arguments(parser, SpikeQuery)
    parser.add_argument("--json", action="store_true", help='print the HTTP body {"spikes": [...]}')
    parser.add_argument(
        "--backtest", action="store_true", help="replay detection over stored history: spikes per topic per week"
    )
    parser.add_argument("--days", type=int, default=60, help="with --backtest: days replayed (default 60)")
    parser.add_argument("--config", type=Path, help="pipeline settings: topics, languages (configs/moodwire.yaml)")
    parser.add_argument(
        "--storage-config", type=Path, help="storage settings with the spikes: section (configs/storage.yaml)"
    )
    parser.add_argument("--database-url")
    parser.set_defaults(handler=run_spikes)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def spikes_table(body: dict) -> str:
    """One line per spike, newest first, with its top terms."""
    if not body["spikes"]:
        return "no spikes"
    header = ["bucket_start", "topic", "kind", "observed", "expected", "lift", "p_value", "severity", "top terms"]
    rows = [
        [
            s["bucket_start"],
            s["topic"],
            s["kind"],
            str(s["observed"]),
            f"{s['expected']:.1f}",
            f"{s['lift']:.1f}",
            f"{s['p_value']:.2g}",
            str(s["severity"]),
            ", ".join(t["term"] for t in s["explanation"]["top_terms"][:5]),
        ]
        for s in body["spikes"]
    ]
    return _table(header, rows)


def backtest_table(report: dict) -> str:
    """Spikes per topic (rows) per ISO week (columns), with the total."""
    weeks = report["weeks"]
    rows = [
        [topic, *(str(per_week[w]) for w in weeks), str(sum(per_week.values()))]
        for topic, per_week in sorted(report["per_topic"].items())
    ]
    title = f"spikes per topic per week, {report['start']} to {report['end']} ({report['timezone']}): {report['total']}"
    return title + "\n" + _table(["topic", *weeks, "total"], rows)


def run_spikes(args: argparse.Namespace) -> int:
    from storage.factory import open_storage

    storage = open_storage(args.database_url, storage_config=args.storage_config, pipeline_config=args.config)
    try:
        if args.backtest:
            report = storage.reads.spikes.backtest(days=args.days)
            print(json.dumps(report) if args.json else backtest_table(report))
            return 0
        body = storage.reads.spikes.spikes(query_from_args(args, SpikeQuery)).model_dump(mode="json")
    finally:
        storage.dispose()
    print(json.dumps(body, ensure_ascii=False) if args.json else spikes_table(body))
    return 0
