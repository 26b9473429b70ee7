"""Post-processing shared by every face: model outputs -> emotion, sentiment and topics.

``PostProcessor.from_settings`` is the one assembly of topics and sentiment; the CLI
pipeline, the Serve Gateway, the backfill's model actors and the benchmarks all build it
there and call ``analyses`` on the raw outputs of the two models, so no face can drift
from the others (``tests/unit/test_parity.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.interfaces import TextEmbedder
from inference.schemas import EmotionResult, MentionResult
from inference.sentiment import SentimentRule
from inference.settings import PipelineSettings
from inference.topics import TopicFile, TopicScorer, load_topic_file


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

    @classmethod
    def from_settings(
        cls,
        settings: PipelineSettings,
        *,
        labels: Sequence[str],
        embedder: TextEmbedder,
        topic_file: TopicFile | None = None,
    ) -> PostProcessor:
        """Topics from the configured topic file (or ``topic_file``), prototypes embedded by
        ``embedder``; sentiment from ``settings.sentiment`` over the emotion ``labels``."""
        topic_file = topic_file or load_topic_file(settings.resolved_topics_file())
        return cls(
            labels=labels,
            sentiment=SentimentRule(settings.sentiment, list(labels)),
            topics=TopicScorer(topic_file, embedder),
        )

    def analyses(self, probs: np.ndarray, vectors: np.ndarray) -> list[Analysis]:
        emotions = emotion_results(self.labels, probs)
        sentiments = self.sentiment.results(probs)
        topics = self.topics.select(self.topics.scores(vectors))
        return [
            Analysis(result=MentionResult(emotion=e, sentiment=s, topics=t), embedding=v)
            for e, s, t, v in zip(emotions, sentiments, topics, vectors, strict=True)
        ]
