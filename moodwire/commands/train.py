"""``moodwire train-emotion``: reproduce the default emotion model artifact (emotion + sentiment heads)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train-emotion", help="fine-tune the emotion model (LoRA on MiniLM)")
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="GoEmotions root (ekman/ and group/) or its Ekman folder: train.tsv, dev.tsv, labels.txt",
    )
    parser.add_argument(
        "--tweeteval",
        type=Path,
        default=None,
        help="TweetEval root with sentiment/ and emotion/: adds tweets and the sentiment head's main data",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the adapter artifact")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training rows")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--init-from",
        default=None,
        help="start from this adapter artifact (e.g. builtin:ekman-minilm or a folder): a short second stage",
    )
    parser.add_argument(
        "--goemotions-fraction",
        type=float,
        default=1.0,
        help="share of GoEmotions train rows to use (a warm start replays part of them)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from inference.loading import ModelLoadError, is_adapter_artifact, resolve_source
    from training.emotion import TrainConfig, train_emotion
    from training.goemotions import DatasetError

    if not args.data.is_dir():
        raise DatasetError(f"{args.data}: not a folder")
    if not 0.0 < args.goemotions_fraction <= 1.0:
        raise DatasetError(f"--goemotions-fraction must be within (0, 1], got {args.goemotions_fraction}")
    if args.init_from is not None and not is_adapter_artifact(resolve_source(args.init_from)):
        raise ModelLoadError(
            f"--init-from {args.init_from}: not a moodwire adapter artifact (no moodwire_artifact.json)"
        )
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lora_rank=args.lora_rank,
        threads=args.threads,
        limit=args.limit,
        seed=args.seed,
        init_from=args.init_from,
        goemotions_fraction=args.goemotions_fraction,
    )
    report = train_emotion(args.data, args.out, config, tweeteval=args.tweeteval)
    print(json.dumps(asdict(report), indent=2))
    return 0
