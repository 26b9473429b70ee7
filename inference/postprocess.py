"""Post-processing shared by every face: texts and model outputs -> emotion, sentiment,
topics and language.

``PostProcessor.from_settings`` is the one assembly of topics, sentiment and the language
detector; the CLI pipeline, the Serve Gateway, the backfill's model actors and the
benchmarks all build it there and call ``analyses`` on the texts and the raw outputs of the
two models, so no face can drift from the others (``tests/unit/test_parity.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.heads import OutputLayout
from inference.interfaces import TextEmbedder
from inference.language import UND, LanguageDetector, LanguagePolicy
from inference.schemas import EmotionResult, MentionResult
from inference.sentiment import SentimentScorer, sentiment_scorer
from inference.settings import PipelineSettings
from inference.topics import TopicFile, TopicScorer, load_topic_file


@dataclass(frozen=True, slots=True)
class Analysis:
    """A classification plus the embedding it was derived from (stored for re-topicking)."""

    result: MentionResult
    embedding: np.ndarray


def emotion_results(labels: Sequence[str], probs: np.ndarray) -> list[EmotionResult]:
    """Emotion results from model output rows over ``labels`` (a sentiment head's columns,
    if any, are left out: ``inference.heads``)."""
    layout = OutputLayout.of(labels)
    labels = layout.emotion_labels
    results = []
    for row in layout.emotion(probs):
        scores = {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)}
        results.append(EmotionResult(label=labels[int(np.argmax(row))], scores=scores))
    return results


class PostProcessor:
    def __init__(
        self,
        *,
        labels: Sequence[str],
        sentiment: SentimentScorer,
        topics: TopicScorer,
        language: LanguageDetector | None = None,
        policy: LanguagePolicy | None = None,
    ) -> None:
        """``language``: the detector, or None to call every text ``und`` (detection off)."""
        self.labels = list(labels)
        self.sentiment = sentiment
        self.topics = topics
        self.language = language
        self.policy = policy or LanguagePolicy()

    @property
    def language_version(self) -> str | None:
        """The detector's part of the model version (``inference.versions.model_version``)."""
        return self.language.version if self.language is not None else None

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
        ``embedder``; sentiment by ``settings.sentiment.method`` over the emotion model's
        output ``labels`` (a ``head`` setting on a model without one is a ``ConfigError``)."""
        topic_file = topic_file or load_topic_file(settings.resolved_topics_file())
        return cls(
            labels=labels,
            sentiment=sentiment_scorer(settings.sentiment, list(labels)),
            topics=TopicScorer(topic_file, embedder),
            language=LanguageDetector().load() if settings.detect_language else None,
            policy=LanguagePolicy.from_settings(settings),
        )

    def analyses(self, texts: Sequence[str], *, probs: np.ndarray, vectors: np.ndarray) -> list[Analysis]:
        """One analysis per text from both models' output rows for ``texts``."""
        emotions = emotion_results(self.labels, probs)
        sentiments = self.sentiment.results(probs)
        topics = self.topics.select(self.topics.scores(vectors))
        languages = self.language.detect(texts) if self.language is not None else [UND] * len(texts)
        return [
            Analysis(
                result=MentionResult(
                    emotion=e,
                    sentiment=s,
                    topics=t,
                    language=lang,
                    language_supported=self.policy.is_supported(lang),
                ),
                embedding=v,
            )
            for e, s, t, lang, v in zip(emotions, sentiments, topics, languages, vectors, strict=True)
        ]
