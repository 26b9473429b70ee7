"""A real tower artifact for tests of the shared pass: a tower over the installed MiniLM's lower
layers whose head is seeded noise (plumbing, not quality: the figures live in the model card)."""

from __future__ import annotations

from pathlib import Path

from inference.heads import SENTIMENT_OUTPUTS
from tests.unit.conftest import EKMAN


def write_tower_artifact(folder: Path, *, shared_layers: int = 4, seed: int = 7) -> Path:
    """A tower artifact over the installed MiniLM whose head is seeded noise."""
    import torch

    from inference.loading import PACKAGED_MINILM
    from inference.tower import EmotionTower, load_base_encoder
    from training.tower_artifact import save_tower

    _, encoder = load_base_encoder(PACKAGED_MINILM)
    labels = EKMAN + list(SENTIMENT_OUTPUTS)
    torch.manual_seed(seed)
    tower = EmotionTower.from_encoder(encoder, shared_layers, len(labels))
    with torch.no_grad():
        tower.classifier.weight.normal_(0, 0.5)
    save_tower(folder, tower, base=PACKAGED_MINILM, shared_layers=shared_layers, labels=labels, version="test-tower")
    return folder


def tower_model_config(folder: Path, tower: Path) -> Path:
    """A pipeline settings file running ``tower`` and the installed MiniLM on torch, one thread,
    with the topics of ``tests.unit.fakes.TOPICS_YAML``."""
    from tests.unit.fakes import TOPICS_YAML

    topics = folder / "topics.yaml"
    topics.write_text(TOPICS_YAML, encoding="utf-8")
    config = folder / "tower-models.yaml"
    spec = "runtime: torch, threads: 1"
    config.write_text(
        f"emotion: {{source: {tower}, {spec}}}\nembedding: {{local: {{{spec}}}}}\ntopics_file: {topics}\n",
        encoding="utf-8",
    )
    return config
