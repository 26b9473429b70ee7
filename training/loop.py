"""What every training step uses: length-bucketed batches and the loss of both heads.

Each head has its own softmax and loss over its columns of the one classifier layer, so a text
still costs one forward pass; a row's weight per head scales (or, at zero, drops) its loss.
The loop itself is ``training.tower_fit``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from training.data import TrainingRows
from training.evaluation import HeadOutputs


@dataclass(frozen=True)
class HeadTargets:
    """The soft targets and weights of every training row, per head, as tensors."""

    emotion: torch.Tensor
    emotion_weight: torch.Tensor
    sentiment: torch.Tensor
    sentiment_weight: torch.Tensor

    @classmethod
    def of(cls, rows: TrainingRows) -> HeadTargets:
        return cls(
            emotion=torch.from_numpy(np.stack(rows.emotion)),
            emotion_weight=torch.tensor(rows.emotion_weight),
            sentiment=torch.from_numpy(np.stack(rows.sentiment)),
            sentiment_weight=torch.tensor(rows.sentiment_weight),
        )


def length_bucketed_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding), in random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def batch_loss(logits: torch.Tensor, batch: list[int], targets: HeadTargets, heads: HeadOutputs) -> torch.Tensor:
    """Mean over the batch of each row's weighted cross-entropy on the emotion head, plus the
    sentiment head's when the model has one."""
    loss_rows = targets.emotion_weight[batch] * torch.sum(
        -targets.emotion[batch] * torch.log_softmax(logits[:, heads.emotion], dim=-1), dim=-1
    )
    if heads.sentiment:
        loss_rows = loss_rows + targets.sentiment_weight[batch] * torch.sum(
            -targets.sentiment[batch] * torch.log_softmax(logits[:, heads.sentiment], dim=-1), dim=-1
        )
    return loss_rows.mean()
