"""Sentiment: from the emotion model's trained sentiment head, or derived from emotions.

``SentimentHead`` (``sentiment.method: head``, the default): the emotion checkpoint carries a
3-way sentiment head trained on tweets (``training.emotion``); the label is its top class
and the score p(positive) - p(negative), in [-1, 1]. It reads complaints and political jabs
that carry no emotion word ("3 hours on the tarmac and no update"), which the rule misses.

``SentimentRule`` (``sentiment.method: valence``): for emotion checkpoints without a head.
The score is the valence-weighted sum of the emotion probabilities, in [-1, 1]; the label
cuts it at configurable thresholds.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from inference.config_files import ConfigError
from inference.heads import SENTIMENT_LABELS, OutputLayout
from inference.schemas import SentimentLabel, SentimentResult
from inference.settings import SentimentSettings


class SentimentScorer(Protocol):
    def results(self, outputs: np.ndarray) -> list[SentimentResult]:
        """One result per row of the emotion model's outputs (every head's columns)."""
        ...


class SentimentRule:
    def __init__(self, settings: SentimentSettings, labels: list[str]) -> None:
        self.settings = settings
        self.layout = OutputLayout.of(labels)
        self.valence = np.array(
            [settings.valence.get(label, 0.0) for label in self.layout.emotion_labels], dtype=np.float32
        )

    def scores(self, outputs: np.ndarray) -> np.ndarray:
        emotion_probs = self.layout.emotion(outputs)
        weights = emotion_probs / np.maximum(emotion_probs.sum(axis=1, keepdims=True), 1e-12)
        return np.clip(weights @ self.valence, -1.0, 1.0)

    def label(self, score: float) -> SentimentLabel:
        if score >= self.settings.positive_threshold:
            return "positive"
        if score <= -self.settings.negative_threshold:
            return "negative"
        return "neutral"

    def results(self, outputs: np.ndarray) -> list[SentimentResult]:
        return [SentimentResult(label=self.label(float(s)), score=round(float(s), 6)) for s in self.scores(outputs)]


class SentimentHead:
    """The trained head's top class, p(positive) - p(negative) and all three probabilities."""

    def __init__(self, labels: list[str]) -> None:
        self.layout = OutputLayout.of(labels)
        if not self.layout.has_sentiment_head:
            raise ConfigError(
                "sentiment.method: 'head' needs an emotion model with a sentiment head "
                "(labels sentiment:negative/neutral/positive); this model has none: "
                "set sentiment.method: valence"
            )

    def results(self, outputs: np.ndarray) -> list[SentimentResult]:
        probs = self.layout.sentiment(outputs)
        results = []
        for row in probs:
            results.append(
                SentimentResult(
                    label=SENTIMENT_LABELS[int(np.argmax(row))],
                    score=round(float(np.clip(row[2] - row[0], -1.0, 1.0)), 6),
                    scores={name: round(float(p), 6) for name, p in zip(SENTIMENT_LABELS, row, strict=True)},
                )
            )
        return results


def sentiment_scorer(settings: SentimentSettings, labels: list[str]) -> SentimentScorer:
    """The configured sentiment method over a model with output ``labels``."""
    if settings.method == "head":
        return SentimentHead(labels)
    return SentimentRule(settings, labels)
