"""``moodwire quality``: scores of the configured models on our own small labelled checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("quality", help="score the configured models on moodwire's own checks")
    parser.add_argument("--config", type=Path, help="settings file (default: configs/moodwire.yaml)")
    parser.add_argument("--goemotions", type=Path, help="GoEmotions folder: also report top-1 macro-F1 on dev")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from inference import quality
    from inference.embedding import build_embedder
    from inference.emotion import EmotionClassifier
    from inference.sentiment import SentimentRule
    from inference.settings import load_pipeline_settings

    settings = load_pipeline_settings(args.config)
    emotion = EmotionClassifier.from_spec(settings.emotion)
    embedder = build_embedder(settings.embedding)
    report = {
        "emotion_model": emotion.version,
        "emotion_tweets_macro_f1": round(quality.emotion_tweets_macro_f1(emotion), 4),
        "sentiment_tweets_macro_f1": round(
            quality.sentiment_macro_f1(emotion, SentimentRule(settings.sentiment, emotion.labels)), 4
        ),
        "news_topic_accuracy": round(quality.topic_accuracy(embedder), 4),
    }
    if args.goemotions is not None:
        report["goemotions_dev_macro_f1"] = round(quality.goemotions_macro_f1(emotion, args.goemotions), 4)
    print(json.dumps(report, indent=2))
    return 0
