"""``MentionPipeline``: both models and the shared post-processing in one process.

The CLI (``moodwire classify``) and the benchmarks classify through it. The Serve app and
the backfill run the same models and the same ``PostProcessor`` in their own processes
(Serve batches across requests, Ray Data across rows); ``tests/unit/test_parity.py`` keeps
the four faces equal. Model outputs are cached per text so an identical text is computed
once; topics and sentiment are cheap and recomputed from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inference.cache import LRUCache, content_hash
from inference.interfaces import EmotionScorer, ModelOutputs, TextEmbedder
from inference.postprocess import Analysis, PostProcessor
from inference.schemas import MentionResult
from inference.settings import PipelineSettings
from inference.shared_encoder import ModelSet, SharedEncoder, load_models
from inference.topics import TopicFile, load_topic_file
from inference.validation import DEFAULT_MAX_TEXT_CHARS, InvalidTextError, text_problem
from inference.versions import model_version


class MentionPipeline:
    def __init__(
        self,
        *,
        emotion: EmotionScorer,
        embedder: TextEmbedder,
        postprocess: PostProcessor,
        cache_size: int = 10_000,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        shared: SharedEncoder | None = None,
    ) -> None:
        self.models = ModelSet(emotion=emotion, embedder=embedder, shared=shared)
        self.emotion = emotion
        self.embedder = embedder
        self.postprocess = postprocess
        self.topics = postprocess.topics
        self.max_text_chars = max_text_chars
        self.cache: LRUCache[ModelOutputs] = LRUCache(cache_size)
        self.model_version = model_version(emotion.version, embedder.version, postprocess.language_version)

    @classmethod
    def from_models(
        cls,
        settings: PipelineSettings,
        *,
        emotion: EmotionScorer,
        embedder: TextEmbedder,
        topic_file: TopicFile | None = None,
        cache_size: int | None = None,
        shared: SharedEncoder | None = None,
    ) -> MentionPipeline:
        """A pipeline over models already loaded (the benchmarks reuse theirs)."""
        return cls(
            emotion=emotion,
            embedder=embedder,
            shared=shared,
            postprocess=PostProcessor.from_settings(
                settings, labels=emotion.labels, embedder=embedder, topic_file=topic_file
            ),
            cache_size=settings.cache_size if cache_size is None else cache_size,
            max_text_chars=settings.max_text_chars,
        )

    @classmethod
    def from_settings(cls, settings: PipelineSettings, *, topics_file: Path | None = None) -> MentionPipeline:
        # The topic file first: a bad one fails before any model loads.
        topic_file = load_topic_file(topics_file or settings.resolved_topics_file())
        models = load_models(settings)
        return cls.from_models(
            settings, emotion=models.emotion, embedder=models.embedder, topic_file=topic_file, shared=models.shared
        )

    def validate(self, texts: Sequence[str]) -> None:
        for index, text in enumerate(texts):
            problem = text_problem(text, self.max_text_chars)
            if problem:
                raise InvalidTextError(index, problem)

    def model_outputs(self, texts: Sequence[str]) -> list[ModelOutputs]:
        """Both models' outputs, computed once per distinct uncached text (one pass where the
        models share one, ``inference.shared_encoder``)."""
        keys = [f"{self.model_version}:{content_hash(t)}" for t in texts]
        outputs: list[ModelOutputs | None] = [self.cache.get(k) for k in keys]
        todo: dict[str, str] = {}
        for key, text, found in zip(keys, texts, outputs, strict=True):
            if found is None:
                todo.setdefault(key, text)
        fresh: dict[str, ModelOutputs] = {}
        if todo:
            pending = list(todo.values())
            probs, vectors = self.models.outputs(pending)
            fresh = {key: ModelOutputs(emotion_probs=probs[i], embedding=vectors[i]) for i, key in enumerate(todo)}
            for key, value in fresh.items():
                self.cache.put(key, value)
        return [found if found is not None else fresh[key] for key, found in zip(keys, outputs, strict=True)]

    def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        self.validate(texts)
        if not texts:
            return []
        outputs = self.model_outputs(texts)
        probs = np.vstack([o.emotion_probs for o in outputs])
        vectors = np.vstack([o.embedding for o in outputs])
        return self.postprocess.analyses(texts, probs=probs, vectors=vectors)

    def classify(self, texts: Sequence[str]) -> list[MentionResult]:
        return [a.result for a in self.analyse(texts)]
