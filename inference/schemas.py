"""Result types shared by every entry point (CLI, HTTP, backfill)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SentimentLabel = Literal["positive", "neutral", "negative"]
SENTIMENT_LABEL_VALUES: tuple[SentimentLabel, ...] = ("positive", "neutral", "negative")
UNDETERMINED_LANGUAGE = "und"


def as_sentiment_label(value: str) -> SentimentLabel:
    """``value`` as a sentiment label, or ``ValueError`` (a column read back from storage)."""
    for label in SENTIMENT_LABEL_VALUES:
        if value == label:
            return label
    raise ValueError(f"{value!r} is not a sentiment label ({', '.join(SENTIMENT_LABEL_VALUES)})")


@dataclass(frozen=True, slots=True)
class EmotionResult:
    label: str
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class SentimentResult:
    """``score`` = p(positive) - p(negative) from a sentiment head, or the valence rule's
    score; ``scores`` holds the head's three probabilities (``None`` under the valence rule)."""

    label: SentimentLabel
    score: float
    scores: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "score": self.score}
        if self.scores is not None:
            data["scores"] = dict(self.scores)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentimentResult:
        scores = data.get("scores")
        return cls(
            label=data["label"],
            score=float(data["score"]),
            scores={k: float(v) for k, v in scores.items()} if scores is not None else None,
        )


@dataclass(frozen=True, slots=True)
class TopicScore:
    key: str
    score: float


@dataclass(frozen=True, slots=True)
class MentionResult:
    emotion: EmotionResult
    sentiment: SentimentResult
    topics: list[TopicScore] = field(default_factory=list)
    language: str = UNDETERMINED_LANGUAGE
    language_supported: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MentionResult:
        return cls(
            emotion=EmotionResult(label=data["emotion"]["label"], scores=dict(data["emotion"]["scores"])),
            sentiment=SentimentResult.from_dict(data["sentiment"]),
            topics=[TopicScore(key=t["key"], score=float(t["score"])) for t in data["topics"]],
            language=data.get("language") or UNDETERMINED_LANGUAGE,
            language_supported=bool(data.get("language_supported", True)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "emotion": {"label": self.emotion.label, "scores": dict(self.emotion.scores)},
            "sentiment": self.sentiment.to_dict(),
            "topics": [{"key": t.key, "score": t.score} for t in self.topics],
            "language": self.language,
            "language_supported": self.language_supported,
        }
