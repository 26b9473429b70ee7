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


def resolve_runtime(runtime: str, spec_device: str, spec_dtype: str) -> str:
    """``auto``: ONNX Runtime wherever the model runs on a CPU, torch on GPUs.

    On CPUs the fused ONNX graph gives the same numbers as torch fp32 (to 1e-6) at the same
    batched speed, but runs without the GIL and without torch's per-operator Python
    overhead, so a replica that also serves HTTP loses far less to it (online, 16 clients:
    29.8 texts/s with torch, 36.3 with ONNX Runtime; docs/PERFORMANCE.md).
    """
    if runtime != "auto":
        return runtime
    on_cpu = spec_dtype == "int8" or spec_device == "cpu" or (spec_device == "auto" and not torch.cuda.is_available())
    return "onnxruntime" if on_cpu and spec_dtype in ("auto", "float32", "int8") else "torch"


def place_model(model: torch.nn.Module, spec_device: str, spec_dtype: str, *, runtime: str = "torch", output: str = ""):
    """``(model, device, dtype)``: the model moved and cast as the spec asks, in eval mode.

    Two CPU speed options, CPU only (with ``device: auto`` they pick the CPU even where a GPU
    is present):
    - ``runtime: onnxruntime``: the model exported to a fused ONNX graph (``dtype: int8``
      quantises it too); calls return ``output`` like the transformers model does;
    - ``dtype: int8`` with torch: dynamic int8 quantisation of every Linear layer (weights
      int8, activations quantised per batch).
    """
    chosen = resolve_runtime(runtime, spec_device, spec_dtype)
    if chosen == "onnxruntime":
        if spec_device == "cuda":
            raise ValueError("runtime onnxruntime runs on CPUs only here: use device cpu or auto")
        from inference.onnx_runtime import onnx_encoder

        dtype = "int8" if spec_dtype == "int8" else "float32"
        try:
            encoder = onnx_encoder(model, output=output, dtype=dtype, threads=torch.get_num_threads())
        except Exception as exc:
            if runtime == "onnxruntime":
                raise
            # auto: a model the exporter cannot handle still runs, on torch.
            warnings.warn(f"ONNX export failed, running on torch instead: {exc}", RuntimeWarning, stacklevel=2)
        else:
            return encoder, torch.device("cpu"), torch.float32
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
    torch_dtype = resolve_dtype(spec_dtype, device)
    return model.to(device=device, dtype=torch_dtype).eval(), device, torch_dtype
