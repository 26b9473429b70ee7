import numpy as np
import pytest
import torch

from inference.batching import segment_texts
from inference.emotion import EmotionClassifier
from inference.settings import ModelSpec
from tests.unit.conftest import EKMAN, tiny_bert_classifier


def test_single_label_scores_are_a_softmax_in_id2label_order(tiny_emotion):
    results = tiny_emotion.classify(["I am so happy today", "this is awful"])
    for result in results:
        assert list(result.scores) == EKMAN
        assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert result.label == max(result.scores, key=result.scores.get)


def test_probabilities_match_a_plain_forward_pass(tiny_emotion, minilm_tokenizer):
    text = "Gas prices are killing us"
    encoded = minilm_tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        expected = torch.softmax(tiny_emotion.model(**encoded).logits, dim=-1).numpy()
    np.testing.assert_allclose(tiny_emotion.predict_proba([text]), expected, atol=1e-5)


def test_batching_does_not_change_results(tiny_emotion):
    texts = ["short", "a much longer sentence about the economy and the budget " * 3, "mid length text here"]
    together = tiny_emotion.predict_proba(texts)
    alone = np.vstack([tiny_emotion.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_multi_label_checkpoints_give_sigmoids(minilm_tokenizer):
    model = tiny_bert_classifier(["a", "b", "c"], problem_type="multi_label_classification")
    classifier = EmotionClassifier(model, minilm_tokenizer, ModelSpec(source="t", threads=1), version="t")
    assert classifier.multi_label
    text = "several labels at once"
    encoded = minilm_tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        expected = torch.sigmoid(model(**encoded).logits).numpy()
    np.testing.assert_allclose(classifier.predict_proba([text]), expected, atol=1e-5)
    result = classifier.classify([text])[0]
    assert result.label == max(result.scores, key=result.scores.get)


def test_long_text_is_windowed_and_pooled_not_truncated(tiny_emotion, minilm_tokenizer):
    text = "the economy is doing great and everyone is happy. " * 10
    text += "terrible disaster, people are terrified and grieving. " * 230
    assert len(text) >= 12_500
    probs = tiny_emotion.predict_proba([text])[0]
    segments = segment_texts(minilm_tokenizer, [text], max_tokens=64, overlap=8)
    assert len(segments.input_ids) > 40
    with torch.no_grad():
        per_window = [
            torch.softmax(tiny_emotion.model(input_ids=torch.tensor([ids])).logits, dim=-1)[0].numpy()
            for ids in segments.input_ids
        ]
    np.testing.assert_allclose(probs, np.mean(per_window, axis=0), atol=1e-5)


def test_empty_batch(tiny_emotion):
    assert tiny_emotion.predict_proba([]).shape == (0, 7)
