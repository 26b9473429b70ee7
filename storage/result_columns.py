"""One codec for results: a ``MentionResult`` to and from the mentions table's result
columns (one row: what the database writer stores), and to and from the same columns for a
batch (numpy arrays: what the backfill's Ray Data stages pass on). A new result field is one
column here, beside the schema (``storage.models``) and its migration.

The batch form is numeric wherever it can be (a score matrix over the emotion labels, NaN for
a missing sentiment head), so Ray Data moves it as tensors instead of pickled objects; it
decodes back to the exact result it encoded (``tests/unit/test_result_columns.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from inference.heads import SENTIMENT_LABELS, OutputLayout
from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore, as_sentiment_label

# The mentions table's columns that hold a result (``storage.models.Mention``).
ROW_COLUMNS = ("emotion_label", "emotion_scores", "sentiment_label", "sentiment_score", "sentiment_scores", "language")
# The batch form: the row's columns, plus what the mention_topics rows and the answer need.
BATCH_COLUMNS = (*ROW_COLUMNS, "topic_keys", "topic_scores", "language_supported")


def result_row(result: MentionResult) -> dict[str, Any]:
    """The values of ``ROW_COLUMNS`` for one result."""
    scores = result.sentiment.scores
    return {
        "emotion_label": result.emotion.label,
        "emotion_scores": dict(result.emotion.scores),
        "sentiment_label": result.sentiment.label,
        "sentiment_score": result.sentiment.score,
        "sentiment_scores": dict(scores) if scores is not None else None,
        "language": result.language,
    }


def result_topics(result: MentionResult) -> list[TopicScore]:
    """A result's topics, one per key (the mention_topics rows)."""
    return list({t.key: t for t in result.topics}.values())


class ResultColumns:
    """The batch form over one emotion model's labels (its emotion outputs, in order)."""

    def __init__(self, emotion_labels: Sequence[str]) -> None:
        self.labels = list(emotion_labels)

    @classmethod
    def for_outputs(cls, labels: Sequence[str]) -> ResultColumns:
        """The codec for a model whose outputs are ``labels`` (emotion labels, and a sentiment
        head's columns when it has one: ``inference.heads``)."""
        return cls(OutputLayout.of(labels).emotion_labels)

    def encode(self, results: Sequence[MentionResult | None]) -> dict[str, np.ndarray]:
        """``BATCH_COLUMNS`` for ``results``, one row each; a None (a row that failed
        validation) gets an empty row that is never decoded."""
        rows = len(results)
        columns: dict[str, np.ndarray] = {
            "emotion_label": np.array([""] * rows, dtype=object),
            "emotion_scores": np.zeros((rows, len(self.labels)), dtype=np.float64),
            "sentiment_label": np.array([""] * rows, dtype=object),
            "sentiment_score": np.zeros(rows, dtype=np.float64),
            "sentiment_scores": np.full((rows, len(SENTIMENT_LABELS)), np.nan, dtype=np.float64),
            "language": np.array([""] * rows, dtype=object),
            "topic_keys": np.empty(rows, dtype=object),
            "topic_scores": np.empty(rows, dtype=object),
            "language_supported": np.ones(rows, dtype=bool),
        }
        for i, result in enumerate(results):
            columns["topic_keys"][i], columns["topic_scores"][i] = [], []
            if result is None:
                continue
            row = result_row(result)
            columns["emotion_label"][i] = row["emotion_label"]
            columns["emotion_scores"][i] = [row["emotion_scores"][label] for label in self.labels]
            columns["sentiment_label"][i] = row["sentiment_label"]
            columns["sentiment_score"][i] = row["sentiment_score"]
            if row["sentiment_scores"] is not None:
                columns["sentiment_scores"][i] = [row["sentiment_scores"][name] for name in SENTIMENT_LABELS]
            columns["language"][i] = row["language"]
            columns["topic_keys"][i] = [t.key for t in result.topics]
            columns["topic_scores"][i] = [t.score for t in result.topics]
            columns["language_supported"][i] = result.language_supported
        return columns

    def decode(self, columns: Mapping[str, Any], index: int) -> MentionResult:
        """Row ``index`` of the batch form, exactly as it was encoded."""
        emotion = np.asarray(columns["emotion_scores"][index], dtype=np.float64)
        head = np.asarray(columns["sentiment_scores"][index], dtype=np.float64)
        return MentionResult(
            emotion=EmotionResult(
                label=str(columns["emotion_label"][index]),
                scores={label: float(p) for label, p in zip(self.labels, emotion, strict=True)},
            ),
            sentiment=SentimentResult(
                label=as_sentiment_label(str(columns["sentiment_label"][index])),
                score=float(columns["sentiment_score"][index]),
                scores=None if np.isnan(head).any() else dict(zip(SENTIMENT_LABELS, map(float, head), strict=True)),
            ),
            topics=[
                TopicScore(key=str(k), score=float(s))
                for k, s in zip(list(columns["topic_keys"][index]), list(columns["topic_scores"][index]), strict=True)
            ],
            language=str(columns["language"][index]),
            language_supported=bool(columns["language_supported"][index]),
        )
