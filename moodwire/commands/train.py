"""``moodwire train-emotion``: reproduce the default emotion model (emotion + sentiment heads on a
tower over the embedding model's shared layers) from the shared data, in one command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train-emotion", help="train the emotion tower (upper MiniLM layers over the embedding's shared lower layers)"
    )
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
        help="TweetEval root with sentiment/ and emotion/: the sentiment head's main data and tweets",
    )
    parser.add_argument(
        "--semeval",
        type=Path,
        default=None,
        help="SemEval-2018 E-c folder (train.tsv, dev.tsv): emotion tweets with fear and surprise",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the tower artifact")
    parser.add_argument("--epochs", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="the tower's layers")
    parser.add_argument("--head-learning-rate", type=float, default=1e-3, help="the output layer")
    parser.add_argument(
        "--shared-layers",
        type=int,
        default=4,
        help="lower MiniLM layers shared with the embedding (frozen); the tower holds the rest",
    )
    parser.add_argument(
        "--tweet-emotion-weight",
        type=float,
        default=1.0,
        help="weight of the tweets' emotion targets (SemEval, TweetEval emotion); GoEmotions' is 1",
    )
    parser.add_argument(
        "--sentiment-weight",
        type=float,
        default=1.0,
        help="weight of the sentiment head's loss (TweetEval sentiment); the emotion head's is 1",
    )
    parser.add_argument(
        "--tune-fraction",
        type=float,
        default=0.1,
        help="share of each source's training rows kept out to tune checkpoints, biases and calibration",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N rows of each source")
    parser.add_argument("--seed", type=int, default=13)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.config import TrainConfig
    from training.corpus import CorpusFolders
    from training.emotion import train_emotion
    from training.goemotions import DatasetError

    if not args.data.is_dir():
        raise DatasetError(f"{args.data}: not a folder")
    if not 0.0 <= args.tune_fraction < 1.0:
        raise DatasetError(f"--tune-fraction must be within [0, 1), got {args.tune_fraction}")
    for flag, value in (
        ("--tweet-emotion-weight", args.tweet_emotion_weight),
        ("--sentiment-weight", args.sentiment_weight),
    ):
        if value < 0:
            raise DatasetError(f"{flag} must be at least 0, got {value}")
    if not 0 <= args.shared_layers < 6:
        raise DatasetError(f"--shared-layers must be within 0..5 (MiniLM has 6 layers), got {args.shared_layers}")
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        head_learning_rate=args.head_learning_rate,
        shared_layers=args.shared_layers,
        tune_fraction=args.tune_fraction,
        tweet_emotion_weight=args.tweet_emotion_weight,
        sentiment_weight=args.sentiment_weight,
        threads=args.threads,
        limit=args.limit,
        seed=args.seed,
    )
    report = train_emotion(CorpusFolders(args.data, args.tweeteval, args.semeval), args.out, config)
    print(json.dumps(report, indent=2))
    return 0
