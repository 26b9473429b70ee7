"""Device, precision and CPU thread choices for torch models."""

from __future__ import annotations

import os
import warnings

import torch


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(threads: int | None) -> int:
    """Set torch's intra-op threads explicitly.

    Ray sets ``OMP_NUM_THREADS=1`` for actors with fractional CPUs, which would leave a
    replica on one core; an explicit setting (default: every core we may use) wins.
    """
    count = threads or available_cpus()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def resolve_device(preference: str) -> torch.device:
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was configured but no CUDA device is available")
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def resolve_dtype(preference: str, device: torch.device) -> torch.dtype:
    """fp32 on CPU; bf16 (or fp16 on older GPUs) on CUDA unless configured."""
    if preference != "auto":
        return getattr(torch, preference)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def place_model(model: torch.nn.Module, spec_device: str, spec_dtype: str):
    """``(model, device, dtype)``: the model moved and cast as the spec asks, in eval mode.

    ``dtype: int8`` is the CPU speed option: dynamic int8 quantisation of every Linear layer
    (weights int8, activations quantised per batch). It runs on CPUs only, so with
    ``device: auto`` it picks the CPU even where a GPU is present.
    """
    if spec_dtype == "int8":
        if spec_device == "cuda":
            raise ValueError("dtype int8 (dynamic quantisation) runs on CPUs only: use device cpu or auto")
        cpu = torch.device("cpu")
        model = model.to(device=cpu, dtype=torch.float32).eval()
        with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=UserWarning)
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            # Per-channel scales: 1 point of GoEmotions macro-F1 lost instead of 2 per-tensor.
            quantized = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
        return quantized, cpu, torch.float32
    device = resolve_device(spec_device)
    dtype = resolve_dtype(spec_dtype, device)
    return model.to(device=device, dtype=dtype).eval(), device, dtype


def precision_suffix(spec_dtype: str) -> str:
    """Part of a model version: results of a quantised model differ slightly from fp32."""
    return ":int8" if spec_dtype == "int8" else ""
