"""The emotion tower: MiniLM's lower layers shared with the embedding, its upper layers copied
and fine-tuned for emotion and sentiment (trained by ``training.emotion``).

Why this shape: a text used to cost two passes of the same six-layer encoder, one with the
emotion adapter merged and one plain for the embedding. When the emotion model leaves the
lower ``shared_layers`` untouched, their output is the embedding model's own, so serving runs
them once and branches: the installed upper layers for the embedding, the tower's for the
heads (``inference.shared_encoder``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from inference.loading import ARTIFACT_MANIFEST, TOWER_WEIGHTS, ArtifactManifest, ModelLoadError, resolve_source

MINILM_LAYERS = 6


def layer_mask(config: Any, hidden: torch.Tensor, attention_mask: torch.Tensor) -> Any:
    """The attention mask the encoder's layers take, made the way the encoder itself makes it
    (so an exported graph has the mask pattern ONNX Runtime's attention fusion knows)."""
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=attention_mask)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class LowerEncoder(nn.Module):
    """The embeddings and the first ``shared_layers`` layers of an encoder (frozen)."""

    def __init__(self, encoder: Any, shared_layers: int) -> None:
        super().__init__()
        self.config = encoder.config
        self.embeddings = encoder.embeddings
        self.layers = nn.ModuleList(encoder.encoder.layer[:shared_layers])
        for param in self.parameters():
            param.requires_grad_(False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embeddings(input_ids=input_ids)
        return run_layers(self.layers, hidden, layer_mask(self.config, hidden, attention_mask))


class EmotionTower(nn.Module):
    """Upper encoder layers, mean pooling and one linear layer holding every head's outputs."""

    def __init__(self, layers: Sequence[nn.Module], config: Any, outputs: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(int(config.hidden_size), outputs)

    @classmethod
    def from_encoder(cls, encoder: Any, shared_layers: int, outputs: int) -> EmotionTower:
        """A tower whose layers start as copies of ``encoder``'s layers above ``shared_layers``."""
        upper = [copy.deepcopy(layer) for layer in encoder.encoder.layer[shared_layers:]]
        for layer in upper:  # share the encoder's config: its attention switch (eager for export) reaches the copies
            for module in layer.modules():
                if hasattr(module, "config"):
                    module.config = encoder.config
        return cls(upper, encoder.config, outputs)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, layers_mask: Any = None) -> torch.Tensor:
        """Logits from the shared layers' output ``hidden``; ``layers_mask``: the layers' form of
        ``attention_mask`` when the caller made it already (``layer_mask``)."""
        if layers_mask is None:
            layers_mask = layer_mask(self.config, hidden, attention_mask)
        hidden = run_layers(self.layers, hidden, layers_mask)
        return self.classifier(self.dropout(mean_pool(hidden, attention_mask)))


def run_layers(layers: nn.ModuleList, hidden: torch.Tensor, layers_mask: Any) -> torch.Tensor:
    for layer in layers:
        hidden = _layer_out(layer(hidden, layers_mask))
    return hidden


def _layer_out(output: Any) -> torch.Tensor:
    """A layer's hidden states (transformers 5 returns the tensor, 4.x a tuple)."""
    return output[0] if isinstance(output, tuple) else output


class TowerClassifier(nn.Module):
    """The emotion model alone: the shared layers and the tower, called like a transformers
    sequence classifier (``model(input_ids=, attention_mask=).logits``)."""

    def __init__(self, encoder: Any, tower: EmotionTower, shared_layers: int, labels: Sequence[str]) -> None:
        super().__init__()
        self.base = encoder  # kept for its config and attention switch; only its lower layers run
        self.lower = LowerEncoder(encoder, shared_layers)
        self.tower = tower
        self.config = labelled_config(encoder.config, labels)

    def set_attn_implementation(self, name: str) -> None:
        self.base.set_attn_implementation(name)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SequenceClassifierOutput:
        return SequenceClassifierOutput(logits=self.tower(self.lower(input_ids, attention_mask), attention_mask))


class JointEncoder(nn.Module):
    """Both models in one pass: the shared layers once, then the embedding's own upper layers
    (mean-pooled, L2-normalised) and the tower's logits, side by side in one ``joint`` row
    ``[embedding | logits]`` per window."""

    def __init__(self, encoder: Any, tower: EmotionTower, shared_layers: int) -> None:
        super().__init__()
        self.base = encoder
        self.lower = LowerEncoder(encoder, shared_layers)
        self.upper = nn.ModuleList(encoder.encoder.layer[shared_layers:])
        self.tower = tower
        self.config = encoder.config

    def set_attn_implementation(self, name: str) -> None:
        self.base.set_attn_implementation(name)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> JointOutput:
        hidden = self.lower.embeddings(input_ids=input_ids)
        layers_mask = layer_mask(self.config, hidden, attention_mask)  # once, for all three stacks
        shared = run_layers(self.lower.layers, hidden, layers_mask)
        embedding = mean_pool(run_layers(self.upper, shared, layers_mask), attention_mask)
        logits = self.tower(shared, attention_mask, layers_mask)
        return JointOutput(joint=torch.cat([nn.functional.normalize(embedding, dim=-1), logits], dim=-1))


@dataclass
class JointOutput:
    joint: torch.Tensor


def labelled_config(config: Any, labels: Sequence[str]) -> Any:
    """A copy of the encoder's config that names the classifier's outputs."""
    labelled = copy.deepcopy(config)
    labelled.num_labels = len(labels)
    labelled.id2label = dict(enumerate(labels))
    labelled.label2id = {name: i for i, name in enumerate(labels)}
    labelled.problem_type = "single_label_classification"
    return labelled


def load_tower(folder: Path, encoder: Any, shared_layers: int, outputs: int) -> EmotionTower:
    """The tower saved in ``folder`` (``TOWER_WEIGHTS``), its layers shaped like ``encoder``'s."""
    from safetensors.torch import load_file

    tower = EmotionTower.from_encoder(encoder, shared_layers, outputs)
    state = {name: value.float() for name, value in load_file(str(folder / TOWER_WEIGHTS)).items()}
    tower.load_state_dict(state)
    return tower.eval()


@dataclass
class TowerParts:
    """A tower artifact loaded: its base encoder (the embedding model's own weights), tokenizer,
    tower and manifest."""

    encoder: Any
    tokenizer: Any
    tower: EmotionTower
    manifest: ArtifactManifest

    @property
    def shared_layers(self) -> int:
        return int((self.manifest.extra or {})["shared_layers"])

    def classifier(self) -> TowerClassifier:
        return TowerClassifier(self.encoder, self.tower, self.shared_layers, self.manifest.labels).eval()

    def joint(self) -> JointEncoder:
        return JointEncoder(self.encoder, self.tower, self.shared_layers).eval()


def load_base_encoder(base: str) -> tuple[Any, Any]:
    """The tokenizer and encoder (eval mode) of ``base``, without transformers' bars and notes:
    what a tower is built on, when it is trained and when it is loaded."""
    from transformers import AutoModel, AutoTokenizer

    from inference.loading import quiet_transformers

    quiet_transformers()
    path = resolve_source(base)
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def load_tower_parts(folder: Path) -> TowerParts:
    """Load a tower artifact: the base encoder named in its manifest, plus the tower."""
    manifest = ArtifactManifest.read(folder)
    shared = (manifest.extra or {}).get("shared_layers")
    if not isinstance(shared, int):
        raise ModelLoadError(f"{folder / ARTIFACT_MANIFEST}: a tower artifact needs an integer 'shared_layers'")
    tokenizer, encoder = load_base_encoder(manifest.base)
    tokenizer.model_max_length = manifest.max_length
    tower = load_tower(folder, encoder, shared, len(manifest.labels))
    return TowerParts(encoder=encoder, tokenizer=tokenizer, tower=tower, manifest=manifest)
