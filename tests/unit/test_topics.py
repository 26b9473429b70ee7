from pathlib import Path

import numpy as np
import pytest

from inference.config_files import ConfigError
from inference.settings import project_configs_dir
from inference.topics import TopicFile, TopicScorer, TopicSpec, load_topic_file, prototype_texts
from tests.unit.conftest import KeywordEmbedder


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_topic_file_is_valid_and_covers_political_monitoring():
    topic_file = load_topic_file(project_configs_dir() / "topics.yaml")
    keys = {t.key for t in topic_file.topics}
    assert {"economy", "healthcare", "immigration", "foreign_policy", "elections", "corruption_ethics"} <= keys
    assert topic_file.threshold == 0.15 and topic_file.max_topics == 3


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("topics:\n  - key: economy\n    description: Jobs\n    colour: red\n", "topic 'economy' (topics.0) 'colour'"),
        ("topics:\n  - key: economy\n", "topic 'economy' (topics.0) 'description' is required"),
        ("topics:\n  - key: economy\n    description: '  '\n", "'description'"),
        ("threshold: 1.5\ntopics:\n  - key: a\n    description: b\n", "'threshold'"),
        ("topics:\n  - key: a\n    description: b\n    threshold: -3\n", "topic 'a' (topics.0) 'threshold'"),
        ("topics:\n  - key: a\n    description: b\n  - key: a\n    description: c\n", "more than once"),
        ("topics: []\n", "'topics'"),
        ("max_topics: 0\ntopics:\n  - key: a\n    description: b\n", "'max_topics'"),
        ("wat: 1\ntopics:\n  - key: a\n    description: b\n", "unknown key 'wat'"),
        ("topics: [\n", "invalid YAML"),
    ],
)
def test_invalid_topic_files_name_file_and_key(tmp_path, body, expected):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_topic_file(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_topic_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_topic_file(tmp_path / "nope.yaml")


def topic_file(threshold: float, max_topics: int, **per_topic: float) -> TopicFile:
    topics = [
        TopicSpec(key="economy", description="taxes", threshold=per_topic.get("economy")),
        TopicSpec(key="health", description="hospital", threshold=per_topic.get("health")),
        TopicSpec(key="crime", description="police", threshold=per_topic.get("crime")),
    ]
    return TopicFile(threshold=threshold, max_topics=max_topics, topics=topics)


EMBEDDER = KeywordEmbedder(["taxes", "hospital", "police", "weather"])


def test_threshold_zero_and_max_one_returns_the_best_topic_even_when_negative():
    scorer = TopicScorer(topic_file(0.0, 1), EMBEDDER)
    scores = np.array([[-0.5, -0.2, -0.9], [0.1, 0.4, 0.2]], dtype=np.float32)
    picked = scorer.select(scores)
    assert [[(t.key, t.score) for t in row] for row in picked] == [
        [("health", pytest.approx(-0.2))],
        [("health", pytest.approx(0.4))],
    ]


def test_thresholds_and_cap_are_applied_and_sorted():
    scorer = TopicScorer(topic_file(0.3, 2, crime=0.05), EMBEDDER)
    scores = np.array([[0.35, 0.2, 0.1], [0.9, 0.8, 0.7], [0.1, 0.1, 0.01]], dtype=np.float32)
    picked = [[t.key for t in row] for row in scorer.select(scores)]
    assert picked == [["economy", "crime"], ["economy", "health"], []]


def test_scores_rank_the_topic_a_text_is_about():
    scorer = TopicScorer(topic_file(0.3, 3), EMBEDDER)
    vectors = EMBEDDER.embed(["police police taxes", "hospital"])
    picked = [[t.key for t in row] for row in scorer.select(scorer.scores(vectors))]
    assert picked[0][0] == "crime" and picked[1] == ["health"]


def test_prototype_uses_description_phrases_key_and_examples():
    spec = TopicSpec(
        key="foreign_policy", description="Diplomacy, wars abroad and sanctions.", examples=["NATO summit"]
    )
    views = prototype_texts(spec)
    assert views[0] == "Diplomacy, wars abroad and sanctions."
    assert "foreign policy" in views and "wars abroad" in views and "sanctions" in views and "NATO summit" in views


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Inflation is eating my whole paycheck", "economy"),
        ("My insulin costs more than my rent", "healthcare"),
        ("The border is overwhelmed with asylum claims", "immigration"),
        ("The senator took bribes from a defense contractor", "corruption_ethics"),
        ("Early voting starts Monday, check your polling place", "elections"),
        ("Another heatwave and the power grid is failing", "climate_energy"),
    ],
)
def test_default_topics_with_real_minilm(real_topic_scorer, text, topic):
    vectors = real_topic_scorer.embedder_for_test.embed([text])
    best = real_topic_scorer.select(real_topic_scorer.scores(vectors))[0]
    assert best and best[0].key == topic


@pytest.fixture(scope="module")
def real_topic_scorer():
    from inference.embedding import LocalEmbedder
    from inference.settings import LocalEmbeddingSpec

    embedder = LocalEmbedder.from_spec(LocalEmbeddingSpec(threads=1))
    scorer = TopicScorer(load_topic_file(project_configs_dir() / "topics.yaml"), embedder)
    scorer.embedder_for_test = embedder
    return scorer
