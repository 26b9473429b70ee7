"""Shares that correct for the classifier's known errors: adjusted classify-and-count.

Counting top labels carries the classifier's errors straight into a share ("62 % negative"),
and averaging calibrated probabilities does not help once the label mix moves away from the
one the model was calibrated on. What does hold under a shifted mix is how the model answers
*given* the true label. An artifact's manifest records that, measured on its tune sets (never
on a dev set): ``confusion[t][j]`` is the mean probability the model gives label ``j`` to a
text whose gold label is ``t``. For a set of texts with true shares ``pi``, the mean of the
model's probability vectors is ``q = confusion.T @ pi``, so ``pi = inv(confusion.T) @ q``.

That inverse is linear, so it can be applied row by row: each stored mention contributes
``inv(confusion.T) @ p`` (its *adjusted contribution*, a vector that sums to 1 but may hold
negative parts), and the estimate for any set of mentions is the sum of their contributions
over their count. Sums add across hours, days and topics, which is what lets the rollups
store them (``storage.rollups``). The sum of squared contributions gives the estimate's
standard error the same way. A mention whose model has no recorded confusion, or whose
sentiment came from the valence rule, contributes its top label as a count (one-hot).

Reading turns the sums into fractions (``estimate_shares``): negative parts are clipped to 0
and the rest renormalised, so shares are fractions of the bucket's count that sum to 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST_KEY = "share_adjustment"
MANIFEST_FILE = "moodwire_artifact.json"
# Past this condition number the inverse amplifies noise more than it removes bias: the
# labels are too confusable to separate, and the manifest keeps no adjustment for the output.
MAX_CONDITION = 50.0
OUTPUTS = ("sentiment", "emotion")


class ShareAdjustmentError(ValueError):
    """A confusion matrix that cannot adjust shares (wrong shape, singular, unstable)."""


@dataclass(frozen=True)
class LabelAdjustment:
    """One output's correction: ``contribution(p) = inverse @ p`` over ``labels``."""

    labels: tuple[str, ...]
    inverse: np.ndarray

    @classmethod
    def from_confusion(cls, labels: Sequence[str], confusion: Sequence[Sequence[float]]) -> LabelAdjustment:
        matrix = np.asarray(confusion, dtype=np.float64)
        k = len(labels)
        if matrix.shape != (k, k):
            raise ShareAdjustmentError(f"confusion is {matrix.shape}, expected {k}x{k} for labels {list(labels)}")
        if not np.all(np.isfinite(matrix)) or (matrix < 0).any():
            raise ShareAdjustmentError("confusion holds negative or non-finite values")
        condition = float(np.linalg.cond(matrix))
        if not math.isfinite(condition) or condition > MAX_CONDITION:
            raise ShareAdjustmentError(f"confusion is ill-conditioned (condition number {condition:.3g})")
        return cls(labels=tuple(labels), inverse=np.linalg.inv(matrix.T))

    def contribution(self, scores: Mapping[str, float]) -> dict[str, float] | None:
        """The adjusted contribution of one mention's probabilities; None when its scores
        are not over this adjustment's labels (another model's)."""
        try:
            probs = np.array([float(scores[label]) for label in self.labels], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            return None
        if len(scores) != len(self.labels):
            return None
        total = probs.sum()
        if not math.isfinite(total) or total <= 0:
            return None
        adjusted = self.inverse @ (probs / total)
        return dict(zip(self.labels, adjusted.tolist(), strict=True))


@dataclass(frozen=True)
class ShareAdjustment:
    """A model version's corrections, per output (None: that output counts top labels)."""

    sentiment: LabelAdjustment | None = None
    emotion: LabelAdjustment | None = None

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> ShareAdjustment | None:
        """From an artifact manifest's ``share_adjustment``; None when it has none. A recorded
        matrix that cannot adjust is left out (its output counts top labels)."""
        recorded = manifest.get(MANIFEST_KEY)
        if not isinstance(recorded, Mapping):
            return None
        parts: dict[str, LabelAdjustment] = {}
        for output in OUTPUTS:
            entry = recorded.get(output)
            if not isinstance(entry, Mapping):
                continue
            try:
                parts[output] = LabelAdjustment.from_confusion(entry["labels"], entry["confusion"])
            except (KeyError, TypeError, ShareAdjustmentError):
                continue
        return cls(**parts) if parts else None


def emotion_source_and_version(stored_model_version: str | None) -> tuple[str, str] | None:
    """``(source, artifact version)`` of a stored ``model_version``'s emotion model
    (``builtin:ekman-minilm@20261201-mt+…`` -> ``("builtin:ekman-minilm", "20261201-mt")``;
    a precision suffix such as ``:ort-int8`` is dropped: a quantised model answers like the
    fp32 one it was made from, closely enough for its confusion to hold)."""
    if not stored_model_version:
        return None
    emotion = stored_model_version.split("+", 1)[0]
    source, separator, version = emotion.rpartition("@")
    if not separator or not source or not version:
        return None
    return source, version.split(":", 1)[0]


@lru_cache(maxsize=64)
def adjustment_for(stored_model_version: str | None) -> ShareAdjustment | None:
    """The correction recorded in the manifest of the artifact that classified a mention,
    found from its ``model_version`` alone; None (count top labels) when the artifact is not
    here any more, is another version, or recorded none. Cached: manifests do not change
    under a version."""
    parsed = emotion_source_and_version(stored_model_version)
    if parsed is None:
        return None
    source, version = parsed
    from inference.loading import resolve_source  # light: no model import

    try:
        folder = Path(resolve_source(source))
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != version:
        return None
    return ShareAdjustment.from_manifest(manifest)


@dataclass(frozen=True)
class ShareEstimate:
    """Fractions of a set's mentions per label (sum 1) and each one's standard error."""

    shares: dict[str, float]
    standard_errors: dict[str, float] | None


def estimate_shares(
    sums: Mapping[str, float], squares: Mapping[str, float], count: int, *, labels: Sequence[str] = ()
) -> ShareEstimate | None:
    """Shares from summed contributions (adjusted rows and one-hot counts alike) of ``count``
    mentions. Negative sums are clipped to 0 and the rest renormalised. The standard error is
    that of the mean contribution (``None`` below two mentions); it leaves out the error of
    the confusion matrix itself. ``labels`` are always present (0 when absent). None for an
    empty set."""
    if count <= 0:
        return None
    names = sorted(set(sums) | set(labels))
    clipped = {name: max(float(sums.get(name, 0.0)), 0.0) for name in names}
    total = sum(clipped.values())
    if total <= 0:
        return None
    shares = {name: round(value / total, 4) for name, value in clipped.items()}
    errors = None
    if count >= 2:
        errors = {}
        for name in names:
            mean = float(sums.get(name, 0.0)) / count
            variance = max(float(squares.get(name, 0.0)) / count - mean * mean, 0.0) * count / (count - 1)
            errors[name] = round(math.sqrt(variance / count), 4)
    return ShareEstimate(shares=shares, standard_errors=errors)


def estimator_name(count: int, *adjusted: int) -> str:
    """``share_estimator`` of a set of ``count`` mentions, given how many were adjusted per
    output: ``adjusted`` when every share was adjusted for every mention, ``counts`` when
    none was (top labels counted), ``mixed`` when only some were."""
    if count <= 0 or all(a <= 0 for a in adjusted):
        return "counts"
    return "adjusted" if all(a >= count for a in adjusted) else "mixed"
