"""``moodwire train-emotion``: reproduce the default emotion model artifact."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from inference.goemotions import DatasetError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train-emotion", help="fine-tune the emotion model (LoRA on MiniLM)")
    parser.add_argument("--data", type=Path, required=True, help="GoEmotions folder: train.tsv, dev.tsv, labels.txt")
    parser.add_argument("--out", type=Path, required=True, help="folder for the adapter artifact")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training rows")
    parser.add_argument("--seed", type=int, default=13)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from inference.training import TrainConfig, train_emotion

    if not args.data.is_dir():
        raise DatasetError(f"{args.data}: not a folder")
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lora_rank=args.lora_rank,
        threads=args.threads,
        limit=args.limit,
        seed=args.seed,
    )
    report = train_emotion(args.data, args.out, config)
    print(json.dumps(asdict(report), indent=2))
    return 0
