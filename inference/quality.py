"""Small labelled checks written for this project, to steer models without touching test sets.

``inference/checks/`` holds hand-written tweets and news-style sentences (not taken from any
public data set). They are small, so treat their scores as a smoke alarm, not a benchmark.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from inference.emotion import EmotionClassifier
from inference.goemotions import read_split
from inference.interfaces import TextEmbedder
from inference.metrics import macro_f1, top1_macro_f1
from inference.sentiment import SentimentRule
from inference.topics import TopicScorer, load_topic_file

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
SENTIMENT_LABELS = ["negative", "neutral", "positive"]


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    return [row[1] for row in rows], [row[0] for row in rows]


def sentiment_macro_f1(emotion: EmotionClassifier, rule: SentimentRule, path: Path | None = None) -> float:
    texts, gold = read_labelled(path or CHECKS_DIR / "sentiment_tweets.tsv")
    predicted = [r.label for r in rule.results(emotion.predict_proba(texts))]
    index = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
    return macro_f1([index[p] for p in predicted], [index[g] for g in gold], len(SENTIMENT_LABELS))


def emotion_tweets_macro_f1(emotion: EmotionClassifier, path: Path | None = None) -> float:
    """Out-of-domain tweets; 'love' counts as joy. Scored over the labels the file uses."""
    texts, gold = read_labelled(path or CHECKS_DIR / "emotion_tweets.tsv")
    gold = ["joy" if g == "love" else g for g in gold]
    labels = sorted(set(gold))
    predicted = [r.label for r in emotion.classify(texts)]
    index = {label: i for i, label in enumerate(labels)}
    other = len(labels)  # a prediction outside the file's labels (e.g. neutral) is always wrong
    per_label = top1_macro_f1([index.get(p, other) for p in predicted], [{index[g]} for g in gold], other + 1)[1]
    return float(np.mean(per_label[:other]))


def topic_accuracy(embedder: TextEmbedder, topics: Path | None = None, path: Path | None = None) -> float:
    scorer = TopicScorer(load_topic_file(topics or CHECKS_DIR / "news_topics.yaml"), embedder)
    texts, gold = read_labelled(path or CHECKS_DIR / "news_topics.tsv")
    picked = scorer.select(scorer.scores(embedder.embed(texts)))
    return float(np.mean([bool(row) and row[0].key == g for row, g in zip(picked, gold, strict=True)]))


def goemotions_macro_f1(emotion: EmotionClassifier, data_dir: Path, split: str = "dev") -> float:
    data = read_split(data_dir, split)
    index = {label: i for i, label in enumerate(emotion.labels)}
    predicted = emotion.predict_proba(data.texts).argmax(axis=1).tolist()
    gold = [{index[data.label_names[i]] for i in ids} for ids in data.labels]
    return top1_macro_f1(predicted, gold, len(emotion.labels))[0]
