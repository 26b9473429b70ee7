"""Small labelled checks written for this project, to steer models without touching test sets.

``training/checks/`` holds hand-written tweets and news-style sentences (not taken from any
public data set). They are small, so treat their scores as a smoke alarm, not a benchmark.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from inference.emotion import EmotionClassifier
from inference.heads import SENTIMENT_LABELS as HEAD_SENTIMENT_LABELS
from inference.interfaces import TextEmbedder
from inference.sentiment import SentimentScorer
from inference.topics import TopicScorer, load_topic_file
from training.goemotions import read_split
from training.metrics import top1_macro_f1
from training.tweeteval import TWEET_EMOTION_TO_EKMAN, read_tweeteval

CHECKS_DIR = Path(__file__).resolve().parent / "checks"
SENTIMENT_LABELS = list(HEAD_SENTIMENT_LABELS)


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    return [row[1] for row in rows], [row[0] for row in rows]


# Hand-written sentiment checks of the kinds moodwire is judged on (file name -> figure name).
SENTIMENT_CHECKS = {
    "sentiment_tweets.tsv": "sentiment_tweets_macro_f1",
    "sentiment_service.tsv": "sentiment_service_macro_f1",
    "sentiment_politics.tsv": "sentiment_politics_macro_f1",
    "sentiment_general.tsv": "sentiment_general_macro_f1",
}


def sentiment_macro_f1(emotion: EmotionClassifier, scorer: SentimentScorer, path: Path | None = None) -> float:
    """Macro-F1 of ``scorer`` (the configured sentiment method) on a labelled check file."""
    texts, gold = read_labelled(path or CHECKS_DIR / "sentiment_tweets.tsv")
    return sentiment_f1_of(emotion, scorer, texts, gold)


def sentiment_f1_of(emotion: EmotionClassifier, scorer: SentimentScorer, texts: list[str], gold: list[str]) -> float:
    return sentiment_f1_per_label(emotion, scorer, texts, gold)[0]


def sentiment_f1_per_label(
    emotion: EmotionClassifier, scorer: SentimentScorer, texts: list[str], gold: list[str]
) -> tuple[float, dict[str, float]]:
    """Macro-F1 of the configured sentiment method and each label's F1."""
    predicted = [r.label for r in scorer.results(emotion.predict_proba(texts))]
    index = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
    score, per_label = top1_macro_f1([index[p] for p in predicted], [{index[g]} for g in gold], len(SENTIMENT_LABELS))
    return score, dict(zip(SENTIMENT_LABELS, per_label, strict=True))


def tweeteval_figures(emotion: EmotionClassifier, scorer: SentimentScorer, folder: Path) -> dict[str, object]:
    """Dev figures on TweetEval's ``val`` parts (the parts training holds out), and per label."""
    sentiment = read_tweeteval(folder / "sentiment", "val", {}, SENTIMENT_LABELS)
    emotions = read_tweeteval(
        folder / "emotion", "val", TWEET_EMOTION_TO_EKMAN, sorted(set(TWEET_EMOTION_TO_EKMAN.values()))
    )
    sentiment_f1, sentiment_labels = sentiment_f1_per_label(
        emotion, scorer, sentiment.texts, [SENTIMENT_LABELS[ids[0]] for ids in sentiment.labels]
    )
    emotion_f1, emotion_labels = emotion_f1_per_label(
        emotion, emotions.texts, [{emotions.label_names[ids[0]]} for ids in emotions.labels]
    )
    return {
        "tweeteval_sentiment_val_macro_f1": sentiment_f1,
        "tweeteval_sentiment_val_per_label_f1": sentiment_labels,
        "tweeteval_emotion_val_macro_f1": emotion_f1,
        "tweeteval_emotion_val_per_label_f1": emotion_labels,
    }


def emotion_tweets_macro_f1(emotion: EmotionClassifier, path: Path | None = None) -> float:
    """Out-of-domain tweets; 'love' counts as joy. Scored over the labels the file uses."""
    texts, gold = read_labelled(path or CHECKS_DIR / "emotion_tweets.tsv")
    return emotion_f1_of(emotion, texts, ["joy" if g == "love" else g for g in gold])


def emotion_f1_of(emotion: EmotionClassifier, texts: list[str], gold: list[str]) -> float:
    """Top-1 macro-F1 over the labels ``gold`` uses; any other prediction counts as wrong."""
    return emotion_f1_per_label(emotion, texts, [{g} for g in gold])[0]


