"""Text embeddings: the ``TextEmbedder`` interface and its local transformers backend.

torch is imported where a real model loads or runs, not with this module: ``source: fake``
(``inference.fake_models``) loads through ``build_embedder`` too, and a face configured
with it starts without torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inference.fake_models import FakeEmbedder, is_fake, load_fake_embedder
from inference.interfaces import TextEmbedder, l2_normalise
from inference.loading import ModelLoadError, quiet_transformers, resolve_source
from inference.settings import EmbeddingSettings, ModelSpec
from inference.versions import local_embedding_version

if TYPE_CHECKING:
    import torch


def _pooling_mode(model_dir: str) -> str:
    """Follow sentence-transformers' pooling config when the checkpoint has one."""
    config_path = Path(model_dir) / "1_Pooling" / "config.json"
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("pooling_mode_cls_token"):
            return "cls"
    return "mean"


class LocalEmbedder:
    """Encoder checkpoint + pooling + L2 normalisation; long texts averaged over windows."""

    def __init__(self, model, tokenizer, spec: ModelSpec, *, pooling: str = "mean", version: str) -> None:
        from inference.device import configure_threads, place_model

        configure_threads(spec.threads)
        self.spec = spec
        self.model, self.device, self.dtype = place_model(
            model, spec.device, spec.dtype, runtime=spec.runtime, output="last_hidden_state"
        )
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.dim = int(model.config.hidden_size)
        model_limit = getattr(model.config, "max_position_embeddings", 512)
        if 0 < tokenizer.model_max_length < 100_000:
            model_limit = min(model_limit, tokenizer.model_max_length)
        self.max_tokens = min(spec.max_tokens or model_limit, model_limit)
        self.version = version

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> LocalEmbedder | FakeEmbedder:
        """The encoder ``spec.source`` names; ``fake`` returns the fake embedder before
        anything touches torch, ONNX Runtime or a file (its dtype and runtime are ignored)."""
        if is_fake(spec.source):
            return load_fake_embedder(spec)
        from transformers import AutoModel, AutoTokenizer

        quiet_transformers()
        resolved = resolve_source(spec.source)
        try:
            model = AutoModel.from_pretrained(resolved)
            tokenizer = AutoTokenizer.from_pretrained(resolved)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load embedding model {spec.source!r}: {exc}") from exc
        return cls(model, tokenizer, spec, pooling=_pooling_mode(resolved), version=local_embedding_version(spec))

    def _forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        import torch

        mask = attention_mask.to(self.device)
        hidden = self.model(input_ids=input_ids.to(self.device), attention_mask=mask).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and each text's token count, from one tokenisation (``/v1/embeddings``
        reports usage without tokenising every input a second time)."""
        from inference.batching import pooled_forward

        if not texts:
            return np.empty((0, self.dim), dtype=np.float32), np.zeros(0, dtype=np.int64)
        vectors, segments = pooled_forward(
            self.tokenizer, texts, self._forward, spec=self.spec, max_tokens=self.max_tokens
        )
        return l2_normalise(vectors), segments.token_counts()


def build_embedder(settings: EmbeddingSettings) -> TextEmbedder:
    """The configured embedder: OpenAI-compatible API, or the local encoder (``fake`` included)."""
    if settings.backend == "openai":
        from inference.embedding_openai import OpenAIEmbedder

        return OpenAIEmbedder(settings.openai)
    return LocalEmbedder.from_spec(settings.local)
