"""``moodwire quality``: scores of the configured models on our own small labelled checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("quality", help="score the configured models on moodwire's own checks")
    parser.add_argument("--config", type=Path, help="settings file (default: configs/moodwire.yaml)")
    parser.add_argument(
        "--goemotions", type=Path, help="GoEmotions root or Ekman folder: also report top-1 macro-F1 on dev"
    )
    parser.add_argument("--tweeteval", type=Path, help="TweetEval root: also report macro-F1 on its held-out val parts")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from inference.embedding import build_embedder
    from inference.emotion import EmotionClassifier
    from inference.sentiment import sentiment_scorer
    from inference.settings import load_pipeline_settings
    from training import quality

    settings = load_pipeline_settings(args.config)
    emotion = EmotionClassifier.from_spec(settings.emotion)
    embedder = build_embedder(settings.embedding)
    scorer = sentiment_scorer(settings.sentiment, emotion.labels)
    report = {
        "emotion_model": emotion.version,
        "sentiment_method": settings.sentiment.method,
        "emotion_tweets_macro_f1": round(quality.emotion_tweets_macro_f1(emotion), 4),
        **{
            figure: round(quality.sentiment_macro_f1(emotion, scorer, quality.CHECKS_DIR / name), 4)
            for name, figure in quality.SENTIMENT_CHECKS.items()
        },
        **{
            figure: round(quality.topic_accuracy(embedder, path=quality.CHECKS_DIR / name), 4)
            for name, figure in quality.TOPIC_CHECKS.items()
        },
        "language_accuracy": round(quality.language_accuracy(), 4),
        "language_accuracy_per_language": {
            label: round(value, 4) for label, value in quality.language_accuracy_per_language().items()
        },
    }
    if args.goemotions is not None:
        ekman = args.goemotions / "ekman" if (args.goemotions / "ekman").is_dir() else args.goemotions
        report["goemotions_dev_macro_f1"] = round(quality.goemotions_macro_f1(emotion, ekman), 4)
    if args.tweeteval is not None:
        figures = quality.tweeteval_figures(emotion, scorer, args.tweeteval)
        report.update({name: round(value, 4) for name, value in figures.items()})
    print(json.dumps(report, indent=2))
    return 0
