"""Read commands printing JSON: ``aggregate``, ``trends``, ``mentions``. Their flags come from
the same typed queries as the HTTP routes' parameters (``storage.query_types``), and they
print the same JSON as the routes answer."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodwire.commands.query_args import add_query_arguments, query_from_args
from storage.query_types import MentionsQuery, RangeQuery, TrendsQuery


def register(commands: argparse._SubParsersAction) -> None:
    aggregate = commands.add_parser("aggregate", help="volume, sentiment and emotions of a topic per hour or day")
    add_query_arguments(aggregate, RangeQuery)
    trends = commands.add_parser("trends", help="every topic's last complete window against its baseline")
    add_query_arguments(trends, TrendsQuery)
    mentions = commands.add_parser("mentions", help="stored mentions of a topic, newest first")
    add_query_arguments(mentions, MentionsQuery)
    mentions.add_argument("--config", type=Path, help="pipeline settings: supported languages (configs/moodwire.yaml)")
    for parser, handler in ((aggregate, run_aggregate), (trends, run_trends), (mentions, run_mentions)):
        parser.add_argument("--database-url")
        parser.set_defaults(handler=handler)


def _readers(args: argparse.Namespace):
    from storage.factory import open_storage

    return open_storage(args.database_url, pipeline_config=getattr(args, "config", None)).reads


def run_aggregate(args: argparse.Namespace) -> int:
    answer = _readers(args).topics.aggregate(query_from_args(args, RangeQuery))
    print(json.dumps(answer.model_dump(mode="json")))
    return 0


def run_trends(args: argparse.Namespace) -> int:
    rows = _readers(args).topics.trends(query_from_args(args, TrendsQuery))
    print(json.dumps([row.model_dump(mode="json") for row in rows]))
    return 0


def run_mentions(args: argparse.Namespace) -> int:
    page = _readers(args).mentions.mentions(query_from_args(args, MentionsQuery))
    print(json.dumps(page.model_dump(mode="json"), ensure_ascii=False))
    return 0
