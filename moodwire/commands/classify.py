"""``moodwire classify``: JSON lines of emotion, sentiment and topics, in input order."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from inference.settings import load_pipeline_settings
from inference.topics import load_topic_file
from inference.validation import text_problem
from moodwire.inputs import MentionInput, read_mentions

CHUNK = 256


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("classify", help="classify texts or a file of mentions")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    parser.add_argument("--input", type=Path, help=".txt (a text per line), .jsonl or .csv file")
    parser.add_argument("--topics", type=Path, help="topic file (default: configs/topics.yaml)")
    parser.add_argument("--config", type=Path, help="settings file (default: configs/moodwire.yaml)")
    parser.set_defaults(handler=run)


def _line(mention: MentionInput, payload: dict) -> str:
    record = {"external_id": mention.external_id} if mention.external_id is not None else {}
    record["text"] = mention.text
    record.update(payload)
    return json.dumps(record, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    if not args.texts and args.input is None:
        raise ValueError("give TEXT arguments or --input FILE")
    mentions = [MentionInput(text=t, line=0) for t in args.texts]
    if args.input is not None:
        mentions += read_mentions(args.input)
    # Imported here, not at the top: every `moodwire` command registers this module, and only
    # classify needs the models (`moodwire db upgrade` must start without torch).
    from inference.fake_models import fake_models_warning
    from inference.pipeline import MentionPipeline

    settings = load_pipeline_settings(args.config)
    topics_path = args.topics or settings.resolved_topics_file()
    load_topic_file(topics_path)  # a bad topic file fails before any model loads
    warning = fake_models_warning(settings)
    if warning:  # placeholder results must never pass for classifications
        print(warning, file=sys.stderr)
    pipeline = MentionPipeline.from_settings(settings, topics_file=topics_path)

    progress = tqdm(total=len(mentions), unit="text", file=sys.stderr, disable=args.input is None)
    out = sys.stdout
    failed = 0
    for start in range(0, len(mentions), CHUNK):
        chunk = mentions[start : start + CHUNK]
        problems = [text_problem(m.text, pipeline.max_text_chars) for m in chunk]
        valid = [m.text for m, p in zip(chunk, problems, strict=True) if p is None]
        results = iter(pipeline.classify(valid))
        for mention, problem in zip(chunk, problems, strict=True):
            if problem is None:
                out.write(_line(mention, next(results).to_dict()) + "\n")
            else:
                failed += 1
                out.write(_line(mention, {"error": f"text {problem}"}) + "\n")
        out.flush()
        progress.update(len(chunk))
    progress.close()
    if args.input is not None:
        print(f"classified {len(mentions) - failed} of {len(mentions)} texts ({failed} with errors)", file=sys.stderr)
    return 0
