"""Emotion classifier over any Hugging Face sequence-classification checkpoint.

torch is imported where a real model loads or runs, not with this module: ``source: fake``
(``inference.fake_models``) loads through ``EmotionClassifier.from_spec`` too, and a face
configured with it (the CLI, a Serve replica, a test) starts without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from inference.fake_models import FakeEmotionModel, is_fake, load_fake_emotion
from inference.heads import OutputLayout
from inference.loading import load_sequence_classifier
from inference.postprocess import emotion_results
from inference.schemas import EmotionResult
from inference.settings import ModelSpec
from inference.versions import precision_suffix

if TYPE_CHECKING:
    import torch


class EmotionClassifier:
    """Full output distribution per text, in the checkpoint's ``id2label`` order.

    Single-label checkpoints give a softmax (sums to 1); checkpoints whose config says
    ``multi_label_classification`` give independent sigmoids. A checkpoint with a sentiment
    head (``inference.heads``) gives each head its own softmax in the same row, so both come
    from one forward pass. Long texts are split into overlapping windows and their
    probabilities averaged.
    """

    def __init__(self, model, tokenizer, spec: ModelSpec, *, version: str) -> None:
        import torch

        from inference.device import configure_threads, place_model

        configure_threads(spec.threads)
        self.spec = spec
        self.model, self.device, self.dtype = place_model(
            model, spec.device, spec.dtype, runtime=spec.runtime, output="logits"
        )
        self.tokenizer = tokenizer
        config = model.config
        self.labels: list[str] = [config.id2label[i] for i in range(config.num_labels)]
        self.layout = OutputLayout.of(self.labels)
        self._groups = [torch.tensor(cols) for cols in self.layout.groups()]
        self.multi_label = config.problem_type == "multi_label_classification"
        model_limit = min(
            getattr(config, "max_position_embeddings", 512) - _position_offset(config),
            tokenizer.model_max_length if tokenizer.model_max_length < 100_000 else 512,
        )
        self.max_tokens = min(spec.max_tokens or model_limit, model_limit)
        self.version = version + precision_suffix(spec.dtype, spec.runtime)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> EmotionClassifier | FakeEmotionModel:
        """The model ``spec.source`` names; ``fake`` returns the fake model before anything
        touches torch, ONNX Runtime or a file (its dtype and runtime are ignored)."""
        if is_fake(spec.source):
            return load_fake_emotion(spec)
        model, tokenizer, version = load_sequence_classifier(spec.source)
        return cls(model, tokenizer, spec, version=version)

    def _forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.model(
            input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device)
        ).logits.float()
        return head_probabilities(logits, self._groups, multi_label=self.multi_label)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), len(labels))`` probabilities (every head's columns)."""
        from inference.batching import pooled_forward

        if not texts:
            return np.empty((0, len(self.labels)), dtype=np.float32)
        probs, _ = pooled_forward(self.tokenizer, texts, self._forward, spec=self.spec, max_tokens=self.max_tokens)
        return probs

    def to_results(self, probs: np.ndarray) -> list[EmotionResult]:
        return emotion_results(self.labels, probs)

    def classify(self, texts: Sequence[str]) -> list[EmotionResult]:
        return self.to_results(self.predict_proba(texts))


def head_probabilities(logits: torch.Tensor, groups: Sequence[torch.Tensor], *, multi_label: bool) -> torch.Tensor:
    """Each head's own distribution over its columns of ``logits`` (``OutputLayout.groups``):
    softmax, or independent sigmoids for the emotion head of a multi-label checkpoint."""
    import torch

    if len(groups) == 1:
        return torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
    probs = torch.empty_like(logits)
    emotion, sentiment = groups
    probs[:, emotion] = torch.sigmoid(logits[:, emotion]) if multi_label else torch.softmax(logits[:, emotion], -1)
    probs[:, sentiment] = torch.softmax(logits[:, sentiment], dim=-1)
    return probs


def _position_offset(config) -> int:
    """RoBERTa-style models reserve ``pad_token_id + 1`` positions before the first token."""
    if getattr(config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
        return (config.pad_token_id or 0) + 1
    return 0
