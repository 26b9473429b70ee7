"""Result types shared by every entry point (CLI, HTTP, backfill)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SentimentLabel = Literal["positive", "neutral", "negative"]


@dataclass(frozen=True, slots=True)
class EmotionResult:
    label: str
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class SentimentResult:
    label: SentimentLabel
    score: float


@dataclass(frozen=True, slots=True)
class TopicScore:
    key: str
    score: float


@dataclass(frozen=True, slots=True)
class MentionResult:
    emotion: EmotionResult
    sentiment: SentimentResult
    topics: list[TopicScore] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MentionResult:
        return cls(
            emotion=EmotionResult(label=data["emotion"]["label"], scores=dict(data["emotion"]["scores"])),
            sentiment=SentimentResult(label=data["sentiment"]["label"], score=float(data["sentiment"]["score"])),
            topics=[TopicScore(key=t["key"], score=float(t["score"])) for t in data["topics"]],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "emotion": {"label": self.emotion.label, "scores": dict(self.emotion.scores)},
            "sentiment": {"label": self.sentiment.label, "score": self.sentiment.score},
            "topics": [{"key": t.key, "score": t.score} for t in self.topics],
        }
