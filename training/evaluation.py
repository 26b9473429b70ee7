"""Scoring a head's logits on labelled sets, and tuning one logit bias per output.

The biases are tuned on the tune sets for macro-F1 (rare labels such as fear and disgust are
otherwise under-predicted) and folded into the head (``training.calibration``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inference.heads import SENTIMENT_LABELS, SENTIMENT_OUTPUTS
from training.data import DevSet
from training.metrics import top1_macro_f1


@dataclass(frozen=True)
class HeadOutputs:
    """The classifier's output labels and which of its columns each head owns."""

    names: list[str]
    emotion: list[int]
    sentiment: list[int]

    @classmethod
    def of(cls, labels: list[str], has_sentiment: bool) -> HeadOutputs:
        """The emotion ``labels``, then the sentiment head's outputs when there is sentiment data."""
        names = labels + (list(SENTIMENT_OUTPUTS) if has_sentiment else [])
        return cls(names=names, emotion=list(range(len(labels))), sentiment=list(range(len(labels), len(names))))

    def columns(self, head: str) -> list[int]:
        return self.emotion if head == "emotion" else self.sentiment


def dev_f1(logits: np.ndarray, dev: DevSet) -> tuple[float, list[float]]:
    """Top-1 macro-F1 of one head's ``logits`` on ``dev`` (over ``dev.scored`` when set)."""
    score, per_label = top1_macro_f1(logits.argmax(1).tolist(), dev.gold, logits.shape[1])
    if dev.scored is None:
        return score, per_label
    return float(np.mean([per_label[i] for i in dev.scored])), per_label


def tune_bias(objective: Callable[[np.ndarray], float], num_labels: int, rounds: int = 3) -> tuple[np.ndarray, float]:
    """Coordinate ascent on one additive bias per label to maximise ``objective(bias)``."""
    bias = np.zeros(num_labels, dtype=np.float32)
    best = objective(bias)
    grid = np.arange(-2.0, 2.01, 0.1)
    for _ in range(rounds):
        for label in range(num_labels):
            for value in grid:
                trial = bias.copy()
                trial[label] = value
                score = objective(trial)
                if score > best + 1e-6:
                    best, bias = score, trial
    return bias, best


def tune_logit_bias(logits: np.ndarray, gold: list[list[int]], rounds: int = 3) -> tuple[np.ndarray, float]:
    """One bias per label maximising top-1 macro-F1 of ``logits`` against ``gold``."""
    num_labels = logits.shape[1]
    return tune_bias(
        lambda bias: top1_macro_f1((logits + bias).argmax(1).tolist(), gold, num_labels)[0], num_labels, rounds
    )


def tune_head_bias(scored: list[tuple[DevSet, np.ndarray]], num_labels: int) -> np.ndarray:
    """One bias per output of a head maximising the mean macro-F1 over ``scored``: dev sets
    with that head's logits on them."""
    bias, _ = tune_bias(lambda b: float(np.mean([dev_f1(lg + b, dev)[0] for dev, lg in scored])), num_labels)
    return bias


def tune_head_biases(dev_sets: list[DevSet], all_logits: list[np.ndarray], heads: HeadOutputs) -> np.ndarray:
    """One bias per output: each head's tuned on the mean macro-F1 of the dev sets it scores."""
    bias = np.zeros(len(heads.names), dtype=np.float32)
    emotion_devs = [
        (dev, lg[:, heads.emotion]) for dev, lg in zip(dev_sets, all_logits, strict=True) if dev.head == "emotion"
    ]
    if emotion_devs:
        bias[heads.emotion] = tune_head_bias(emotion_devs, len(heads.emotion))
    sentiment_devs = [
        (dev, lg[:, heads.sentiment]) for dev, lg in zip(dev_sets, all_logits, strict=True) if dev.head == "sentiment"
    ]
    if sentiment_devs:
        bias[heads.sentiment] = tune_head_bias(sentiment_devs, len(heads.sentiment))
    return bias


def per_dev_report(
    dev_sets: list[DevSet], all_logits: list[np.ndarray], bias: np.ndarray, labels: list[str], heads: HeadOutputs
) -> dict[str, dict]:
    """Per dev set: its rows, macro-F1 before and after ``bias``, and per-label F1 (after)."""
    report: dict[str, dict] = {}
    for dev, lg in zip(dev_sets, all_logits, strict=True):
        names = labels if dev.head == "emotion" else list(SENTIMENT_LABELS)
        cols = heads.columns(dev.head)
        raw, _ = dev_f1(lg[:, cols], dev)
        tuned, per_label = dev_f1(lg[:, cols] + bias[cols], dev)
        kept = dev.scored if dev.scored is not None else range(len(names))
        report[dev.name] = {
            "rows": len(dev.texts),
            "macro_f1_raw": round(raw, 4),
            "macro_f1": round(tuned, 4),
            "per_label_f1": {names[i]: round(per_label[i], 4) for i in kept},
        }
    return report
