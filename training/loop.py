"""The optimisation loop: length-bucketed batches, the loss of both heads, dev checkpoints.

Each head has its own softmax and loss over its columns of the one classifier layer, so a text
still costs one forward pass; a row's weight per head scales (or, at zero, drops) its loss.
The checkpoint with the best mean dev score is the one kept.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from inference.batching import pad_batch
from training.config import TrainConfig
from training.data import TrainingRows
from training.evaluation import HeadOutputs

Evaluate = Callable[[torch.nn.Module], tuple[float, dict[str, float], list[np.ndarray]]]


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


def train_loop(
    model: torch.nn.Module,
    train_ids: list[list[int]],
    targets: HeadTargets,
    heads: HeadOutputs,
    evaluate: Evaluate,
    *,
    config: TrainConfig,
    pad_id: int,
    rng: random.Random,
) -> int:
    """Train ``model`` for ``config.epochs``, scoring it on dev ``config.evals_per_epoch`` times
    an epoch and at the end, and leave it holding the best-scoring checkpoint; the steps run."""
    device = next(model.parameters()).device
    lengths = [len(x) for x in train_ids]
    steps_per_epoch = math.ceil(len(train_ids) / config.batch_size)
    total_steps = max(1, int(steps_per_epoch * config.epochs))
    warmup = max(1, int(total_steps * config.warmup_fraction))
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup))),
    )

    best_score, best_state, step = -1.0, None, 0
    bar = tqdm(total=total_steps, desc="train-emotion", unit="step", file=sys.stderr)
    while step < total_steps:
        for batch in length_bucketed_batches(lengths, config.batch_size, rng):
            if step >= total_steps:
                break
            model.train()
            input_ids, mask = pad_batch([train_ids[i] for i in batch], pad_id)
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float().cpu()
            loss = batch_loss(logits, batch, targets, heads)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{best_score:.3f}")
            if step % eval_every == 0 or step == total_steps:
                score, scores, _ = evaluate(model)
                shown = ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
                tqdm.write(f"step {step}/{total_steps}: mean dev macro-F1 {score:.4f} ({shown})", file=sys.stderr)
                if score > best_score:
                    best_score = score
                    best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    bar.close()

    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    return step
