"""Training-side helpers of the emotion tower (``inference.tower``): the frozen shared layers
run once per text, and every epoch trains only the upper layers on their cached output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from inference.batching import pad_batch, token_budget_batches
from inference.tower import LowerEncoder


@torch.inference_mode()
def lower_states(
    lower: LowerEncoder, encoded: list[list[int]], pad_id: int, *, batch_tokens: int = 8192, progress: Any = None
) -> list[torch.Tensor]:
    """Each text's ``(tokens, hidden)`` output of the shared layers, in half precision: what
    every training epoch feeds the tower instead of re-running the frozen layers."""
    lower.eval()
    device = next(lower.parameters()).device
    states: list[torch.Tensor | None] = [None] * len(encoded)
    lengths = [len(ids) for ids in encoded]
    for idx in token_budget_batches(lengths, token_budget=batch_tokens, max_batch_size=256):
        input_ids, mask = pad_batch([encoded[i] for i in idx], pad_id)
        hidden = lower(input_ids.to(device), mask.to(device)).to(torch.float16).cpu()
        for row, i in enumerate(idx):
            states[i] = hidden[row, : lengths[i]].clone()
        if progress is not None:
            progress.update(len(idx))
    return [state for state in states if state is not None]


def pad_states(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cached states of a batch, zero-padded to its longest, with their attention mask."""
    width = max(len(state) for state in states)
    hidden = torch.zeros(len(states), width, states[0].shape[-1], dtype=torch.float32)
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for row, state in enumerate(states):
        hidden[row, : len(state)] = state.float()
        mask[row, : len(state)] = 1
    return hidden, mask
