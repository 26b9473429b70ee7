"""The fake models chosen in config (``source: fake``): the real interfaces' shapes and labels,
the same numbers in every process, versions known from the settings alone, loading without
torch, and no shipped config that uses them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from inference.fake_models import (
    FAKE_EMBEDDING_DIM,
    FAKE_LABELS,
    FakeEmbedder,
    FakeEmotionModel,
    fake_models_warning,
    fake_sources,
)
from inference.heads import OutputLayout
from inference.loading import ArtifactManifest, ModelLoadError, artifacts_dir, classifier_labels_and_version
from inference.settings import PipelineSettings

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["I am furious about taxes", "happy to vote today", "the hospital queue", "Polls open at 7am", "ok"]


def fake_settings(**emotion_options) -> PipelineSettings:
    return PipelineSettings(
        emotion={"source": "fake", **emotion_options}, embedding={"local": {"source": "fake", **emotion_options}}
    )


def test_emotion_model_has_the_default_models_labels_and_one_distribution_per_head():
    model = FakeEmotionModel()
    assert model.labels == ArtifactManifest.read(artifacts_dir() / "ekman-minilm").labels == list(FAKE_LABELS)
    probs = model.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 10) and probs.dtype == np.float32
    layout = OutputLayout.of(model.labels)
    np.testing.assert_allclose(layout.emotion(probs).sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(layout.sentiment(probs).sum(axis=1), 1.0, rtol=1e-6)
    assert model.predict_proba([]).shape == (0, 10)
    np.testing.assert_array_equal(np.vstack([model.predict_proba([t]) for t in TEXTS]), probs)  # batch-free


def test_emotions_and_sentiment_follow_the_keywords_and_differ_by_text():
    model = FakeEmotionModel()
    results = model.classify(["I am furious!", "So happy, thanks", "The meeting is at noon", "I'm scared"])
    assert [r.label for r in results] == ["anger", "joy", "neutral", "fear"]
    sentiment = OutputLayout.of(model.labels).sentiment(model.predict_proba(["I am furious!", "great news", "noon"]))
    assert sentiment.argmax(axis=1).tolist() == [0, 2, 1]  # negative, positive, neutral
    plain = model.predict_proba(["The meeting is at noon", "The report is due Friday"])
    assert not np.array_equal(plain[0], plain[1])  # a stable tilt per text, not one constant row


def test_embedder_gives_unit_vectors_close_for_shared_words():
    embedder = FakeEmbedder()
    vectors = embedder.embed(["raise taxes now", "taxes are too high", "the hospital is full", "🙂", ""])
    assert vectors.shape == (5, FAKE_EMBEDDING_DIM) == (5, embedder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert embedder.embed([]).shape == (0, FAKE_EMBEDDING_DIM)
    same, counts = embedder.embed_counted(["raise taxes now", "a b"])
    np.testing.assert_array_equal(same[0], vectors[0])
    assert counts.tolist() == [5, 4]  # words plus two special tokens


def _digest_of_outputs() -> str:
    emotion, embedder = FakeEmotionModel(), FakeEmbedder()
    return hashlib.sha256(emotion.predict_proba(TEXTS).tobytes() + embedder.embed(TEXTS).tobytes()).hexdigest()


def test_the_same_numbers_in_fresh_instances_and_other_processes():
    first = _digest_of_outputs()
    assert _digest_of_outputs() == first
    code = "from tests.unit.test_fake_models import _digest_of_outputs; print(_digest_of_outputs())"
    for seed in ("1", "2"):  # str hashes differ between these processes; the fake's must not
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == first


@pytest.mark.parametrize(
    "options", [{}, {"dtype": "int8"}, {"dtype": "int8", "runtime": "torch"}, {"runtime": "onnxruntime"}]
)
def test_versions_from_the_settings_are_the_loaded_models(options, tmp_path):
    from inference.embedding import LocalEmbedder, build_embedder
    from inference.emotion import EmotionClassifier
    from inference.pipeline import MentionPipeline
    from inference.versions import embedding_version, emotion_version, local_embedding_version, pipeline_model_version

    settings = fake_settings(**options)
    emotion = EmotionClassifier.from_spec(settings.emotion)
    embedder = build_embedder(settings.embedding)
    assert isinstance(emotion, FakeEmotionModel) and isinstance(embedder, FakeEmbedder)
    assert isinstance(LocalEmbedder.from_spec(settings.embedding.local), FakeEmbedder)
    assert emotion_version(settings.emotion) == emotion.version == "fake:emotion@1"
    assert local_embedding_version(settings.embedding.local) == embedding_version(settings.embedding)
    assert embedding_version(settings.embedding) == embedder.version == "fake:embedding@1"
    assert classifier_labels_and_version("fake") == (emotion.labels, emotion.version)
    assert pipeline_model_version(settings) == MentionPipeline.from_settings(settings).model_version


def test_the_fake_source_has_no_weights_for_other_loaders():
    from inference.loading import load_sequence_classifier, resolve_source

    for load in (resolve_source, load_sequence_classifier):
        with pytest.raises(ModelLoadError, match="placeholder model"):
            load("fake")


def test_loading_and_running_the_fakes_imports_no_torch(tmp_path):
    """Through the real loaders, from a settings file: the CLI pipeline, a Serve host and the
    versions the backfill compares, none of which may reach torch, transformers or ONNX Runtime."""
    config = tmp_path / "fake.yaml"
    config.write_text("emotion: {source: fake, dtype: int8}\nembedding: {local: {source: fake}}\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from inference.settings import load_pipeline_settings\n"
        "from inference.pipeline import MentionPipeline\n"
        "from inference.versions import pipeline_model_version\n"
        "from serve_app.model_host import ModelHost\n"
        f"settings = load_pipeline_settings(Path({str(config)!r}))\n"
        "pipeline = MentionPipeline.from_settings(settings)\n"
        "assert pipeline.model_version == pipeline_model_version(settings)\n"
        "result = pipeline.classify(['I am furious about taxes'])[0]\n"
        "ModelHost.load(settings, cpus=1).compute(['hello'])\n"
        "heavy = ('torch', 'transformers', 'onnxruntime', 'inference.onnx_runtime', 'inference.device')\n"
        "print(result.emotion.label, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["anger", "[]"]


def test_which_models_are_fake_and_the_warning_line():
    assert fake_sources(PipelineSettings()) == [] and fake_models_warning(PipelineSettings()) is None
    assert fake_sources(fake_settings()) == ["emotion", "embedding"]
    assert fake_models_warning(fake_settings()) == (
        "moodwire: warning: fake models in use (emotion, embedding): results are placeholders, not classifications"
    )
    only_emotion = PipelineSettings(emotion={"source": "fake"})
    assert fake_sources(only_emotion) == ["emotion"] and "(emotion)" in fake_models_warning(only_emotion)
    # A fake local source is not in use while the OpenAI backend embeds.
    remote = PipelineSettings(embedding={"backend": "openai", "local": {"source": "fake"}})
    assert fake_sources(remote) == []


def _shipped_yaml_files() -> list[Path]:
    files = [p for folder in ("configs", "deploy", "examples") for p in (ROOT / folder).rglob("*")]
    return sorted(p for p in files if p.suffix in (".yaml", ".yml"))


def _fake_sources_in(node, where: str) -> list[str]:
    """Paths of every ``source: fake`` in a parsed YAML tree, YAML held in strings included
    (a RayService's ``serveConfigV2``)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source" and isinstance(value, str) and value.strip() == "fake":
                found.append(f"{where}.{key}")
            found += _fake_sources_in(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _fake_sources_in(item, f"{where}.{index}")
    elif isinstance(node, str) and "\n" in node and ":" in node:
        with contextlib.suppress(yaml.YAMLError):  # a string that is not YAML holds no setting
            found += _fake_sources_in(yaml.safe_load(node), where)
    return found


def test_no_shipped_config_uses_the_fake_models():
    files = _shipped_yaml_files()
    assert any(p.name == "moodwire.yaml" for p in files) and any(p.parent.name == "deploy" for p in files)
    offenders = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        for document in yaml.safe_load_all(text):
            offenders += _fake_sources_in(document, name)
        offenders += [
            f"{name}: {line.strip()}" for line in text.splitlines() if re.search(r"source\s*:\s*fake\b", line)
        ]
    assert offenders == []


def test_the_examples_classify_into_more_than_one_answer():
    """The fakes are useful on real-looking mentions: several emotions, both polarities."""
    model = FakeEmotionModel()
    texts = [json.loads(line)["text"] for line in (ROOT / "examples" / "mentions.jsonl").read_text().splitlines()]
    texts = [t for t in texts if t]
    layout = OutputLayout.of(model.labels)
    probs = model.predict_proba(texts)
    assert len({r.label for r in model.to_results(probs)}) >= 4
    assert set(layout.sentiment(probs).argmax(axis=1).tolist()) == {0, 1, 2}
