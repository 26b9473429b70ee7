"""Post-processing shared by every face: model outputs -> emotion, sentiment and topics.

The in-process pipeline and the Serve gateway both call ``PostProcessor.analyses`` on the
raw outputs of the two models, so the online path cannot drift from the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.schemas import EmotionResult, MentionResult
from inference.sentiment import SentimentRule
from inference.topics import TopicScorer


@dataclass(frozen=True, slots=True)
class Analysis:
    """A classification plus the embedding it was derived from (stored for re-topicking)."""

    result: MentionResult
    embedding: np.ndarray


def emotion_results(labels: Sequence[str], probs: np.ndarray) -> list[EmotionResult]:
    results = []
    for row in probs:
        scores = {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)}
        results.append(EmotionResult(label=labels[int(np.argmax(row))], scores=scores))
    return results


class PostProcessor:
    def __init__(self, *, labels: Sequence[str], sentiment: SentimentRule, topics: TopicScorer) -> None:
        self.labels = list(labels)
        self.sentiment = sentiment
        self.topics = topics

    def analyses(self, probs: np.ndarray, vectors: np.ndarray) -> list[Analysis]:
        emotions = emotion_results(self.labels, probs)
        sentiments = self.sentiment.results(probs)
        topics = self.topics.select(self.topics.scores(vectors))
        return [
            Analysis(result=MentionResult(emotion=e, sentiment=s, topics=t), embedding=v)
            for e, s, t, v in zip(emotions, sentiments, topics, vectors, strict=True)
        ]
