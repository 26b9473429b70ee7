"""``python -m batch_jobs.retopic [--topics FILE]``: re-score stored embeddings against a topic file.

No model runs over the mentions: their stored embeddings are scored against the new topic
prototypes (only the topic descriptions are embedded), mention topics are replaced and the
rollups of every topic gained or lost are moved in the same transaction, one id range at a
time. Run it after editing the topic file, then redeploy the Serve app so new mentions use
the same topics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from batch_jobs.cli import check_job_database


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retopic", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--topics", type=Path, help="topic file (default: the one configs/moodwire.yaml names)")
    parser.add_argument("--config", type=Path, help="pipeline config (default: configs/moodwire.yaml)")
    parser.add_argument("--database-url", help="default: $MOODWIRE_DATABASE_URL or the embedded SQLite file")
    parser.add_argument("--range-size", type=int, default=5000, help="mention ids per transaction")
    return parser


def run(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    from inference.embedding import build_embedder
    from inference.settings import load_pipeline_settings
    from inference.topics import TopicScorer, load_topic_file
    from inference.versions import embedding_version
    from storage import topic_rescore
    from storage.factory import open_service
    from storage.settings import database_url

    if args.range_size < 1:
        raise ValueError("--range-size must be at least 1")
    check_job_database(args.database_url)
    settings = load_pipeline_settings(args.config)
    topic_file = load_topic_file(args.topics or settings.resolved_topics_file())
    service = open_service(database_url(args.database_url), pipeline_config=args.config)
    scorer = TopicScorer(topic_file, build_embedder(settings.embedding))

    def select_topics(vectors):
        return [[(t.key, t.score) for t in picked] for picked in scorer.select(scorer.scores(vectors))]

    started = time.perf_counter()
    engine = service.engine
    with engine.connect() as connection:
        lo, hi = topic_rescore.embedded_id_bounds(connection)
        unembedded = topic_rescore.count_unembedded(connection)
    total = topic_rescore.RescoreReport()
    current_embedding = embedding_version(settings.embedding)
    if lo is not None:
        starts = range(lo, hi + 1, args.range_size)
        for start in tqdm(starts, desc="retopic", unit="range", file=sys.stderr, disable=None):
            with engine.begin() as connection:
                total.add(
                    topic_rescore.rescore_range(
                        connection,
                        lo=start,
                        hi=start + args.range_size,
                        select_topics=select_topics,
                        embedding_version=current_embedding,
                    )
                )
    with engine.begin() as connection:
        emptied = topic_rescore.drop_empty_rollups(connection, topics=sorted(total.touched_topics))
    engine.dispose()
    return {
        "topics": [t.key for t in topic_file.topics],
        "scanned": total.scanned,
        "changed": total.changed,
        "stale_embeddings": total.stale_embeddings,
        "without_embedding": unembedded,
        "topics_touched": sorted(total.touched_topics),
        "rollup_rows_emptied": emptied,
        "seconds": round(time.perf_counter() - started, 2),
    }


def warn_stale(summary: dict) -> int:
    if summary["stale_embeddings"]:
        print(
            f"retopic: {summary['stale_embeddings']} mentions were embedded by another model and kept their "
            "topics; run `python -m batch_jobs.backfill db:all --model-changed` first",
            file=sys.stderr,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    from batch_jobs.cli import run_job

    return run_job("retopic", run, build_parser().parse_args(argv), report=warn_stale)


if __name__ == "__main__":
    raise SystemExit(main())
