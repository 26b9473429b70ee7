"""One codec for results (``storage.result_columns``): a result encoded to the batch columns
and decoded comes back equal, and the database row holds the same values."""

from __future__ import annotations

import numpy as np
import pytest

from inference.heads import SENTIMENT_OUTPUTS
from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore
from storage.result_columns import BATCH_COLUMNS, ROW_COLUMNS, ResultColumns, result_row, result_topics

EKMAN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


def _result(*, head: bool, topics: dict[str, float], language: str = "en", supported: bool = True) -> MentionResult:
    scores = dict(zip(EKMAN, np.round(np.linspace(0.01, 0.3, len(EKMAN)), 6).tolist(), strict=True))
    return MentionResult(
        emotion=EmotionResult(label="joy", scores=scores),
        sentiment=SentimentResult(
            label="negative",
            score=-0.612345,
            scores={"negative": 0.7, "neutral": 0.212345, "positive": 0.087655} if head else None,
        ),
        topics=[TopicScore(key=k, score=v) for k, v in topics.items()],
        language=language,
        language_supported=supported,
    )


RESULTS = [
    _result(head=True, topics={"economy": 0.41, "health": 0.3333333}),
    _result(head=False, topics={}, language="es", supported=False),
    _result(head=True, topics={"housing": 0.123456789}, language="und"),
]


def test_a_batch_decodes_to_exactly_the_results_it_encoded():
    codec = ResultColumns.for_outputs(EKMAN + list(SENTIMENT_OUTPUTS))
    assert codec.labels == EKMAN
    columns = codec.encode(RESULTS)
    assert set(columns) == set(BATCH_COLUMNS)
    assert all(len(values) == len(RESULTS) for values in columns.values())
    assert columns["emotion_scores"].dtype == np.float64 and columns["emotion_scores"].shape == (3, len(EKMAN))
    assert [codec.decode(columns, i) for i in range(len(RESULTS))] == RESULTS


def test_rows_that_failed_get_empty_columns_and_the_others_keep_their_place():
    codec = ResultColumns(EKMAN)
    columns = codec.encode([None, RESULTS[0], None])
    assert list(columns["topic_keys"]) == [[], ["economy", "health"], []]
    assert codec.decode(columns, 1) == RESULTS[0]


def test_the_database_row_holds_the_same_values_as_the_result():
    row = result_row(RESULTS[0])
    assert set(row) == set(ROW_COLUMNS)
    assert row["emotion_scores"] == RESULTS[0].emotion.scores and row["sentiment_score"] == pytest.approx(-0.612345)
    assert result_row(RESULTS[1])["sentiment_scores"] is None


def test_a_topic_named_twice_is_one_row():
    doubled = _result(head=True, topics={"economy": 0.4})
    doubled = MentionResult(
        emotion=doubled.emotion,
        sentiment=doubled.sentiment,
        topics=[TopicScore("economy", 0.4), TopicScore("economy", 0.5)],
    )
    assert result_topics(doubled) == [TopicScore("economy", 0.5)]
