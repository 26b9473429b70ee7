import numpy as np
import pytest

from inference.pipeline import MentionPipeline
from inference.postprocess import PostProcessor
from inference.sentiment import SentimentRule
from inference.settings import SentimentSettings
from inference.topics import TopicFile, TopicScorer, TopicSpec
from inference.validation import InvalidTextError, text_problem
from tests.unit.conftest import EKMAN, KeywordEmbedder


class CountingEmotion:
    """Same interface as EmotionClassifier; records what it was asked to compute."""

    labels = EKMAN
    version = "count@1"

    def __init__(self, tiny) -> None:
        self.tiny = tiny
        self.calls: list[list[str]] = []

    def predict_proba(self, texts):
        self.calls.append(list(texts))
        return self.tiny.predict_proba(texts)

    def to_results(self, probs):
        return self.tiny.to_results(probs)


@pytest.fixture()
def pipeline(tiny_emotion) -> MentionPipeline:
    embedder = KeywordEmbedder(["taxes", "hospital", "economy", "health"])
    topics = TopicFile(
        threshold=0.5,
        max_topics=2,
        topics=[TopicSpec(key="economy", description="taxes"), TopicSpec(key="health", description="hospital")],
    )
    return MentionPipeline(
        emotion=CountingEmotion(tiny_emotion),
        embedder=embedder,
        postprocess=PostProcessor(
            labels=EKMAN, sentiment=SentimentRule(SentimentSettings(), EKMAN), topics=TopicScorer(topics, embedder)
        ),
        cache_size=100,
        max_text_chars=1000,
    )


def test_results_in_input_order_with_all_fields(pipeline, tiny_emotion):
    texts = ["raise taxes now", "the hospital is full", "nothing here"]
    results = pipeline.classify(texts)
    assert [[t.key for t in r.topics] for r in results] == [["economy"], ["health"], []]
    expected = tiny_emotion.classify(texts)
    assert [r.emotion for r in results] == expected
    for result in results:
        assert -1.0 <= result.sentiment.score <= 1.0
        assert result.sentiment.label in {"positive", "neutral", "negative"}
        as_dict = result.to_dict()
        assert set(as_dict) == {"emotion", "sentiment", "topics", "language", "language_supported"}
        assert (result.language, result.language_supported) == ("und", True)  # no detector given


def test_identical_texts_are_computed_once(pipeline):
    pipeline.classify(["raise taxes now", "raise taxes now", "the hospital is full"])
    pipeline.classify(["raise taxes now"])
    assert pipeline.emotion.calls == [["raise taxes now", "the hospital is full"]]
    assert pipeline.embedder.calls[-1] == ["raise taxes now", "the hospital is full"]
    assert pipeline.cache.hits >= 1


def test_cached_and_fresh_results_are_identical(pipeline):
    first = pipeline.analyse(["the hospital is full"])[0]
    second = pipeline.analyse(["the hospital is full"])[0]
    assert first.result == second.result
    np.testing.assert_array_equal(first.embedding, second.embedding)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "is empty"), ("   \n", "is empty"), ("x" * 1001, "limit is 1000"), (None, "must be a string")],
)
def test_invalid_texts_are_refused_with_their_index(pipeline, text, reason):
    with pytest.raises(InvalidTextError) as info:
        pipeline.classify(["fine", text])
    assert info.value.index == 1 and reason in str(info.value)
    assert pipeline.emotion.calls == []


def test_text_problem_accepts_normal_text():
    assert text_problem("hello", 10) is None
