"""``ModelHost``: the one thing in a Serve replica that holds the models, for both layouts.

``model_layout: colocated`` runs one host with both models inside each Gateway replica;
``model_layout: deployments`` runs one host per model deployment (EmotionModel holds only
the emotion model, EmbeddingModel only the embedder). Either way a host loads its models
with the replica's thread count, computes ``(probabilities, vectors)`` (or one of them)
and describes itself with a typed ``ModelInfo``. It imports no Ray, so tests give it fake
models and run it in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from inference.heads import OutputLayout
from inference.interfaces import EmotionScorer, TextEmbedder
from inference.settings import ModelSpec, PipelineSettings
from inference.shared_encoder import SharedEncoder
from inference.versions import model_version

Observer = Callable[[str, int, float], None]  # (model, texts, seconds) per forward batch


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a host (or the two hosts of the deployments layout together) serves."""

    labels: tuple[str, ...] | None = None
    emotion_version: str | None = None
    embedding_dim: int | None = None
    embedding_version: str | None = None

    def merged(self, other: ModelInfo) -> ModelInfo:
        """This host's fields completed by another's (one emotion host + one embedding host)."""
        return ModelInfo(
            labels=self.labels or other.labels,
            emotion_version=self.emotion_version or other.emotion_version,
            embedding_dim=self.embedding_dim or other.embedding_dim,
            embedding_version=self.embedding_version or other.embedding_version,
        )

    @property
    def model_version(self) -> str:
        """Both models' versions; a stored mention's version adds the language detector's
        (``OnlineClassifier.model_version``)."""
        if self.emotion_version is None or self.embedding_version is None:
            raise ValueError("a mention's model version needs both models")
        return model_version(self.emotion_version, self.embedding_version)

    def as_dict(self) -> dict:
        """The ``/readyz`` form."""
        layout = OutputLayout.of(self.labels or ())
        return {
            "emotion": {
                "labels": list(layout.emotion_labels),
                "sentiment_head": layout.has_sentiment_head,
                "version": self.emotion_version,
            },
            "embedding": {"dim": self.embedding_dim, "version": self.embedding_version},
        }


@dataclass(frozen=True, slots=True)
class HostOutputs:
    """One row per text from each model the host ran; ``None`` for a model it did not.
    ``tokens``: each text's token count from the embedder's own tokenisation."""

    probs: np.ndarray | None
    vectors: np.ndarray | None
    tokens: np.ndarray | None = None

    def rows(self, start: int, stop: int) -> HostOutputs:
        return HostOutputs(
            probs=None if self.probs is None else self.probs[start:stop],
            vectors=None if self.vectors is None else self.vectors[start:stop],
            tokens=None if self.tokens is None else self.tokens[start:stop],
        )

    def rows_in(self, order: np.ndarray) -> HostOutputs:
        """The rows taken in ``order`` (indices)."""
        return HostOutputs(
            probs=None if self.probs is None else self.probs[order],
            vectors=None if self.vectors is None else self.vectors[order],
            tokens=None if self.tokens is None else self.tokens[order],
        )

    def split(self, sizes: Sequence[int]) -> list[HostOutputs]:
        """Cut back into consecutive blocks of ``sizes`` rows (one per caller of a batch)."""
        out, start = [], 0
        for size in sizes:
            out.append(self.rows(start, start + size))
            start += size
        return out

    @staticmethod
    def concat(parts: Sequence[HostOutputs]) -> HostOutputs:
        def stack(rows: list[np.ndarray | None]) -> np.ndarray | None:
            return None if not rows or rows[0] is None else np.vstack(rows)

        tokens = None if not parts or parts[0].tokens is None else np.concatenate([p.tokens for p in parts])
        return HostOutputs(
            probs=stack([p.probs for p in parts]), vectors=stack([p.vectors for p in parts]), tokens=tokens
        )


def fitted_threads(spec: ModelSpec, cpus: float | None) -> ModelSpec:
    """The spec with its CPU threads set to the replica's CPUs (rounded, at least 1).

    Left at "every core", the two model replicas of a 2-CPU machine would each run 2 threads
    on the same 2 cores; OpenMP threads then spin-wait on each other and both slow down by
    several times. An explicit ``threads`` in the spec wins.
    """
    if spec.threads is not None or cpus is None:
        return spec
    return spec.model_copy(update={"threads": max(1, round(cpus))})


