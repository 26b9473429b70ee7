"""Writing a tower artifact: ``tower.safetensors`` (the upper layers and the heads, in half
precision) beside ``moodwire_artifact.json`` (base encoder, shared layers, labels, windows,
calibration, training settings and the report). ``inference.tower.load_tower_parts`` reads it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from inference.loading import TOWER_WEIGHTS, ArtifactManifest
from inference.tower import EmotionTower

# Windows of the tower artifact: the embedding's, so the shared pass and the emotion model
# alone cut a long text the same way.
TOWER_MAX_LENGTH = 256


def round_to_half(tower: EmotionTower) -> None:
    """Round every weight to what the artifact stores (float16), so the figures reported are
    those of the saved model."""
    with torch.no_grad():
        for param in tower.parameters():
            param.copy_(param.half().float())


def save_tower(
    folder: Path,
    tower: EmotionTower,
    *,
    base: str,
    shared_layers: int,
    labels: list[str],
    version: str,
    **extra: Any,
) -> str:
    """Write the artifact into ``folder`` (created); returns its version: ``version`` plus the
    first 8 hex digits of the weights' SHA-256, so two runs of one day never share a version
    (stored mentions name the model that classified them by it)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {name: value.detach().to(torch.float16).contiguous() for name, value in tower.state_dict().items()}
    save_file(state, str(folder / TOWER_WEIGHTS))
    (folder / TOWER_WEIGHTS).chmod(0o644)
    version = f"{version}-{weights_digest(folder / TOWER_WEIGHTS)}"
    manifest = ArtifactManifest(base=base, labels=list(labels), max_length=TOWER_MAX_LENGTH, version=version)
    manifest.write(folder, format="tower", shared_layers=shared_layers, **extra)
    return version


def weights_digest(path: Path) -> str:
    """The first 8 hex digits of a file's SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]
