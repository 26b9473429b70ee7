"""The shipped default models, read like a spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference.emotion import EmotionClassifier
from inference.loading import artifacts_dir
from inference.settings import EmotionModelSpec

pytestmark = pytest.mark.slow  # loads the real default models

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def default_emotion() -> EmotionClassifier:
    return EmotionClassifier.from_spec(EmotionModelSpec(threads=2))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I am furious about the tax hike", "anger"),
        ("How dare they lie to us again, I'm livid", "anger"),
        ("This is the best news ever, I'm so happy for you!", "joy"),
        ("Thank you so much, this made my day", "joy"),
        ("I'm terrified of what happens if I lose this job", "fear"),
        ("My grandmother passed away last night and I miss her so much", "sadness"),
        ("That is disgusting, they should be ashamed", "disgust"),
        ("Wow, I did not expect that at all!", "surprise"),
        ("The meeting has been moved to 3pm in room 204.", "neutral"),
    ],
)
def test_default_emotion_model_behaviour(default_emotion, text, label):
    result = default_emotion.classify([text])[0]
    assert result.label == label, result.scores
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)


def test_default_emotion_labels_and_artifact_size(default_emotion):
    assert list(default_emotion.layout.emotion_labels) == [
        "anger",
        "disgust",
        "fear",
        "joy",
        "neutral",
        "sadness",
        "surprise",
    ]
    assert default_emotion.labels[-3:] == ["sentiment:negative", "sentiment:neutral", "sentiment:positive"]
    assert not default_emotion.multi_label
    artifact = artifacts_dir() / "ekman-minilm"
    assert sum(p.stat().st_size for p in artifact.iterdir()) <= 8 * 1024 * 1024


def test_quality_on_our_own_checks(default_emotion):
    """Small hand-written sets; the floors sit well below what the shipped model scores."""
    from inference.embedding import LocalEmbedder
    from inference.sentiment import SentimentHead
    from inference.settings import LocalEmbeddingSpec
    from training import quality

    head = SentimentHead(default_emotion.labels)
    assert quality.emotion_tweets_macro_f1(default_emotion) >= 0.8
    assert quality.sentiment_macro_f1(default_emotion, head) >= 0.8
    for name, floor in (
        ("sentiment_service.tsv", 0.65),
        ("sentiment_politics.tsv", 0.6),
        ("sentiment_general.tsv", 0.7),
    ):
        assert quality.sentiment_macro_f1(default_emotion, head, quality.CHECKS_DIR / name) >= floor, name
    assert quality.topic_accuracy(LocalEmbedder.from_spec(LocalEmbeddingSpec(threads=2))) >= 0.9


def test_classify_command_end_to_end_with_default_models(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run(
        [sys.executable, "-m", "moodwire", "classify", "--input", str(ROOT / "examples" / "mentions.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["external_id"] for line in lines] == [f"ex-{i:03d}" for i in range(1, 15)]
    by_id = {line["external_id"]: line for line in lines}
    assert by_id["ex-012"]["error"] == "text is empty"
    assert by_id["ex-001"]["emotion"]["label"] == "anger"
    assert by_id["ex-001"]["sentiment"]["label"] == "negative"
    assert by_id["ex-007"]["topics"][0]["key"] == "elections"
    assert by_id["ex-014"]["topics"][0]["key"] == "immigration"
    assert "Traceback" not in done.stderr and "classified 13 of 14 texts" in done.stderr

    long_text = "Inflation and rising prices are squeezing family budgets while wages stay flat. " * 170
    done = subprocess.run(
        [sys.executable, "-m", "moodwire", "classify", long_text],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(long_text) > 12_500 and json.loads(done.stdout)["topics"][0]["key"] == "economy"


def test_the_shipped_tower_candidate_shares_the_embedding_pass():
    """``builtin:ekman-tower`` runs over the installed embedder's own lower layers, so with the
    shipped embedding settings every face computes both outputs in one pass
    (``inference.shared_encoder``); the default LoRA model runs its own."""
    from inference.loading import ArtifactManifest, is_tower_artifact
    from inference.settings import EmotionModelSpec, load_pipeline_settings
    from inference.shared_encoder import shared_pass_applies

    artifact = artifacts_dir() / "ekman-tower"
    assert is_tower_artifact(str(artifact))
    manifest = ArtifactManifest.read(artifact)
    assert manifest.base == "packaged:all-MiniLM-L6-v2" and manifest.max_length == 256
    assert sum(p.stat().st_size for p in artifact.iterdir()) <= 8 * 1024 * 1024
    for name in ("moodwire.yaml", "moodwire-int8.yaml"):
        settings = load_pipeline_settings(ROOT / "configs" / name)
        assert not shared_pass_applies(settings)
        tower = settings.emotion.model_copy(update={"source": "builtin:ekman-tower"})
        assert shared_pass_applies(settings.model_copy(update={"emotion": tower})), name
    assert EmotionModelSpec().source == "builtin:ekman-minilm"