def token_counts(tokenizer, texts: Sequence[str]) -> np.ndarray:
    """Each text's tokens (special tokens included), for embedders that do not count while
    they embed; estimated from characters without a tokenizer (a remote API)."""
    if tokenizer is None:
        return np.array([len(t) // 4 + 1 for t in texts], dtype=np.int64)
    return np.array([len(ids) for ids in tokenizer(list(texts), verbose=False)["input_ids"]], dtype=np.int64)


class ModelHost:
    """The models of one replica. With both models and a shared pass (``SharedEncoder``),
    a batch that needs both runs one pass; ``/v1/embeddings`` runs the embedder alone."""

    def __init__(
        self,
        *,
        emotion: EmotionScorer | None = None,
        embedder: TextEmbedder | None = None,
        shared: SharedEncoder | None = None,
        observe: Observer = None,
    ) -> None:
        if emotion is None and embedder is None:
            raise ValueError("a model host needs at least one model")
        self.emotion = emotion
        self.embedder = embedder
        self.shared = shared
        self.observe = observe or (lambda model, texts, seconds: None)

    @classmethod
    def load(
        cls,
        settings: PipelineSettings,
        *,
        emotion: bool = True,
        embedding: bool = True,
        cpus: float | None = None,
        observe: Observer = None,
    ) -> ModelHost:
        """Load the chosen models with ``cpus`` worth of threads (the replica's reservation);
        both models share one pass where ``shared_pass_applies``."""
        from inference.embedding import build_embedder
        from inference.emotion import EmotionClassifier
        from inference.shared_encoder import load_models

        if emotion and embedding:
            fitted = settings.model_copy(
                update={
                    "emotion": fitted_threads(settings.emotion, cpus),
                    "embedding": settings.embedding.model_copy(
                        update={"local": fitted_threads(settings.embedding.local, cpus)}
                    ),
                }
            )
            models = load_models(fitted)
            return cls(emotion=models.emotion, embedder=models.embedder, shared=models.shared, observe=observe)
        emotion_model = EmotionClassifier.from_spec(fitted_threads(settings.emotion, cpus)) if emotion else None
        embedder = None
        if embedding:
            local = fitted_threads(settings.embedding.local, cpus)
            embedder = build_embedder(settings.embedding.model_copy(update={"local": local}))
        return cls(emotion=emotion_model, embedder=embedder, observe=observe)

    def info(self) -> ModelInfo:
        return ModelInfo(
            labels=tuple(self.emotion.labels) if self.emotion is not None else None,
            emotion_version=self.emotion.version if self.emotion is not None else None,
            embedding_dim=int(self.embedder.dim) if self.embedder is not None else None,
            embedding_version=self.embedder.version if self.embedder is not None else None,
        )

    def compute(self, texts: list[str], *, embedding_only: bool = False) -> HostOutputs:
        """Every model this host holds over ``texts`` (only the embedder with
        ``embedding_only``: ``/v1/embeddings`` needs no emotions); blocking (call it off the
        event loop)."""
        probs = vectors = tokens = None
        if self.shared is not None and not embedding_only:
            started = time.perf_counter()
            probs, vectors, tokens = self.shared.encode(texts)
            self.observe("shared", len(texts), time.perf_counter() - started)
            return HostOutputs(probs=probs, vectors=vectors, tokens=tokens)
        if self.emotion is not None and not embedding_only:
            started = time.perf_counter()
            probs = self.emotion.predict_proba(texts)
            self.observe("emotion", len(texts), time.perf_counter() - started)
        if self.embedder is not None:
            started = time.perf_counter()
            vectors, tokens = self._embed_counted(texts)
            self.observe("embedding", len(texts), time.perf_counter() - started)
        elif embedding_only:
            raise ValueError("this model host holds no embedding model")
        return HostOutputs(probs=probs, vectors=vectors, tokens=tokens)

    def _embed_counted(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        counted = getattr(self.embedder, "embed_counted", None)
        if counted is not None:
            return counted(texts)
        return self.embedder.embed(texts), token_counts(getattr(self.embedder, "tokenizer", None), texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.embedder is None:
            raise ValueError("this model host holds no embedding model")
        return self.embedder.embed(texts)
