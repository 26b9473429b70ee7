"""``moodwire import FILE`` (store as pending) and ``moodwire delete EXTERNAL_ID...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from moodwire.inputs import InputFileError, read_mentions

BATCH = 1000


def register(commands: argparse._SubParsersAction) -> None:
    importer = commands.add_parser("import", help="store mentions unclassified (pending) for a later backfill")
    importer.add_argument("file", type=Path, metavar="FILE")
    importer.add_argument("--database-url")
    importer.set_defaults(handler=run_import)
    deleter = commands.add_parser("delete", help="remove mentions (takedowns, privacy requests)")
    deleter.add_argument("external_ids", nargs="+", metavar="EXTERNAL_ID")
    deleter.add_argument("--database-url")
    deleter.set_defaults(handler=run_delete)


def run_import(args: argparse.Namespace) -> int:
    from storage.factory import open_service
    from storage.records import InvalidRecordError, MentionRecord

    mentions = read_mentions(args.file)
    service = open_service(args.database_url)
    records = [
        MentionRecord(text=m.text, external_id=m.external_id, created_at=m.created_at, source=m.source)
        for m in mentions
    ]
    try:  # validate the whole file first: a bad line imports nothing
        service.prepare_records(records, require_result=False)
    except InvalidRecordError as exc:
        raise InputFileError(f"{args.file}:{mentions[exc.index].line}: {exc.reason}") from None
    inserted = duplicates = 0
    with tqdm(total=len(records), unit="mention", file=sys.stderr) as progress:
        for start in range(0, len(records), BATCH):
            report = service.import_raw(records[start : start + BATCH])
            inserted += report.inserted
            duplicates += report.duplicates
            progress.update(len(records[start : start + BATCH]))
    print(json.dumps({"file": str(args.file), "read": len(records), "stored": inserted, "duplicates": duplicates}))
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from storage.factory import open_service

    deleted = open_service(args.database_url).delete(args.external_ids)
    missing = [i for i in args.external_ids if i not in set(deleted)]
    print(json.dumps({"deleted": deleted, "not_found": missing}))
    return 0
