"""The shapes training data takes: training rows with per-head targets, and labelled sets.

Multi-label rows get a soft target spread evenly over their gold labels (``soft_targets``),
so each head stays a single-label softmax classifier; a zero weight means "no target for this
head" (GoEmotions' "ambiguous" group, TweetEval sentiment rows on the emotion head). Which
source lands in which part is ``training.corpus``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inference.heads import SENTIMENT_LABELS
from training.goemotions import LabelledSplit

GROUP_TO_SENTIMENT = {"negative": "negative", "neutral": "neutral", "positive": "positive"}  # ambiguous: none

# Our own hand-written sentiment checks of the kinds moodwire is judged on (customer service,
# politics, general): tune sets of the sentiment head (``training.corpus``).
SENTIMENT_CHECK_FILES = ("sentiment_service.tsv", "sentiment_politics.tsv", "sentiment_general.tsv")


@dataclass
class TrainingRows:
    """Texts with per-head soft targets; a zero weight means "no target for this head"."""

    texts: list[str] = field(default_factory=list)
    emotion: list[np.ndarray] = field(default_factory=list)
    emotion_weight: list[float] = field(default_factory=list)
    sentiment: list[np.ndarray] = field(default_factory=list)
    sentiment_weight: list[float] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        source: str,
        texts: list[str],
        emotion: list[np.ndarray],
        emotion_weight: list[float],
        sentiment: list[np.ndarray],
        sentiment_weight: list[float],
    ) -> None:
        self.texts.extend(texts)
        self.emotion.extend(emotion)
        self.emotion_weight.extend(emotion_weight)
        self.sentiment.extend(sentiment)
        self.sentiment_weight.extend(sentiment_weight)
        self.sources[source] = self.sources.get(source, 0) + len(texts)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class DevSet:
    """A held-out split scored on one head; ``scored`` limits macro-F1 to the labels it has."""

    name: str
    head: str  # "emotion" | "sentiment"
    texts: list[str]
    gold: list[list[int]]
    scored: list[int] | None = None


def soft_targets(labels: list[list[int]], width: int) -> list[np.ndarray]:
    """One row per label set: its ``width`` outputs, the gold ones sharing 1 evenly."""
    rows = []
    for ids in labels:
        row = np.zeros(width, dtype=np.float32)
        if ids:
            row[ids] = 1.0 / len(ids)
        rows.append(row)
    return rows


def group_sentiment(groups: LabelledSplit) -> tuple[list[np.ndarray], list[float]]:
    """GoEmotions sentiment groups as (negative, neutral, positive) targets; ambiguous: none."""
    index = {
        name: SENTIMENT_LABELS.index(GROUP_TO_SENTIMENT[name])
        for name in groups.label_names
        if name in GROUP_TO_SENTIMENT
    }
    mapped = [[index[groups.label_names[i]] for i in ids if groups.label_names[i] in index] for ids in groups.labels]
    return soft_targets(mapped, 3), [1.0 if ids else 0.0 for ids in mapped]


def check_dev_sets() -> list[DevSet]:
    """Our hand-written sentiment checks (``SENTIMENT_CHECK_FILES``) as sentiment dev sets."""
    from training.quality import CHECKS_DIR, read_labelled

    sets = []
    for name in SENTIMENT_CHECK_FILES:
        texts, gold = read_labelled(CHECKS_DIR / name)
        sets.append(
            DevSet(
                f"check_{name.removesuffix('.tsv')}", "sentiment", texts, [[SENTIMENT_LABELS.index(g)] for g in gold]
            )
        )
    return sets
