"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint.

Requests are cut to the API's limits (at most 2,048 inputs and a token cap per request);
texts longer than the per-input limit become overlapping character windows whose
embeddings are averaged, like the local backend does with token windows. 429 and 5xx
answers are retried with exponential backoff by the ``openai`` client itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from inference.batching import mean_by_owner, window_spans
from inference.interfaces import l2_normalise
from inference.settings import OpenAIEmbeddingSettings
from inference.versions import openai_embedding_version

CHARS_PER_TOKEN = 3  # conservative: English averages about 4 characters per token


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def plan_requests(token_counts: Sequence[int], *, max_inputs: int, max_tokens: int) -> list[list[int]]:
    """Consecutive groups of input indices within both per-request limits."""
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, tokens in enumerate(token_counts):
        if current and (len(current) >= max_inputs or used + tokens > max_tokens):
            groups.append(current)
            current, used = [], 0
        current.append(index)
        used += tokens
    if current:
        groups.append(current)
    return groups


class OpenAIEmbedder:
    def __init__(self, settings: OpenAIEmbeddingSettings, *, client=None) -> None:
        from openai import OpenAI

        self.settings = settings
        api_key = os.environ.get("OPENAI_API_KEY")
        if client is None:
            if not api_key and settings.base_url is None:
                raise ValueError("embedding backend 'openai' needs OPENAI_API_KEY in the environment")
            client = OpenAI(
                api_key=api_key or "unused",
                base_url=settings.base_url,
                max_retries=settings.max_retries,
                timeout=settings.timeout_s,
            )
        self.client = client
        self.dim: int = settings.dimensions or 0
        self.version = openai_embedding_version(settings)

    def _windows(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        window_chars = self.settings.max_tokens_per_input * CHARS_PER_TOKEN
        pieces: list[str] = []
        owners: list[int] = []
        for owner, text in enumerate(texts):
            for start, end in window_spans(len(text), window_chars, window_chars // 8):
                pieces.append(text[start:end])
                owners.append(owner)
        return pieces, owners

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        pieces, owners = self._windows(texts)
        groups = plan_requests(
            [estimate_tokens(p) for p in pieces],
            max_inputs=self.settings.max_inputs_per_request,
            max_tokens=self.settings.max_tokens_per_request,
        )
        rows: list[np.ndarray | None] = [None] * len(pieces)
        extra = {"dimensions": self.settings.dimensions} if self.settings.dimensions else {}
        for group in groups:
            response = self.client.embeddings.create(
                model=self.settings.model, input=[pieces[i] for i in group], **extra
            )
            ordered = sorted(response.data, key=lambda item: item.index)
            if len(ordered) != len(group):
                raise RuntimeError(f"embeddings endpoint returned {len(ordered)} vectors for {len(group)} inputs")
            for index, item in zip(group, ordered, strict=True):
                rows[index] = np.asarray(item.embedding, dtype=np.float32)
        filled = [row for row in rows if row is not None]
        if len(filled) != len(rows):
            raise RuntimeError("embeddings endpoint left inputs without a vector")
        vectors = l2_normalise(np.vstack(filled))
        self.dim = vectors.shape[1]
        return l2_normalise(mean_by_owner(vectors, owners, len(texts)))
