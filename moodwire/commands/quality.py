"""``moodwire quality``: scores of the configured models on our own small labelled checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("quality", help="score the configured models on moodwire's own checks")
    parser.add_argument("--config", type=Path, help="settings file (default: configs/moodwire.yaml)")
    parser.add_argument(
        "--goemotions",
        type=Path,
        help="GoEmotions root or Ekman folder: also report top-1 macro-F1 on dev, and share errors on every "
        "dev set given (share_error_points)",
    )
    parser.add_argument("--tweeteval", type=Path, help="TweetEval root: also report macro-F1 on its held-out val parts")
    parser.add_argument(
        "--semeval", type=Path, help="SemEval-2018 E-c folder: also report macro-F1 on its held-out dev tweets"
    )
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
    emotion_tweets = quality.read_labelled(quality.CHECKS_DIR / "emotion_tweets.tsv")
    tweets_f1, tweets_per_label = quality.emotion_f1_per_label(
        emotion, emotion_tweets[0], [{"joy" if g == "love" else g} for g in emotion_tweets[1]]
    )
    report: dict[str, object] = {
        "emotion_model": emotion.version,
        "sentiment_method": settings.sentiment.method,
        "emotion_tweets_macro_f1": round(tweets_f1, 4),
        "emotion_tweets_per_label_f1": _rounded(tweets_per_label),
    }
    for name, figure in quality.SENTIMENT_CHECKS.items():
        texts, gold = quality.read_labelled(quality.CHECKS_DIR / name)
        score, per_label = quality.sentiment_f1_per_label(emotion, scorer, texts, gold)
        report[figure] = round(score, 4)
        report[figure.replace("_macro_f1", "_per_label_f1")] = _rounded(per_label)
    report.update(
        {
            figure: round(quality.topic_accuracy(embedder, path=quality.CHECKS_DIR / name), 4)
            for name, figure in quality.TOPIC_CHECKS.items()
        }
    )
    report["language_accuracy"] = round(quality.language_accuracy(), 4)
    report["language_accuracy_per_language"] = _rounded(quality.language_accuracy_per_language())
    if args.goemotions is not None:
        ekman = args.goemotions / "ekman" if (args.goemotions / "ekman").is_dir() else args.goemotions
        score, per_label = quality.goemotions_per_label(emotion, ekman)
        report["goemotions_dev_macro_f1"] = round(score, 4)
        report["goemotions_dev_per_label_f1"] = _rounded(per_label)
    if args.tweeteval is not None:
        for name, value in quality.tweeteval_figures(emotion, scorer, args.tweeteval).items():
            report[name] = _rounded(value) if isinstance(value, dict) else round(value, 4)
    if args.semeval is not None:
        figures = quality.semeval_figures(emotion, args.semeval)
        report["semeval_dev_macro_f1"] = round(float(figures["semeval_dev_macro_f1"]), 4)
        report["semeval_dev_per_label_f1"] = _rounded(figures["semeval_dev_per_label_f1"])
    if args.goemotions is not None and isinstance(emotion, EmotionClassifier):
        report["share_error_points"] = _share_figures(emotion, args, sentiment_head=settings.sentiment.method == "head")
    print(json.dumps(report, indent=2))
    return 0


def _share_figures(emotion, args: argparse.Namespace, *, sentiment_head: bool) -> dict[str, object]:
    """Share errors on the dev sets of the folders given (``training.share_fit.quality_shares``)."""
    from inference.heads import OutputLayout
    from training.corpus import CorpusFolders, dev_sets
    from training.share_fit import quality_shares

    folders = CorpusFolders(goemotions=args.goemotions, tweeteval=args.tweeteval, semeval=args.semeval)
    folders.check()
    sets = dev_sets(folders, list(OutputLayout.of(emotion.labels).emotion_labels))
    return quality_shares(emotion, sets, sentiment_head=sentiment_head)


def _rounded(values) -> dict[str, float]:
    return {label: round(float(value), 4) for label, value in values.items()}
