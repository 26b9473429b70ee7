"""Device, precision and CPU thread choices for torch models."""

from __future__ import annotations

import os

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
