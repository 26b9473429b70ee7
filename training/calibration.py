"""Calibrating the heads: one temperature per head, fitted on the tune sets, folded into the head.

Why a temperature per head (not a vector per label): dividing a head's logits by one positive
number keeps each text's top label, so calibration changes no label and no F1, only how far
the probabilities can be trusted as probabilities. It is fitted on the tune sets (carved from
the training sources, ``training.splits``), never on a dev set, whose calibration error is
what the model card reports.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from inference.tower import EmotionTower
from training.data import DevSet
from training.evaluation import HeadOutputs

TEMPERATURE_GRID = np.round(np.arange(0.5, 3.001, 0.02), 3)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def gold_mask(gold: Sequence[Sequence[int]], width: int) -> np.ndarray:
    """1 at each row's gold labels."""
    mask = np.zeros((len(gold), width), dtype=np.float64)
    for row, ids in enumerate(gold):
        mask[row, list(ids)] = 1.0
    return mask


def mean_nll(logits: np.ndarray, gold: Sequence[Sequence[int]]) -> float:
    """Mean negative log of the probability given to the gold set (any of a row's gold labels:
    the event a top label is scored right on), so the fitted temperature serves the
    top label's confidence that the calibration error measures."""
    probs = softmax(logits)
    hit = (gold_mask(gold, logits.shape[1]) * probs).sum(axis=1)
    return float(-np.log(np.maximum(hit, 1e-12)).mean())


def fit_temperature(scored: Sequence[tuple[np.ndarray, Sequence[Sequence[int]]]]) -> float:
    """The temperature on ``TEMPERATURE_GRID`` minimising the mean, over the sets in ``scored``
    (a head's logits and gold label sets), of each set's mean negative log-likelihood."""
    losses = [np.mean([mean_nll(logits / t, gold) for logits, gold in scored]) for t in TEMPERATURE_GRID]
    return float(TEMPERATURE_GRID[int(np.argmin(losses))])


def calibration_error(probs: np.ndarray, gold: Sequence[Sequence[int]], bins: int = 10) -> float:
    """Expected calibration error of the top label: in bins of confidence, the gap between the
    mean confidence and the share of rows whose top label is a gold one, weighted by the bin's
    rows. 0 is perfectly calibrated."""
    confidence = probs.max(axis=1)
    correct = np.array([int(np.argmax(row)) in set(ids) for row, ids in zip(probs, gold, strict=True)], dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(error)


def head_temperatures(
    tune: list[DevSet], all_logits: list[np.ndarray], bias: np.ndarray, heads: HeadOutputs
) -> dict[str, float]:
    """One temperature per head, each fitted on the tune sets scored on that head (after the
    tuned ``bias``)."""
    temperatures = {}
    for head in ("emotion", "sentiment"):
        cols = heads.columns(head)
        scored = [
            (lg[:, cols] + bias[cols], dev.gold) for dev, lg in zip(tune, all_logits, strict=True) if dev.head == head
        ]
        if scored and cols:
            temperatures[head] = fit_temperature(scored)
    return temperatures


def fold_into_head(tower: EmotionTower, bias: np.ndarray, temperatures: dict[str, float], heads: HeadOutputs) -> None:
    """Make the tower's own logits ``(logits + bias) / T`` of each head, so serving needs
    neither the biases nor the temperatures."""
    with torch.no_grad():
        tower.classifier.bias += torch.from_numpy(bias.astype(np.float32))
        for head, temperature in temperatures.items():
            cols = torch.tensor(heads.columns(head))
            tower.classifier.weight[cols] /= temperature
            tower.classifier.bias[cols] /= temperature
