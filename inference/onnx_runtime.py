"""ONNX Runtime for encoder models on CPUs: the ``runtime: onnxruntime`` speed option.

The torch model is exported once (eager attention, so ONNX Runtime's BERT optimizer can
fuse attention, GELU and layer norm into single kernels), optionally quantised to int8, and
cached on disk under a key of its weights, so replicas and actors after the first load it
in well under a second. On the 2-core CI machine the fused int8 graph ran both models
1.58x faster than torch fp32 for 0.78 points of GoEmotions macro-F1; torch's own dynamic
int8 managed 1.3-1.4x, because it leaves attention, GELU and layer norm unfused in fp32.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

OPSET = 17
# Model families whose graph ONNX Runtime's "bert" optimizer knows how to fuse.
FUSABLE_MODEL_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra", "mpnet"}


def cache_root() -> Path:
    """``$MOODWIRE_CACHE_DIR`` or ``~/.cache/moodwire``: exported graphs, reused across runs."""
    configured = os.environ.get("MOODWIRE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "moodwire"


class _SingleOutput(torch.nn.Module):
    """Exports one named output of a transformers model (``logits``, ``last_hidden_state``)."""

    def __init__(self, model: torch.nn.Module, output: str) -> None:
        super().__init__()
        self.model = model
        self.output = output

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return getattr(self.model(input_ids=input_ids, attention_mask=attention_mask), self.output)


def weights_key(model: torch.nn.Module, *, output: str, dtype: str) -> str:
    """Hash of everything the exported graph depends on: weights, class, output, precision.

    Keyed by the weights themselves, not a version string, so a checkpoint retrained into
    the same folder never reuses a stale graph.
    """
    import onnxruntime

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    digest.update(f"{type(model).__name__}|{output}|{dtype}|opset{OPSET}|ort{onnxruntime.__version__}".encode())
    return digest.hexdigest()[:24]


def _export(model: torch.nn.Module, output: str, path: Path) -> None:
    model = model.to(torch.float32).eval()
    set_attention = getattr(model, "set_attn_implementation", None)
    if callable(set_attention):
        # The fusable pattern; SDPA exports as a graph the optimizer does not recognise.
        with contextlib.suppress(ValueError, NotImplementedError):
            set_attention("eager")
    sample = torch.ones((2, 8), dtype=torch.long)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            # In eval mode: the exporter restores the wrapper's mode afterwards, and a new
            # module is in training mode, which would leave dropout on in ``model``.
            _SingleOutput(model, output).eval(),
            (sample, sample),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=[output],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _fuse(source: Path, target: Path, config) -> bool:
    """Fuse attention/GELU/layer norm; ``False`` (graph left as exported) when unsupported."""
    if getattr(config, "model_type", "") not in FUSABLE_MODEL_TYPES:
        return False
    from onnxruntime.transformers import optimizer

    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", 0)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", 0)
    fused = optimizer.optimize_model(
        str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1, use_gpu=False
    )
    fused.save_model_to_file(str(target))
    return True


def _quantise(source: Path, target: Path) -> None:
    """Dynamic int8, per-channel weight scales (per-tensor lost twice the macro-F1)."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser advises "pre-processing" on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops carry no inferred types
        )
    finally:
        root.setLevel(level)


def build_graph(model: torch.nn.Module, *, output: str, dtype: str, cache: Path | None = None) -> Path:
    """The optimised (and for ``int8`` quantised) ONNX file for ``model``, built once.

    Written to a temporary folder and renamed into place, so replicas starting together
    never read a half-written file.
    """
    key = weights_key(model, output=output, dtype=dtype)
    final = (cache or cache_root()) / "onnx" / f"{key}.onnx"
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as work:
        exported, fused, quantised = Path(work, "exported.onnx"), Path(work, "fused.onnx"), Path(work, "int8.onnx")
        _export(model, output, exported)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = fused if _fuse(exported, fused, model.config) else exported
            if dtype == "int8":
                _quantise(graph, quantised)
                graph = quantised
        os.replace(graph, final)
    return final


@dataclass
class OnnxEncoder:
    """Called like the transformers model it replaces: ``model(input_ids=, attention_mask=)``
    returns an object whose ``output`` attribute (``.logits``, ``.last_hidden_state``) is a
    torch tensor, so the pooling and post-processing code is the same for both runtimes."""

    session: Any  # an onnxruntime.InferenceSession (onnxruntime ships no type information)
    output: str
    config: object

    @classmethod
    def load(cls, path: Path, *, output: str, threads: int, config) -> OnnxEncoder:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Replicas share few cores and idle between requests: spinning threads would burn
        # the CPU another replica needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return cls(session=session, output=output, config=config)

    def __call__(self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        feeds = {
            "input_ids": input_ids.numpy().astype(np.int64, copy=False),
            "attention_mask": attention_mask.numpy().astype(np.int64, copy=False),
        }
        (values,) = self.session.run([self.output], feeds)
        return SimpleNamespace(**{self.output: torch.from_numpy(values)})


def onnx_encoder(model: torch.nn.Module, *, output: str, dtype: str, threads: int) -> OnnxEncoder:
    """Export (or reuse) ``model``'s graph and open an ONNX Runtime session over it."""
    path = build_graph(model, output=output, dtype=dtype)
    return OnnxEncoder.load(path, output=output, threads=threads, config=model.config)
