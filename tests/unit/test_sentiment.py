import numpy as np
import pytest

from inference.sentiment import SentimentRule
from inference.settings import SentimentSettings
from tests.unit.conftest import EKMAN


def probs(**mass: float) -> np.ndarray:
    return np.array([[mass.get(label, 0.0) for label in EKMAN]], dtype=np.float32)


@pytest.mark.parametrize(
    ("distribution", "label", "score"),
    [
        ({"joy": 0.9, "neutral": 0.1}, "positive", 0.9),
        ({"anger": 0.5, "disgust": 0.3, "neutral": 0.2}, "negative", -0.8),
        ({"neutral": 0.8, "joy": 0.1, "sadness": 0.1}, "neutral", 0.0),
        ({"surprise": 1.0}, "neutral", 0.0),
        ({"joy": 0.3, "neutral": 0.7}, "positive", 0.3),
        ({"fear": 0.29, "neutral": 0.71}, "neutral", -0.29),
    ],
)
def test_score_is_valence_weighted_and_label_cuts_it(distribution, label, score):
    rule = SentimentRule(SentimentSettings(), EKMAN)
    result = rule.results(probs(**distribution))[0]
    assert result.label == label
    assert result.score == pytest.approx(score, abs=1e-5)


def test_custom_valence_and_unknown_labels():
    rule = SentimentRule(SentimentSettings(valence={"love": 1.0}, positive_threshold=0.5), ["love", "other"])
    assert rule.results(np.array([[0.6, 0.4]]))[0].label == "positive"
    assert rule.results(np.array([[0.4, 0.6]]))[0].label == "neutral"


def test_valence_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="valence of 'joy'"):
        SentimentSettings(valence={"joy": 2.0})
