import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from inference.batching import segment_texts
from inference.embedding import LocalEmbedder
from inference.loading import PACKAGED_MINILM, packaged_minilm_path
from inference.settings import LocalEmbeddingSpec

pytestmark = pytest.mark.slow  # loads the real default models


@pytest.fixture(scope="module")
def minilm() -> LocalEmbedder:
    return LocalEmbedder.from_spec(LocalEmbeddingSpec(threads=1))


def test_matches_sentence_transformers_reference(minilm):
    from sentence_transformers import SentenceTransformer

    texts = ["Gas prices are killing us", "The jobs report beat expectations", "ok"]
    reference = SentenceTransformer(str(packaged_minilm_path()), device="cpu").encode(texts)
    ours = minilm.embed(texts)
    assert ours.shape == (3, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(ours * reference / np.linalg.norm(reference, axis=1, keepdims=True), axis=1)
    assert cosine.min() > 0.9999


def test_similar_texts_are_closer_than_unrelated_ones(minilm):
    a, b, c = minilm.embed(["Inflation keeps rising", "Prices went up again this month", "My cat sleeps all day"])
    assert a @ b > a @ c + 0.2


def test_long_text_is_pooled_over_windows(minilm):
    text = " ".join(f"Sentence {i} of the budget debate in parliament." for i in range(260))
    assert len(text) > 12_500
    vector = minilm.embed([text])[0]
    segments = segment_texts(minilm.tokenizer, [text], max_tokens=256, overlap=32)
    assert len(segments.input_ids) > 5
    with torch.no_grad():
        windows = [
            minilm._forward(torch.tensor([ids]), torch.ones((1, len(ids)), dtype=torch.long))[0].numpy()
            for ids in segments.input_ids
        ]
    expected = np.mean(windows, axis=0)
    np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), atol=1e-5)


def test_default_models_load_offline(tmp_path):
    code = (
        "from inference.embedding import LocalEmbedder\n"
        "from inference.emotion import EmotionClassifier\n"
        "from inference.settings import LocalEmbeddingSpec, EmotionModelSpec\n"
        "e = LocalEmbedder.from_spec(LocalEmbeddingSpec(threads=1))\n"
        "c = EmotionClassifier.from_spec(EmotionModelSpec(threads=1))\n"
        "print(e.embed(['hi']).shape[1], len(c.labels), c.classify(['hello'])[0].label in c.labels)\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "empty-hf-home"),  # nothing cached: only installed files can load
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["384", "10", "True"]  # 7 emotions + the 3-way sentiment head
    assert PACKAGED_MINILM.startswith("packaged:")


def test_token_counts_come_from_the_windows_and_equal_a_full_tokenisation(minilm):
    """``/v1/embeddings`` reports usage from the tokenisation the embedder already did: for
    one-window and many-window texts alike it equals tokenising each whole text."""
    long_text = " ".join(f"Paragraph {i}: the council debated the housing budget at length." for i in range(120))
    texts = ["ok", "Gas prices are killing us", long_text, "   spaced   out   "]
    vectors, counts = minilm.embed_counted(texts)
    full = [len(ids) for ids in minilm.tokenizer(texts, verbose=False)["input_ids"]]
    assert counts.tolist() == full and full[2] > 3 * minilm.max_tokens
    np.testing.assert_array_equal(vectors, minilm.embed(texts))
