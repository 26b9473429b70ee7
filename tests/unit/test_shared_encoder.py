"""One encoder pass for both outputs (``inference.shared_encoder``) on a real tower artifact: a
tower over the installed MiniLM's lower layers with a seeded head (not a trained one: these
tests check the plumbing, the quality figures live in the model card)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from inference.settings import PipelineSettings
from tests.unit.conftest import EKMAN
from tests.unit.towers import write_tower_artifact

pytestmark = pytest.mark.slow

TEXTS = [
    "I am furious about the new taxes",
    "so happy to vote today!",
    "ok",
    "the hospital queue " * 120,  # longer than one 256-token window
]


@pytest.fixture(scope="module")
def tower_dir(tmp_path_factory) -> Path:
    return write_tower_artifact(tmp_path_factory.mktemp("tower") / "ekman-tower")


def settings_for(tower_dir: Path, runtime: str = "torch", **embedding) -> PipelineSettings:
    local = {"runtime": runtime, "threads": 1, **embedding}
    return PipelineSettings.model_validate(
        {"emotion": {"source": str(tower_dir), "runtime": runtime, "threads": 1}, "embedding": {"local": local}}
    )


def test_one_pass_gives_what_each_model_alone_gives(tower_dir):
    from inference.embedding import LocalEmbedder
    from inference.shared_encoder import load_models

    models = load_models(settings_for(tower_dir))
    assert models.shared is not None
    probs, vectors = models.outputs(TEXTS)
    assert models.calls == {"shared": 1, "separate": 0}
    np.testing.assert_allclose(probs, models.emotion.predict_proba(TEXTS), atol=1e-5)
    np.testing.assert_allclose(vectors, models.embedder.embed(TEXTS), atol=1e-5)
    installed = LocalEmbedder.from_spec(settings_for(tower_dir).embedding.local).embed(TEXTS)
    assert np.min(np.sum(vectors * installed, axis=1)) >= 0.99999  # the embedding is the installed model's
    emotion, sentiment = probs[:, : len(EKMAN)], probs[:, len(EKMAN) :]
    np.testing.assert_allclose(emotion.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(sentiment.sum(axis=1), 1.0, atol=1e-5)
    # a tower's version ends in its weights' digest, so two trainings never share one
    assert re.fullmatch(rf"{re.escape(str(tower_dir))}@test-tower-[0-9a-f]{{8}}", models.emotion.version)
    assert models.embedder.version == "packaged:all-MiniLM-L6-v2"


def test_the_shared_pass_applies_only_to_the_same_encoder_run_the_same_way(tower_dir):
    from inference.settings import EmotionModelSpec
    from inference.shared_encoder import shared_pass_applies

    assert shared_pass_applies(settings_for(tower_dir))
    fake = settings_for(tower_dir).model_copy(update={"emotion": EmotionModelSpec(source="fake", runtime="torch")})
    assert not shared_pass_applies(fake)
    assert not shared_pass_applies(
        settings_for(tower_dir, dtype="int8")
    )  # int8 embedding beside an fp32 tower: each alone


def test_onnx_runtime_runs_the_same_pass(tower_dir, tmp_path, monkeypatch):
    from inference.shared_encoder import load_models

    monkeypatch.setenv("MOODWIRE_CACHE_DIR", str(tmp_path))
    torch_probs, torch_vectors = load_models(settings_for(tower_dir)).outputs(TEXTS)
    onnx = load_models(settings_for(tower_dir, runtime="onnxruntime"))
    assert type(onnx.shared.model).__name__ == "OnnxEncoder"
    probs, vectors = onnx.outputs(TEXTS)
    np.testing.assert_allclose(probs, torch_probs, atol=1e-4)
    np.testing.assert_allclose(vectors, torch_vectors, atol=1e-4)
