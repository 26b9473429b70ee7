"""Read commands printing JSON: ``aggregate``, ``trends``, ``mentions``."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path


def iso(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 timestamp") from None


def register(commands: argparse._SubParsersAction) -> None:
    aggregate = commands.add_parser("aggregate", help="volume, sentiment and emotions of a topic per hour or day")
    aggregate.add_argument("--topic", required=True)
    aggregate.add_argument("--window", choices=["hour", "day"], default="hour")
    aggregate.add_argument("--since", type=iso)
    aggregate.add_argument("--until", type=iso)
    aggregate.add_argument("--tz", default="UTC")
    aggregate.add_argument("--database-url")
    aggregate.set_defaults(handler=run_aggregate)

    trends = commands.add_parser("trends", help="every topic's last complete window against its baseline")
    trends.add_argument("--window", choices=["hour", "day"], default="day")
    trends.add_argument("--days", type=int, default=30)
    trends.add_argument("--tz", default="UTC")
    trends.add_argument("--database-url")
    trends.set_defaults(handler=run_trends)

    mentions = commands.add_parser("mentions", help="stored mentions of a topic, newest first")
    mentions.add_argument("--topic", required=True)
    mentions.add_argument("--since", type=iso)
    mentions.add_argument("--until", type=iso)
    mentions.add_argument("--sentiment", choices=["positive", "neutral", "negative"])
    mentions.add_argument("--emotion")
    mentions.add_argument("--source")
    mentions.add_argument("--limit", type=int, default=50)
    mentions.add_argument("--cursor")
    mentions.add_argument("--language", help="ISO 639-1 code, or und: only mentions in this language")
    mentions.add_argument(
        "--include-unsupported",
        action="store_true",
        help="also mentions in languages outside supported_languages (the rollups leave them out)",
    )
    mentions.add_argument("--config", type=Path, help="pipeline settings: supported languages (configs/moodwire.yaml)")
    mentions.add_argument("--database-url")
    mentions.set_defaults(handler=run_mentions)


def _service(args):
    from storage.factory import open_service

    return open_service(args.database_url, pipeline_config=getattr(args, "config", None))


def run_aggregate(args: argparse.Namespace) -> int:
    out = _service(args).aggregate(args.topic, args.window, since=args.since, until=args.until, tz=args.tz)
    print(json.dumps(out))
    return 0


def run_trends(args: argparse.Namespace) -> int:
    print(json.dumps(_service(args).trends(window=args.window, days=args.days, tz=args.tz)))
    return 0


def run_mentions(args: argparse.Namespace) -> int:
    out = _service(args).mentions(
        args.topic,
        since=args.since,
        until=args.until,
        sentiment=args.sentiment,
        emotion=args.emotion,
        source=args.source,
        limit=args.limit,
        cursor=args.cursor,
        language=args.language,
        include_unsupported=args.include_unsupported,
    )
    print(json.dumps(out, ensure_ascii=False))
    return 0
