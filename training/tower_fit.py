"""Training the emotion tower on cached shared-layer states, and scoring it on a set of texts.

The loss is ``training.loop.batch_loss`` (each head its own softmax and weighted
cross-entropy); checkpoints are chosen on the tune sets' mean macro-F1, never on dev.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from inference.batching import token_budget_batches
from inference.tower import EmotionTower
from training.config import TrainConfig
from training.data import DevSet
from training.evaluation import HeadOutputs, dev_f1
from training.loop import HeadTargets, batch_loss, length_bucketed_batches
from training.tower import pad_states


@torch.inference_mode()
def tower_logits(tower: EmotionTower, states: list[torch.Tensor], batch_tokens: int = 16384) -> np.ndarray:
    """Logits of every output for each cached state, in their order."""
    tower.eval()
    out = np.zeros((len(states), tower.classifier.out_features), dtype=np.float32)
    lengths = [len(state) for state in states]
    for idx in token_budget_batches(lengths, token_budget=batch_tokens, max_batch_size=256):
        hidden, mask = pad_states([states[i] for i in idx])
        out[idx] = tower(hidden, mask).float().numpy()
    return out


@dataclass(frozen=True)
class SetScorer:
    """Scores a tower on labelled sets (their cached states), each on its own head."""

    sets: list[DevSet]
    states: list[list[torch.Tensor]]
    heads: HeadOutputs

    def logits(self, tower: EmotionTower) -> list[np.ndarray]:
        return [tower_logits(tower, states) for states in self.states]

    def scores(self, all_logits: list[np.ndarray], bias: np.ndarray | None = None) -> dict[str, float]:
        shift = np.zeros(len(self.heads.names), dtype=np.float32) if bias is None else bias
        return {
            dev.name: dev_f1((lg + shift)[:, self.heads.columns(dev.head)], dev)[0]
            for dev, lg in zip(self.sets, all_logits, strict=True)
        }

    def __call__(self, tower: EmotionTower) -> tuple[float, dict[str, float], list[np.ndarray]]:
        """The mean over heads of each head's mean macro-F1 over its sets (so four sentiment
        sets do not outvote two emotion sets; 0 without any set: every checkpoint ties and the
        last one stays), each set's macro-F1, and each set's logits."""
        if not self.sets:
            return 0.0, {}, []
        all_logits = self.logits(tower)
        scores = self.scores(all_logits)
        per_head = [
            np.mean([scores[dev.name] for dev in self.sets if dev.head == head])
            for head in ("emotion", "sentiment")
            if any(dev.head == head for dev in self.sets)
        ]
        return float(np.mean(per_head)), scores, all_logits


def fit_tower(
    tower: EmotionTower,
    states: list[torch.Tensor],
    targets: HeadTargets,
    heads: HeadOutputs,
    tune: SetScorer,
    *,
    config: TrainConfig,
    rng: random.Random,
) -> int:
    """Train ``tower`` for ``config.epochs`` on ``states``, scoring it on the tune sets
    ``config.evals_per_epoch`` times an epoch and at the end; leave it holding the best
    checkpoint and return the steps run."""
    lengths = [len(state) for state in states]
    steps_per_epoch = math.ceil(len(states) / config.batch_size)
    total_steps = max(1, int(steps_per_epoch * config.epochs))
    warmup = max(1, int(total_steps * config.warmup_fraction))
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))
    groups = [
        {"params": [p for p in tower.layers.parameters() if p.requires_grad], "lr": config.learning_rate},
        {"params": list(tower.classifier.parameters()), "lr": config.head_learning_rate},
    ]
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup))),
    )
    params = [p for group in groups for p in group["params"]]
    best_score, best_state, step = -1.0, None, 0
    bar = tqdm(total=total_steps, desc="train-emotion", unit="step", file=sys.stderr)
    while step < total_steps:
        for batch in length_bucketed_batches(lengths, config.batch_size, rng):
            if step >= total_steps:
                break
            tower.train()
            hidden, mask = pad_states([states[i] for i in batch])
            loss = batch_loss(tower(hidden, mask).float(), batch, targets, heads)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{best_score:.3f}")
            if step % eval_every == 0 or step == total_steps:
                score, scores, _ = tune(tower)
                shown = ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
                tqdm.write(f"step {step}/{total_steps}: mean tune macro-F1 {score:.4f} ({shown})", file=sys.stderr)
                if score >= best_score:  # a tie keeps the later checkpoint
                    best_score = score
                    best_state = {name: value.detach().clone() for name, value in tower.state_dict().items()}
    bar.close()
    if best_state is not None:
        tower.load_state_dict(best_state)
    return step
