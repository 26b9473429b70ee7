"""Writing a trained model as an adapter artifact: the LoRA adapter, its manifest and report."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch

from inference.loading import ArtifactManifest
from training.config import TrainConfig, TrainReport
from training.evaluation import HeadOutputs


def stage_dir(out_dir: Path, config: TrainConfig) -> Path:
    """Where training writes its adapter: ``out_dir``, or beside it for a warm-started second
    stage, whose interpolated result (``training.warm_start``) is what lands in ``out_dir``."""
    if config.init_from:
        return out_dir.parent / f".{out_dir.name}.stage2"
    return out_dir


def save_adapter(model: torch.nn.Module, out_dir: Path) -> None:
    """The LoRA adapter, pooler and head (peft's ``save_pretrained``), without peft's model card."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's generated model card template


def write_manifest(out_dir: Path, config: TrainConfig, heads: HeadOutputs, report: TrainReport) -> None:
    """The artifact's manifest, with the training config and report it came from."""
    ArtifactManifest(
        base=config.base,
        labels=heads.names,
        max_length=config.max_length,
        version=time.strftime("%Y%m%d") + f"-r{config.lora_rank}" + ("-mt" if heads.sentiment else ""),
    ).write(out_dir, training=asdict(config), report=asdict(report))
