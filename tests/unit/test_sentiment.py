import numpy as np
import pytest

from inference.config_files import ConfigError
from inference.heads import OutputLayout, OutputLayoutError
from inference.sentiment import SentimentHead, SentimentRule, sentiment_scorer
from inference.settings import SentimentSettings, load_pipeline_settings
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


# --- the trained sentiment head and the method switch -------------------------------------

HEADED = [*EKMAN, "sentiment:negative", "sentiment:neutral", "sentiment:positive"]


def headed_row(emotion: dict[str, float], negative: float, neutral: float, positive: float) -> np.ndarray:
    return np.hstack([probs(**emotion), np.array([[negative, neutral, positive]], dtype=np.float32)])


def test_head_label_is_its_top_class_and_score_is_positive_minus_negative():
    head = SentimentHead(HEADED)
    complaint = head.results(headed_row({"neutral": 1.0}, 0.7, 0.25, 0.05))[0]
    assert complaint.label == "negative"  # the valence rule would call this emotion row neutral
    assert complaint.score == pytest.approx(-0.65, abs=1e-6)
    assert complaint.scores == pytest.approx({"negative": 0.7, "neutral": 0.25, "positive": 0.05}, abs=1e-6)
    praise = head.results(headed_row({"joy": 1.0}, 0.1, 0.3, 0.6))[0]
    assert (praise.label, praise.score) == ("positive", pytest.approx(0.5, abs=1e-6))


def test_valence_rule_reads_only_the_emotion_columns_of_a_headed_model():
    rule = SentimentRule(SentimentSettings(method="valence"), HEADED)
    result = rule.results(headed_row({"joy": 0.9, "neutral": 0.1}, 0.9, 0.05, 0.05))[0]
    assert (result.label, result.score, result.scores) == ("positive", pytest.approx(0.9, abs=1e-5), None)


def test_method_switch_picks_the_scorer():
    assert isinstance(sentiment_scorer(SentimentSettings(), HEADED), SentimentHead)
    assert isinstance(sentiment_scorer(SentimentSettings(method="valence"), HEADED), SentimentRule)
    assert isinstance(sentiment_scorer(SentimentSettings(method="valence"), EKMAN), SentimentRule)


def test_head_on_a_checkpoint_without_one_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"sentiment\.method.*set sentiment\.method: valence"):
        sentiment_scorer(SentimentSettings(method="head"), EKMAN)


def test_unknown_method_names_the_key(tmp_path):
    path = tmp_path / "moodwire.yaml"
    path.write_text("sentiment:\n  method: lexicon\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'sentiment\.method'"):
        load_pipeline_settings(path)


def test_a_partial_sentiment_head_is_rejected():
    with pytest.raises(OutputLayoutError, match="exactly the labels"):
        OutputLayout.of([*EKMAN, "sentiment:negative", "sentiment:positive"])


def test_layout_splits_rows_by_head():
    layout = OutputLayout.of(HEADED)
    row = headed_row({"anger": 1.0}, 0.2, 0.3, 0.5)
    assert layout.emotion_labels == tuple(EKMAN) and layout.has_sentiment_head
    np.testing.assert_allclose(layout.emotion(row), probs(anger=1.0))
    np.testing.assert_allclose(layout.sentiment(row), [[0.2, 0.3, 0.5]])
    assert not OutputLayout.of(EKMAN).has_sentiment_head
