"""Topic files and zero-shot, multi-label topic scoring against prototype embeddings.

A topic's prototype is the normalised mean of several views of it: its description, each
phrase of the description, its key read as words, and its examples. Single-phrase
descriptions are brittle: "Jobs, inflation, prices, taxes" embeds far from a text that
only talks about taxes, while the phrase "taxes" is close to it.

Scores are *centred* cosines: the mean of all topics' views is subtracted from texts and
prototypes before comparing. Sentence embeddings share a large common direction ("this is
a political text"), which makes every topic look somewhat similar to every text; removing
it widens the margin between the right topic and the rest (on our news-style check the
margin grew by a third) and puts unrelated topics near or below zero, so one threshold
works across topic files. With fewer than three topics there is no meaningful common
direction and plain cosine is used.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inference.config_files import ConfigError, describe_validation_error, read_yaml_mapping
from inference.interfaces import TextEmbedder, l2_normalise
from inference.schemas import TopicScore

MIN_TOPICS_TO_CENTRE = 3
KEY_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class TopicSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    description: str = Field(min_length=1)
    examples: list[str] = []
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class TopicFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.3, ge=-1.0, le=1.0)
    max_topics: int = Field(default=3, ge=1)
    topics: list[TopicSpec] = Field(min_length=1)

    @field_validator("topics")
    @classmethod
    def _unique_keys(cls, topics: list[TopicSpec]) -> list[TopicSpec]:
        seen: set[str] = set()
        for topic in topics:
            if topic.key in seen:
                raise ValueError(f"topic key '{topic.key}' appears more than once")
            seen.add(topic.key)
        return topics


def load_topic_file(path: Path) -> TopicFile:
    """Validate a topic file; errors name the file, the topic key and the field."""
    data = read_yaml_mapping(path)
    try:
        return TopicFile.model_validate(data)
    except ValidationError as exc:
        message = describe_validation_error(path, exc)
        topics = data.get("topics") if isinstance(data.get("topics"), list) else []

        # "topics.2.description" -> "topic 'economy' (topics.2): 'description' is required"
        def name(match: re.Match) -> str:
            index = int(match.group(1))
            key = topics[index].get("key") if index < len(topics) and isinstance(topics[index], dict) else None
            return f"topic '{key}' (topics.{index}) " if key else f"topics.{index} "

        message = re.sub(r"'topics\.(\d+)\.", lambda m: name(m) + "'", message)
        raise ConfigError(message) from None


def prototype_texts(topic: TopicSpec) -> list[str]:
    words = topic.key.replace("_", " ").replace("-", " ")
    phrases = [p.strip(" .") for p in re.split(r"[,;:]|\band\b", topic.description) if len(p.strip(" .")) > 2]
    return [topic.description, words, *phrases, *topic.examples]


class TopicScorer:
    """Cosine similarity between text embeddings and one prototype per topic."""

    def __init__(self, topic_file: TopicFile, embedder: TextEmbedder) -> None:
        self.topic_file = topic_file
        self.keys = [t.key for t in topic_file.topics]
        self.thresholds = np.array(
            [t.threshold if t.threshold is not None else topic_file.threshold for t in topic_file.topics],
            dtype=np.float32,
        )
        texts, owners = [], []
        for index, topic in enumerate(topic_file.topics):
            views = prototype_texts(topic)
            texts.extend(views)
            owners.extend([index] * len(views))
        view_vectors = embedder.embed(texts)
        sums = np.zeros((len(self.keys), view_vectors.shape[1]), dtype=np.float64)
        np.add.at(sums, np.asarray(owners), view_vectors)
        self.centre = view_vectors.mean(axis=0) if len(self.keys) >= MIN_TOPICS_TO_CENTRE else 0.0
        self.prototypes = l2_normalise(l2_normalise(sums) - self.centre)

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Centred cosine similarity, ``(len(embeddings), len(topics))``."""
        return l2_normalise(embeddings - self.centre) @ self.prototypes.T

    def select(self, scores: np.ndarray) -> list[list[TopicScore]]:
        """Topics above threshold (a threshold <= 0 means no cut-off), best first, capped."""
        results = []
        cap = self.topic_file.max_topics
        for row in scores:
            order = np.argsort(-row, kind="stable")
            picked = [
                TopicScore(key=self.keys[i], score=round(float(row[i]), 6))
                for i in order
                if self.thresholds[i] <= 0 or row[i] >= self.thresholds[i]
            ]
            results.append(picked[:cap])
        return results