def emotion_f1_per_label(
    emotion: EmotionClassifier, texts: list[str], gold: list[set[str]], scored: list[str] | None = None
) -> tuple[float, dict[str, float]]:
    """Top-1 macro-F1 against gold label sets, over ``scored`` (default: every label the gold
    sets use); a prediction outside a text's gold set (``neutral`` on a fear tweet) is a miss."""
    labels = scored or sorted(set().union(*gold))
    predicted = [r.label for r in emotion.classify(texts)]
    index = {label: i for i, label in enumerate(labels)}
    other = len(labels)  # any label outside the scored ones
    gold_ids = [{index.get(g, other) for g in golds} for golds in gold]
    per_label = top1_macro_f1([index.get(p, other) for p in predicted], gold_ids, other + 1)[1]
    return float(np.mean(per_label[:other])), dict(zip(labels, per_label[:other], strict=True))


def semeval_figures(emotion: EmotionClassifier, folder: Path) -> dict[str, object]:
    """SemEval-2018 E-c dev (held out of training): top-label macro-F1 over anger, fear, joy,
    sadness and surprise, the emotions of out-of-domain tweets analysts chart."""
    from training.corpus import TWEET_SCORED_EMOTIONS
    from training.semeval import read_semeval

    labels = list(emotion.layout.emotion_labels)
    split, _ = read_semeval(folder, "dev", labels)
    rows = [i for i, ids in enumerate(split.labels) if ids]
    gold = [{labels[i] for i in split.labels[row]} for row in rows]
    score, per_label = emotion_f1_per_label(emotion, [split.texts[i] for i in rows], gold, list(TWEET_SCORED_EMOTIONS))
    return {"semeval_dev_macro_f1": score, "semeval_dev_per_label_f1": per_label}


# Hand-written news topic checks, both scored against news_topics.yaml (file name -> figure
# name): one-sentence items, and wire-style headlines with snippets and cross-over stories.
TOPIC_CHECKS = {
    "news_topics.tsv": "news_topic_accuracy",
    "news_snippets.tsv": "news_snippets_topic_accuracy",
}


def topic_accuracy(embedder: TextEmbedder, topics: Path | None = None, path: Path | None = None) -> float:
    """Share of ``path``'s texts (default news_topics.tsv) whose first selected topic is the label."""
    scorer = TopicScorer(load_topic_file(topics or CHECKS_DIR / "news_topics.yaml"), embedder)
    texts, gold = read_labelled(path or CHECKS_DIR / "news_topics.tsv")
    picked = scorer.select(scorer.scores(embedder.embed(texts)))
    return float(np.mean([bool(row) and row[0].key == g for row, g in zip(picked, gold, strict=True)]))


def goemotions_macro_f1(emotion: EmotionClassifier, data_dir: Path, split: str = "dev") -> float:
    return goemotions_per_label(emotion, data_dir, split)[0]


def goemotions_per_label(
    emotion: EmotionClassifier, data_dir: Path, split: str = "dev"
) -> tuple[float, dict[str, float]]:
    """Top-1 macro-F1 on GoEmotions/Ekman ``split`` against the gold label sets, and per label."""
    data = read_split(data_dir, split)
    labels = list(emotion.layout.emotion_labels)
    index = {label: i for i, label in enumerate(labels)}
    predicted = emotion.layout.emotion(emotion.predict_proba(data.texts)).argmax(axis=1).tolist()
    gold = [{index[data.label_names[i]] for i in ids} for ids in data.labels]
    score, per_label = top1_macro_f1(predicted, gold, len(labels))
    return score, dict(zip(labels, per_label, strict=True))


def language_hits(path: Path | None = None) -> tuple[list[bool], list[str]]:
    """Per text of our language check: whether the detected language is the label, and the label."""
    from inference.language import LanguageDetector

    texts, gold = read_labelled(path or CHECKS_DIR / "languages.tsv")
    return [p == g for p, g in zip(LanguageDetector().detect(texts), gold, strict=True)], gold


def language_accuracy(path: Path | None = None) -> float:
    """Share of our short hand-written texts (7 languages, and ``und`` for emoji-only and very
    short ones) whose detected language is the label; ``und`` for a text in a language counts
    as wrong."""
    hits, _ = language_hits(path)
    return float(np.mean(hits))


def language_accuracy_per_language(path: Path | None = None) -> dict[str, float]:
    hits, gold = language_hits(path)
    return {
        label: float(np.mean([h for h, g in zip(hits, gold, strict=True) if g == label])) for label in sorted(set(gold))
    }
