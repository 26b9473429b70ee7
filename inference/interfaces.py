"""The models' interfaces and raw outputs, free of torch: what post-processing, storage and
the Serve layer need to know about a model without loading one.

Fakes in tests implement these protocols, so anything typed against them runs without weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class TextEmbedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    dim: int
    version: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EmotionScorer(Protocol):
    """Anything that gives one probability row per text over ``labels``."""

    labels: list[str]
    version: str

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class ModelOutputs:
    """Both models' raw outputs for one text: what the result caches hold."""

    emotion_probs: np.ndarray
    embedding: np.ndarray


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
