"""Both model outputs from one encoder pass, and the one place that decides when that applies.

The default emotion model is a tower (``inference.tower``) over the embedding model's own
lower layers. When the configured embedder is that same encoder, run the same way (device,
precision, runtime), a text is tokenised once, into the embedding's windows, and each window
runs the shared layers once: the embedding's upper layers give the vector, the tower's give
the heads' probabilities. ``load_models`` returns the pair of models every face uses plus,
when it applies, this ``SharedEncoder``; each face calls ``ModelSet.outputs`` and never asks
which path ran.

Texts longer than one window: the emotion probabilities are averaged over the embedding's
windows (256 tokens, 32 shared), the same windows the emotion model alone uses for a tower
artifact, so both paths agree.

``/v1/embeddings`` keeps running the embedding model alone (``ModelSet.embedder``), and a
face that only needs emotion runs the shared layers and the tower alone (``ModelSet.emotion``):
both are built from the same weights on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.heads import OutputLayout
from inference.interfaces import EmotionScorer, TextEmbedder, l2_normalise
from inference.loading import is_tower_artifact, resolve_source
from inference.versions import local_embedding_version, precision_suffix

if TYPE_CHECKING:
    import torch

    from inference.settings import ModelSpec, PipelineSettings
    from inference.tower import TowerParts


class SharedEncoder:
    """Emotion probabilities and embeddings of the same texts from one pass (``JointEncoder``)."""

    def __init__(self, parts: TowerParts, emotion_spec: ModelSpec, embedding_spec: ModelSpec) -> None:
        import torch

        from inference.device import configure_threads, place_model

        configure_threads(embedding_spec.threads or emotion_spec.threads)
        self.parts = parts
        self.emotion_spec, self.spec = emotion_spec, embedding_spec
        self.model, self.device, self.dtype = place_model(
            parts.joint(), embedding_spec.device, embedding_spec.dtype, runtime=embedding_spec.runtime, output="joint"
        )
        self.tokenizer = parts.tokenizer
        self.labels: list[str] = list(parts.manifest.labels)
        self.layout = OutputLayout.of(self.labels)
        self._groups = [torch.tensor(cols) for cols in self.layout.groups()]
        self.dim = int(parts.encoder.config.hidden_size)
        limit = min(parts.manifest.max_length, int(parts.encoder.config.max_position_embeddings))
        self.max_tokens = min(embedding_spec.max_tokens or limit, limit)
        self._emotion_base_version = f"{emotion_spec.source}@{parts.manifest.version}"
        self.emotion_version = self._emotion_base_version + precision_suffix(emotion_spec.dtype, emotion_spec.runtime)
        self.embedding_version = local_embedding_version(embedding_spec)

    def _forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        import torch

        from inference.emotion import head_probabilities

        joint = self.model(input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device))
        values = joint.joint.float()
        probs = head_probabilities(values[:, self.dim :], self._groups, multi_label=False)
        return torch.cat([values[:, : self.dim], probs], dim=-1)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(probabilities, vectors, token counts)`` of ``texts``: one tokenisation, one pass."""
        from inference.batching import pooled_forward

        if not texts:
            empty = np.empty((0, len(self.labels)), dtype=np.float32)
            return empty, np.empty((0, self.dim), dtype=np.float32), np.zeros(0, dtype=np.int64)
        values, segments = pooled_forward(
            self.tokenizer, texts, self._forward, spec=self.spec, max_tokens=self.max_tokens
        )
        return values[:, self.dim :], l2_normalise(values[:, : self.dim]), segments.token_counts()

    def emotion_alone(self) -> EmotionScorer:
        """The shared layers and the tower alone (a face that needs no vector)."""
        from inference.emotion import EmotionClassifier

        return EmotionClassifier(
            self.parts.classifier(), self.tokenizer, self.emotion_spec, version=self._emotion_base_version
        )

    def embedder_alone(self) -> TextEmbedder:
        """The installed embedding model alone (``/v1/embeddings``, topic descriptions)."""
        from inference.embedding import LocalEmbedder

        return LocalEmbedder(
            self.parts.encoder, self.tokenizer, self.spec, pooling="mean", version=self.embedding_version
        )


class _Deferred:
    """A model view whose names are known now and whose weights are placed on first use."""

    def __init__(self, build: Any, **known: Any) -> None:
        self._build = build
        self._model: Any = None
        for name, value in known.items():
            setattr(self, name, value)

    def _loaded(self) -> Any:
        if self._model is None:
            self._model = self._build()
        return self._model

    def __getattr__(self, name: str) -> Any:  # only called for names not set above
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._loaded(), name)


@dataclass
class ModelSet:
    """The emotion model and the embedder a face uses, and the shared pass when one applies."""

    emotion: Any  # EmotionScorer
    embedder: Any  # TextEmbedder
    shared: SharedEncoder | None = None
    calls: dict[str, int] = field(default_factory=lambda: {"shared": 0, "separate": 0})

    def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Emotion probabilities and vectors of ``texts`` (one pass when shared)."""
        if self.shared is not None:
            self.calls["shared"] += 1
            probs, vectors, _ = self.shared.encode(texts)
            return probs, vectors
        self.calls["separate"] += 1
        return self.emotion.predict_proba(texts), self.embedder.embed(texts)


def shared_pass_applies(settings: PipelineSettings) -> bool:
    """Whether the emotion model is a tower over exactly the configured local embedder, run on
    the same device, precision and runtime."""
    emotion, embedding = settings.emotion, settings.embedding
    if embedding.backend != "local":
        return False
    local = embedding.local
    if (emotion.device, emotion.dtype, emotion.runtime) != (local.device, local.dtype, local.runtime):
        return False
    try:
        folder = resolve_source(emotion.source)
        if not is_tower_artifact(folder):
            return False
        from inference.loading import ArtifactManifest

        base = ArtifactManifest.read(Path(folder)).base
        return resolve_source(base) == resolve_source(local.source)
    except Exception:  # a fake or unresolvable source: the separate loaders report it
        return False


def load_models(settings: PipelineSettings) -> ModelSet:
    """The configured models: one shared pass when ``shared_pass_applies``, else each alone."""
    from inference.embedding import build_embedder
    from inference.emotion import EmotionClassifier

    if not shared_pass_applies(settings):
        return ModelSet(EmotionClassifier.from_spec(settings.emotion), build_embedder(settings.embedding))
    from inference.tower import load_tower_parts

    shared = SharedEncoder(
        load_tower_parts(Path(resolve_source(settings.emotion.source))), settings.emotion, settings.embedding.local
    )
    emotion = _Deferred(
        shared.emotion_alone,
        labels=shared.labels,
        layout=shared.layout,
        version=shared.emotion_version,
        max_tokens=shared.max_tokens,
    )
    embedder = _Deferred(
        shared.embedder_alone, dim=shared.dim, version=shared.embedding_version, tokenizer=shared.tokenizer
    )
    return ModelSet(emotion=emotion, embedder=embedder, shared=shared)
