"""The emotion model's output layout: an emotion head and, optionally, a sentiment head.

A checkpoint carries a sentiment head when its ``id2label`` has the three labels
``sentiment:negative``, ``sentiment:neutral`` and ``sentiment:positive`` beside its emotion
labels. Both heads sit on one encoder (one forward pass per text); every model output row
holds each head's own softmax, in the checkpoint's label order, and this layout is what
tells them apart. Torch-free: the Serve gateway and the backfill's writers split rows with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.schemas import SentimentLabel

SENTIMENT_PREFIX = "sentiment:"
SENTIMENT_LABELS: tuple[SentimentLabel, ...] = ("negative", "neutral", "positive")
SENTIMENT_OUTPUTS = tuple(SENTIMENT_PREFIX + label for label in SENTIMENT_LABELS)


class OutputLayoutError(ValueError):
    """A checkpoint's labels name a sentiment head that is not exactly negative/neutral/positive."""


@dataclass(frozen=True)
class OutputLayout:
    """Which columns of a model output row belong to which head."""

    labels: tuple[str, ...]
    emotion_labels: tuple[str, ...]
    emotion_columns: tuple[int, ...]
    sentiment_columns: tuple[int, ...]  # negative, neutral, positive; empty without a head

    @classmethod
    def of(cls, labels: Sequence[str]) -> OutputLayout:
        labels = tuple(labels)
        heads = [label for label in labels if label.startswith(SENTIMENT_PREFIX)]
        if heads and sorted(heads) != sorted(SENTIMENT_OUTPUTS):
            raise OutputLayoutError(f"a sentiment head needs exactly the labels {list(SENTIMENT_OUTPUTS)}, got {heads}")
        emotion_columns = tuple(i for i, label in enumerate(labels) if not label.startswith(SENTIMENT_PREFIX))
        return cls(
            labels=labels,
            emotion_labels=tuple(labels[i] for i in emotion_columns),
            emotion_columns=emotion_columns,
            sentiment_columns=tuple(labels.index(name) for name in SENTIMENT_OUTPUTS) if heads else (),
        )

    @property
    def has_sentiment_head(self) -> bool:
        return bool(self.sentiment_columns)

    def emotion(self, outputs: np.ndarray) -> np.ndarray:
        """The emotion distribution of each row."""
        if not self.sentiment_columns:
            return outputs
        return outputs[:, list(self.emotion_columns)]

    def sentiment(self, outputs: np.ndarray) -> np.ndarray:
        """The sentiment head's (negative, neutral, positive) distribution of each row."""
        if not self.sentiment_columns:
            raise OutputLayoutError("this model has no sentiment head")
        return outputs[:, list(self.sentiment_columns)]

    def groups(self) -> list[list[int]]:
        """Column groups that each get their own softmax."""
        groups = [list(self.emotion_columns)]
        if self.sentiment_columns:
            groups.append(list(self.sentiment_columns))
        return groups
