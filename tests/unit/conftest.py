"""Shared fixtures: tiny random models built from a config (fast) and the real MiniLM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.emotion import EmotionClassifier
from inference.loading import packaged_minilm_path
from inference.settings import ModelSpec

EKMAN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


@pytest.fixture(scope="session")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(packaged_minilm_path()))


def tiny_bert_classifier(labels: list[str], *, problem_type: str = "single_label_classification", seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type=problem_type,
    )
    model = BertForSequenceClassification(config)
    # Random init gives near-uniform outputs; bigger head weights make rankings meaningful.
    with torch.no_grad():
        model.classifier.weight.mul_(50)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_emotion(minilm_tokenizer) -> EmotionClassifier:
    spec = ModelSpec(
        source="tiny", device="cpu", runtime="torch", threads=1, max_tokens=64, window_overlap=8, token_budget=512
    )
    return EmotionClassifier(tiny_bert_classifier(EKMAN), minilm_tokenizer, spec, version="tiny@1")


class KeywordEmbedder:
    """Deterministic fake embedder: one dimension per keyword, counts normalised."""

    version = "keywords@1"

    def __init__(self, keywords: list[str]) -> None:
        self.keywords = keywords
        self.dim = len(keywords) + 1
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            words = text.lower().replace(",", " ").replace(".", " ").split()
            row = [float(words.count(k)) for k in self.keywords] + [0.1]
            rows.append(row)
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
