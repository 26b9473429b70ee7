"""Weight interpolation between a warm start and its fine-tuned result (WiSE-FT).

Why: the second training stage (tweets and the sentiment head, ``training.emotion``) pulls
the encoder towards tweets and costs GoEmotions macro-F1 (0.632 -> 0.595 on dev). Averaging
the two models' weights keeps most of what each was good at (Wortsman et al., "Robust
fine-tuning of zero-shot models", 2022). Both are LoRA adapters on the same frozen encoder, so
``alpha * B1 A1 + (1 - alpha) * B2 A2`` is itself a LoRA of rank r1 + r2: the A matrices
stacked, the B matrices side by side and scaled. The pooler and the emotion rows of the head
are averaged the same way; the sentiment rows exist only in the second model and are kept.
The result is an ordinary adapter artifact, merged at load time like any other, so inference
costs exactly what it did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from inference.loading import ArtifactManifest, resolve_source

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
HEAD_WEIGHT = "base_model.model.classifier.weight"
HEAD_BIAS = "base_model.model.classifier.bias"


def _read(folder: Path) -> tuple[ArtifactManifest, dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    manifest = ArtifactManifest.read(folder)
    config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    return manifest, config, load_file(str(folder / ADAPTER_WEIGHTS))


def interpolated_state(init: str | Path, tuned: str | Path, alpha: float) -> tuple[dict[str, torch.Tensor], dict]:
    """The adapter state (and its peft config) of ``alpha * init + (1 - alpha) * tuned``.

    ``tuned``'s output labels must include every output label of ``init``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    first_manifest, first_config, first = _read(Path(resolve_source(str(init))))
    second_manifest, second_config, second = _read(Path(resolve_source(str(tuned))))
    missing = set(first_manifest.labels) - set(second_manifest.labels)
    if missing:
        raise ValueError(f"{tuned} lacks the outputs {sorted(missing)} of {init}")
    scale_1 = first_config["lora_alpha"] / first_config["r"]
    scale_2 = second_config["lora_alpha"] / second_config["r"]
    rank = first_config["r"] + second_config["r"]
    scale = scale_1  # the combined adapter keeps the first one's scale: lora_alpha = scale * rank
    state: dict[str, torch.Tensor] = {}
    for key, value in second.items():
        if key.endswith("lora_A.weight"):
            state[key] = torch.cat([first[key], value], dim=0)
        elif key.endswith("lora_B.weight"):
            state[key] = torch.cat(
                [first[key] * (alpha * scale_1 / scale), value * ((1 - alpha) * scale_2 / scale)], dim=1
            )
        elif key in (HEAD_WEIGHT, HEAD_BIAS):
            mixed = value.clone()
            for row, label in enumerate(second_manifest.labels):
                if label in first_manifest.labels:
                    old = first[key][first_manifest.labels.index(label)]
                    mixed[row] = alpha * old + (1 - alpha) * value[row]
            state[key] = mixed
        else:  # the pooler and anything else saved in full
            state[key] = alpha * first[key] + (1 - alpha) * value
    config = dict(second_config, r=rank, lora_alpha=scale * rank)
    return state, config


def write_interpolated(
    init: str | Path,
    tuned: str | Path,
    alpha: float,
    out_dir: Path,
    *,
    version: str,
    head_bias: Sequence[float] | None = None,
    extra: dict | None = None,
) -> None:
    """Write the interpolated adapter as an artifact folder loadable like any other;
    ``head_bias`` (one value per output) is added to the head's bias (tuned logit biases)."""
    from safetensors.torch import save_file

    state, config = interpolated_state(init, tuned, alpha)
    if head_bias is not None:
        state[HEAD_BIAS] = state[HEAD_BIAS] + torch.tensor(list(head_bias), dtype=state[HEAD_BIAS].dtype)
    manifest = ArtifactManifest.read(Path(resolve_source(str(tuned))))
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(out_dir / ADAPTER_WEIGHTS))
    (out_dir / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    ArtifactManifest(
        base=manifest.base,
        labels=manifest.labels,
        max_length=manifest.max_length,
        version=version,
        problem_type=manifest.problem_type,
        extra={k: v for k, v in (manifest.extra or {}).items() if k not in ("interpolation",)},
    ).write(out_dir, interpolation={"init": str(init), "alpha": alpha, **(extra or {})})
