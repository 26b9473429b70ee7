"""Fakes behind the real interfaces (``EmotionScorer``, ``TextEmbedder``) and the settings
that go with them, for tests that need no weights.

Two kinds: a settings file choosing the shipped fake models (``source: fake``,
``inference.fake_models``; ``fake_model_config``), for tests of the plumbing, which then load
them through the real loaders in every face; and ``KeywordEmotion``/``KeywordEmbedder``, handed
in directly, for tests that count calls or need their exact keyword dimensions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.heads import SENTIMENT_OUTPUTS
from inference.settings import PipelineSettings
from tests.unit.conftest import EKMAN, KeywordEmbedder

KEYWORDS = ["taxes", "hospital", "furious", "vote", "happy"]
TOPICS_YAML = """\
threshold: 0.3
max_topics: 2
topics:
  - key: economy
    description: taxes
  - key: health
    description: hospital
  - key: elections
    description: vote
"""


class KeywordEmotion:
    """Deterministic scores from keywords, with a sentiment head like the default model's:
    'furious' -> anger, 'happy' -> joy, otherwise neutral; 'furious', 'delay' -> negative,
    'happy', 'thanks' -> positive sentiment, otherwise neutral."""

    labels = EKMAN + list(SENTIMENT_OUTPUTS)
    version = "keyword-emotion@1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict_proba(self, texts) -> np.ndarray:
        self.calls.append(list(texts))
        emotion = np.full((len(texts), len(EKMAN)), 0.05, dtype=np.float32)
        sentiment = np.full((len(texts), 3), 0.1, dtype=np.float32)
        for row, polarity, text in zip(emotion, sentiment, texts, strict=True):
            words = text.lower().split()
            row[EKMAN.index("anger")] += 2.0 * words.count("furious")
            row[EKMAN.index("joy")] += 2.0 * words.count("happy")
            row[EKMAN.index("neutral")] += 0.5
            polarity[0] += 2.0 * (words.count("furious") + words.count("delay"))
            polarity[1] += 0.5
            polarity[2] += 2.0 * (words.count("happy") + words.count("thanks"))
        emotion /= emotion.sum(axis=1, keepdims=True)
        sentiment /= sentiment.sum(axis=1, keepdims=True)
        return np.hstack([emotion, sentiment])


def fake_models() -> tuple[KeywordEmotion, KeywordEmbedder]:
    return KeywordEmotion(), KeywordEmbedder(KEYWORDS)


def fake_settings(folder: Path) -> PipelineSettings:
    topics = folder / "topics.yaml"
    topics.write_text(TOPICS_YAML, encoding="utf-8")
    return PipelineSettings(topics_file=topics)


def fake_model_config(folder: Path, *, options: str = "") -> Path:
    """A pipeline settings file choosing the fake models (``source: fake``) with the topics of
    ``TOPICS_YAML``; ``options`` (``", dtype: int8"``) go into both model specs."""
    topics = folder / "topics.yaml"
    topics.write_text(TOPICS_YAML, encoding="utf-8")
    config = folder / "fake-models.yaml"
    config.write_text(
        f"emotion: {{source: fake{options}}}\nembedding: {{local: {{source: fake{options}}}}}\ntopics_file: {topics}\n",
        encoding="utf-8",
    )
    return config
