"""``moodwire db upgrade``, ``moodwire db prune --older-than DAYS`` and ``moodwire db rebuild-rollups``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("db", help="database schema and retention")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="apply migrations up to this version")
    upgrade.add_argument("--database-url", help="default: $MOODWIRE_DATABASE_URL or the embedded SQLite file")
    upgrade.set_defaults(handler=run_upgrade)
    prune = actions.add_parser("prune", help="drop texts and embeddings past retention, keep rollups")
    prune.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    prune.add_argument("--database-url")
    prune.set_defaults(handler=run_prune)
    rebuild = actions.add_parser(
        "rebuild-rollups",
        help="recompute every topic rollup from the stored mentions (after changing supported_languages "
        "or rollup_languages)",
    )
    rebuild.add_argument("--config", type=Path, help="pipeline settings (default: configs/moodwire.yaml)")
    rebuild.add_argument("--database-url")
    rebuild.set_defaults(handler=run_rebuild_rollups)


def run_upgrade(args: argparse.Namespace) -> int:
    from storage.engine import create_database_engine
    from storage.migrate import upgrade
    from storage.settings import database_url, load_storage_settings

    engine = create_database_engine(database_url(args.database_url), load_storage_settings())
    try:
        revision = upgrade(engine)  # database errors arrive as domain errors naming the database
    finally:
        engine.dispose()
    print(json.dumps({"database": engine.url.render_as_string(hide_password=True), "revision": revision}))
    return 0


def run_prune(args: argparse.Namespace) -> int:
    from storage.factory import open_service

    if args.older_than < 0:
        raise ValueError("--older-than must be zero or more days")
    print(json.dumps(open_service(args.database_url).prune(args.older_than)))
    return 0


def run_rebuild_rollups(args: argparse.Namespace) -> int:
    """One transaction: a failure or Ctrl-C leaves the rollups as they were."""
    from tqdm import tqdm

    from storage.factory import open_service

    service = open_service(args.database_url, pipeline_config=args.config)
    try:
        with tqdm(total=service.mention_id_span(), unit="id", desc="rebuild-rollups", file=sys.stderr) as bar:
            summary = service.rebuild_rollups(progress=bar.update)
    finally:
        service.engine.dispose()
    policy = service.language_policy
    print(
        json.dumps(
            {
                **summary,
                "supported_languages": sorted(policy.supported),
                "rollup_languages": policy.rollups,
            }
        )
    )
    return 0
