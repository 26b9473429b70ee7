"""``classify(texts)``: the one implementation behind the CLI, the HTTP API and the backfill.

tokenise -> forward (emotion model, embedding model) -> post-process (sentiment from the
emotion distribution, topics from the embedding). Model outputs are cached per text so an
identical text is computed once; topics and sentiment are cheap and recomputed from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.cache import LRUCache, content_hash
from inference.embedding import TextEmbedder, build_embedder
from inference.emotion import EmotionClassifier
from inference.postprocess import Analysis, PostProcessor
from inference.schemas import MentionResult
from inference.sentiment import SentimentRule
from inference.settings import PipelineSettings
from inference.topics import TopicScorer, load_topic_file


class InvalidTextError(ValueError):
    """A text the pipeline refuses; ``index`` is its position in the request."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"texts[{index}] {reason}")
        self.index = index
        self.reason = reason


def text_problem(text: object, max_chars: int) -> str | None:
    """Why ``text`` cannot be classified, or None. Shared by every entry point."""
    if not isinstance(text, str):
        return f"must be a string, got {type(text).__name__}"
    if not text.strip():
        return "is empty"
    if len(text) > max_chars:
        return f"is {len(text)} characters long; the limit is {max_chars}"
    return None


@dataclass(frozen=True, slots=True)
class ModelOutputs:
    emotion_probs: np.ndarray
    embedding: np.ndarray


class MentionPipeline:
    def __init__(
        self,
        *,
        emotion: EmotionClassifier,
        embedder: TextEmbedder,
        topics: TopicScorer,
        sentiment: SentimentRule,
        cache_size: int = 10_000,
        max_text_chars: int = 100_000,
    ) -> None:
        self.emotion = emotion
        self.embedder = embedder
        self.topics = topics
        self.postprocess = PostProcessor(labels=emotion.labels, sentiment=sentiment, topics=topics)
        self.max_text_chars = max_text_chars
        self.cache: LRUCache[ModelOutputs] = LRUCache(cache_size)
        self.model_version = f"{emotion.version}+{embedder.version}"

    @classmethod
    def from_settings(cls, settings: PipelineSettings, *, topics_file: Path | None = None) -> MentionPipeline:
        topic_file = load_topic_file(topics_file or settings.resolved_topics_file())
        emotion = EmotionClassifier.from_spec(settings.emotion)
        embedder = build_embedder(settings.embedding)
        return cls(
            emotion=emotion,
            embedder=embedder,
            topics=TopicScorer(topic_file, embedder),
            sentiment=SentimentRule(settings.sentiment, emotion.labels),
            cache_size=settings.cache_size,
            max_text_chars=settings.max_text_chars,
        )

    def validate(self, texts: Sequence[str]) -> None:
        for index, text in enumerate(texts):
            problem = text_problem(text, self.max_text_chars)
            if problem:
                raise InvalidTextError(index, problem)

    def model_outputs(self, texts: Sequence[str]) -> list[ModelOutputs]:
        """Run both models once per distinct uncached text."""
        keys = [f"{self.model_version}:{content_hash(t)}" for t in texts]
        outputs: list[ModelOutputs | None] = [self.cache.get(k) for k in keys]
        todo: dict[str, str] = {}
        for key, text, found in zip(keys, texts, outputs, strict=True):
            if found is None:
                todo.setdefault(key, text)
        if todo:
            pending = list(todo.values())
            probs = self.emotion.predict_proba(pending)
            vectors = self.embedder.embed(pending)
            fresh = {key: ModelOutputs(emotion_probs=probs[i], embedding=vectors[i]) for i, key in enumerate(todo)}
            for key, value in fresh.items():
                self.cache.put(key, value)
            outputs = [found if found is not None else fresh[key] for key, found in zip(keys, outputs, strict=True)]
        return outputs  # type: ignore[return-value]

    def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        self.validate(texts)
        if not texts:
            return []
        outputs = self.model_outputs(texts)
        probs = np.vstack([o.emotion_probs for o in outputs])
        vectors = np.vstack([o.embedding for o in outputs])
        return self.postprocess.analyses(probs, vectors)

    def classify(self, texts: Sequence[str]) -> list[MentionResult]:
        return [a.result for a in self.analyse(texts)]
