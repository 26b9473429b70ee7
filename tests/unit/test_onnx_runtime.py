"""The ONNX Runtime speed option: ``runtime: onnxruntime`` (fp32 or int8) on CPUs."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from inference.emotion import EmotionClassifier
from inference.settings import EmotionModelSpec
from tests.unit.conftest import EKMAN, tiny_bert_classifier

TEXTS = ["I am so happy today", "This is outrageous and disgusting", "The meeting is at noon", "word " * 120]


@pytest.fixture
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOODWIRE_CACHE_DIR", str(tmp_path))
    return tmp_path / "onnx"


def _classifier(tokenizer, **spec) -> EmotionClassifier:
    base = {"device": "cpu", "threads": 1, "max_tokens": 64, "window_overlap": 8}
    return EmotionClassifier(tiny_bert_classifier(EKMAN), tokenizer, EmotionModelSpec(**base, **spec), version="tiny@1")


def test_onnxruntime_fp32_matches_torch_and_keeps_the_fp32_version(minilm_tokenizer, onnx_cache):
    torch_model = _classifier(minilm_tokenizer)
    ort_model = _classifier(minilm_tokenizer, runtime="onnxruntime")
    assert type(ort_model.model).__name__ == "OnnxEncoder"
    assert ort_model.version == torch_model.version == "tiny@1"
    np.testing.assert_allclose(ort_model.predict_proba(TEXTS), torch_model.predict_proba(TEXTS), atol=1e-4)


def test_onnxruntime_int8_is_close_to_fp32_and_says_so_in_its_version(minilm_tokenizer, onnx_cache):
    fp32 = _classifier(minilm_tokenizer).predict_proba(TEXTS)
    int8_model = _classifier(minilm_tokenizer, runtime="onnxruntime", dtype="int8")
    assert int8_model.version == "tiny@1:ort-int8"
    int8 = int8_model.predict_proba(TEXTS)
    np.testing.assert_allclose(int8.sum(axis=1), 1.0, rtol=1e-5)
    # Quantised: close, not identical (the real model's macro-F1 is in `moodwire bench precision`).
    assert 0 < np.abs(fp32 - int8).max() < 0.1
    assert (fp32.argmax(axis=1) == int8.argmax(axis=1)).all()


def test_graph_is_built_once_per_weights_and_precision(minilm_tokenizer, onnx_cache):
    _classifier(minilm_tokenizer, runtime="onnxruntime", dtype="int8")
    (graph,) = onnx_cache.glob("*.onnx")
    built_at = graph.stat().st_mtime_ns
    _classifier(minilm_tokenizer, runtime="onnxruntime", dtype="int8")
    assert [p.stat().st_mtime_ns for p in onnx_cache.glob("*.onnx")] == [built_at]  # reused, not rebuilt
    _classifier(minilm_tokenizer, runtime="onnxruntime")
    assert len(list(onnx_cache.glob("*.onnx"))) == 2  # fp32 is another graph
    assert not [p for p in onnx_cache.iterdir() if p.is_dir()]  # no half-built leftovers


def test_onnxruntime_embedder_matches_torch(minilm_tokenizer, onnx_cache):
    from transformers import BertConfig, BertModel

    from inference.embedding import LocalEmbedder
    from inference.settings import LocalEmbeddingSpec

    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    spec = {"device": "cpu", "threads": 1, "max_tokens": 64, "window_overlap": 8}
    torch_embedder = LocalEmbedder(
        BertModel(config).eval(), minilm_tokenizer, LocalEmbeddingSpec(**spec, runtime="torch"), version="e"
    )
    ort_embedder = LocalEmbedder(
        torch_embedder.model, minilm_tokenizer, LocalEmbeddingSpec(**spec, runtime="onnxruntime"), version="e"
    )
    assert type(ort_embedder.model).__name__ == "OnnxEncoder"
    a, b = torch_embedder.embed(TEXTS), ort_embedder.embed(TEXTS)
    assert b.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(b, a, atol=1e-4)


def test_auto_runtime_is_onnxruntime_on_cpus_and_torch_where_onnx_does_not_apply(monkeypatch):
    import torch

    from inference.device import resolve_runtime

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_runtime("auto", "auto", "auto") == "onnxruntime"
    assert resolve_runtime("auto", "cpu", "int8") == "onnxruntime"
    assert resolve_runtime("auto", "cpu", "bfloat16") == "torch"  # ONNX Runtime here takes fp32 or int8
    assert resolve_runtime("torch", "cpu", "auto") == "torch"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_runtime("auto", "auto", "auto") == "torch"  # GPUs run torch
    assert resolve_runtime("auto", "auto", "int8") == "onnxruntime"  # int8 always runs on the CPU


def test_auto_runtime_falls_back_to_torch_when_export_fails(minilm_tokenizer, onnx_cache, monkeypatch):
    import inference.onnx_runtime as onnx_runtime

    def broken(*args, **kwargs):
        raise RuntimeError("exporter cannot handle this model")

    monkeypatch.setattr(onnx_runtime, "onnx_encoder", broken)
    with pytest.warns(RuntimeWarning, match="running on torch instead"):
        fallback = _classifier(minilm_tokenizer, runtime="auto")
    assert type(fallback.model).__name__ == "BertForSequenceClassification"
    assert fallback.predict_proba(TEXTS).shape == (len(TEXTS), len(EKMAN))
    with pytest.raises(RuntimeError, match="cannot handle"):  # asked for explicitly: no silent fallback
        _classifier(minilm_tokenizer, runtime="onnxruntime")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"runtime": "onnxruntime", "device": "cuda"}, "runtime onnxruntime runs on CPUs only"),
        ({"runtime": "onnxruntime", "dtype": "float16"}, "takes dtype float32 or int8, not float16"),
        ({"runtime": "tensorrt"}, "runtime"),
    ],
)
def test_bad_runtime_settings_are_refused_with_a_clear_message(spec, message):
    with pytest.raises(ValidationError, match=message):
        EmotionModelSpec(**spec)


@pytest.mark.slow
def test_configured_onnxruntime_version_matches_the_loaded_model(onnx_cache):
    from inference.embedding import build_embedder
    from inference.settings import PipelineSettings
    from inference.versions import pipeline_model_version

    change = {"runtime": "onnxruntime", "dtype": "int8"}
    settings = PipelineSettings(emotion=change, embedding={"local": change})
    from inference.language import LanguageDetector

    loaded = f"{EmotionClassifier.from_spec(settings.emotion).version}+{build_embedder(settings.embedding).version}"
    assert pipeline_model_version(settings) == f"{loaded}+{LanguageDetector().version}"
    assert loaded.count(":ort-int8") == 2
