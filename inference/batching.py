"""Tokenise -> windows -> length-aware sub-batches -> forward -> pool back per text.

Both local models (``EmotionClassifier.predict_proba``, ``LocalEmbedder.embed``) run
``segment_texts`` -> ``run_segments`` -> ``mean_by_owner``, so long texts are never silently
truncated (they become overlapping windows whose outputs are pooled) and short texts are
never padded to the longest text of a batch (batches are sorted by token count and cut under
a padded-token budget). This is the innermost batching layer (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from inference.settings import ModelSpec


@dataclass(frozen=True)
class Segments:
    """Token windows of a batch of texts; ``owners[i]`` is the text window ``i`` came from."""

    input_ids: list[list[int]]
    owners: list[int]
    num_texts: int
    specials: int = 0  # special tokens in every window
    stride: int = 0  # tokens each window repeats from the one before

    def token_counts(self) -> np.ndarray:
        """Tokens of each whole text, special tokens included once: what tokenising the text
        without truncation counts (``usage`` of ``/v1/embeddings``), without tokenising again."""
        lengths = np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64, count=len(self.input_ids))
        owners = np.asarray(self.owners, dtype=np.int64)
        content = np.bincount(owners, weights=lengths - self.specials, minlength=self.num_texts)
        windows = np.bincount(owners, minlength=self.num_texts)
        return (content - np.maximum(windows - 1, 0) * self.stride + self.specials).astype(np.int64)


def window_spans(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Start/end offsets of overlapping windows covering ``length`` tokens."""
    if length <= window:
        return [(0, length)]
    stride = window - overlap
    spans = []
    start = 0
    while True:
        end = min(start + window, length)
        spans.append((start, end))
        if end == length:
            return spans
        start += stride


def segment_texts(tokenizer, texts: Sequence[str], *, max_tokens: int, overlap: int) -> Segments:
    """Tokenise and split each text into model-sized windows sharing ``overlap`` tokens.

    Uses the fast tokenizers' overflow support, so every window gets its own special tokens.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("long-text windows need a fast (Rust) tokenizer for this checkpoint")
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    content = max_tokens - specials
    stride = min(overlap, max(content - 1, 0))
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_tokens,
        stride=stride,
        return_overflowing_tokens=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,
    )
    return Segments(
        input_ids=encoded["input_ids"],
        owners=list(encoded["overflow_to_sample_mapping"]),
        num_texts=len(texts),
        specials=specials,
        stride=stride,
    )


MAX_PADDING_RATIO = 1.5  # padded tokens per real token in one batch, at most


def token_budget_batches(lengths: Sequence[int], *, token_budget: int, max_batch_size: int) -> list[list[int]]:
    """Indices grouped by similar length so each padded batch stays under ``token_budget``.

    A batch is also cut when padding would pass ``MAX_PADDING_RATIO`` of its real tokens: a
    few paragraphs among many short posts would otherwise pad every post to paragraph
    length (on a CPU, 64 mixed texts ran 4 times slower than the same texts sorted globally).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for index in order:
        width = lengths[index]  # ascending, so the newest item is the widest
        padded = (len(current) + 1) * width
        if current and (
            padded > token_budget or len(current) >= max_batch_size or padded > MAX_PADDING_RATIO * (real + width)
        ):
            batches.append(current)
            current, real = [], 0
        current.append(index)
        real += width
    if current:
        batches.append(current)
    return batches


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention_mask[row, : len(seq)] = 1
    return input_ids, attention_mask


Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def run_segments(
    segments: Segments, forward: Forward, *, pad_id: int, token_budget: int, max_batch_size: int
) -> np.ndarray:
    """Run ``forward`` over all windows in budgeted batches; rows come back in window order."""
    lengths = [len(ids) for ids in segments.input_ids]
    out: np.ndarray | None = None
    for batch in token_budget_batches(lengths, token_budget=token_budget, max_batch_size=max_batch_size):
        input_ids, attention_mask = pad_batch([segments.input_ids[i] for i in batch], pad_id)
        values = forward(input_ids, attention_mask).float().cpu().numpy()
        if out is None:
            out = np.empty((len(lengths), values.shape[1]), dtype=np.float32)
        out[batch] = values
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def mean_by_owner(values: np.ndarray, owners: Sequence[int], num_texts: int) -> np.ndarray:
    """Average the window rows of each text (texts with one window pass through unchanged)."""
    if len(owners) == num_texts:
        return values
    sums = np.zeros((num_texts, values.shape[1]), dtype=np.float64)
    np.add.at(sums, np.asarray(owners), values)
    counts = np.bincount(np.asarray(owners), minlength=num_texts).reshape(-1, 1)
    return (sums / counts).astype(np.float32)


def pooled_forward(
    tokenizer, texts: Sequence[str], forward: Forward, *, spec: ModelSpec, max_tokens: int
) -> tuple[np.ndarray, Segments]:
    """The whole path of a local model, one place for both: ``texts`` into windows, the
    windows through ``forward`` in token-budget batches (no gradients), each text's rows
    averaged; also the windows, for their token counts."""
    with torch.inference_mode():
        segments = segment_texts(tokenizer, texts, max_tokens=max_tokens, overlap=spec.window_overlap)
        values = run_segments(
            segments,
            forward,
            pad_id=tokenizer.pad_token_id,
            token_budget=spec.token_budget,
            max_batch_size=spec.forward_batch_size,
        )
    return mean_by_owner(values, segments.owners, segments.num_texts), segments
