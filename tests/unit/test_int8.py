"""torch's dynamic int8 quantisation: ``dtype: int8`` with ``runtime: torch``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.device import place_model
from inference.emotion import EmotionClassifier
from inference.settings import EmotionModelSpec
from tests.unit.conftest import EKMAN, tiny_bert_classifier


def test_int8_quantises_every_linear_layer_and_stays_on_cpu():
    model, device, dtype = place_model(tiny_bert_classifier(EKMAN), "auto", "int8")
    assert device.type == "cpu" and dtype == torch.float32
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    quantised = [m for m in model.modules() if type(m).__name__ == "Linear" and "quantized" in type(m).__module__]
    assert not layers and quantised  # every float Linear was replaced


def test_int8_on_cuda_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"int8 .* CPUs only"):
        place_model(tiny_bert_classifier(EKMAN), "cuda", "int8")


def test_int8_classifier_is_close_to_fp32_and_says_so_in_its_version(minilm_tokenizer):
    texts = ["I am so happy today", "This is outrageous and disgusting", "The meeting is at noon"]
    fp32 = EmotionClassifier(tiny_bert_classifier(EKMAN), minilm_tokenizer, EmotionModelSpec(), version="tiny@1")
    int8 = EmotionClassifier(
        tiny_bert_classifier(EKMAN), minilm_tokenizer, EmotionModelSpec(dtype="int8", runtime="torch"), version="tiny@1"
    )
    assert int8.version == "tiny@1:int8" and fp32.version == "tiny@1"
    a, b = fp32.predict_proba(texts), int8.predict_proba(texts)
    np.testing.assert_allclose(b.sum(axis=1), 1.0, rtol=1e-5)
    assert np.abs(a - b).max() < 0.05


@pytest.mark.slow
def test_configured_int8_version_matches_the_loaded_model():
    from inference.settings import PipelineSettings
    from inference.versions import pipeline_model_version

    torch_int8 = {"dtype": "int8", "runtime": "torch"}
    settings = PipelineSettings(emotion=torch_int8, embedding={"local": torch_int8})
    from inference.embedding import build_embedder
    from inference.language import LanguageDetector

    loaded = f"{EmotionClassifier.from_spec(settings.emotion).version}+{build_embedder(settings.embedding).version}"
    assert pipeline_model_version(settings) == f"{loaded}+{LanguageDetector().version}"
    assert loaded.count(":int8") == 2
