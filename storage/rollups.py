"""Hourly rollup arithmetic: what one stored mention adds to (or removes from) its topics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

SENTIMENT_COLUMNS = {"positive": "positive_count", "neutral": "neutral_count", "negative": "negative_count"}


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Contribution:
    """The part of a mention that rollups count (a mention with no topics counts nowhere)."""

    created_at: datetime
    topics: tuple[str, ...]
    sentiment_score: float
    sentiment_label: str
    emotion_label: str
    model_version: str | None = None


class RollupDelta:
    """Signed changes to apply in one upsert; +1 for new results, -1 for replaced or deleted."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, datetime], list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0, 0, 0])
        self.emotions: dict[tuple[str, datetime, str], int] = defaultdict(int)
        self.models: dict[tuple[str, datetime, str], int] = defaultdict(int)

    def add(self, contribution: Contribution, sign: int = 1) -> None:
        bucket = hour_of(contribution.created_at)
        score = contribution.sentiment_score
        label_slot = 3 + list(SENTIMENT_COLUMNS).index(contribution.sentiment_label)
        for topic in contribution.topics:
            row = self.totals[(topic, bucket)]
            row[0] += sign
            row[1] += sign * score
            row[2] += sign * score * score
            row[label_slot] += sign
            self.emotions[(topic, bucket, contribution.emotion_label)] += sign
            self.models[(topic, bucket, contribution.model_version or "")] += sign

    @property
    def topics(self) -> set[str]:
        return {topic for topic, _ in self.totals}

    def rollup_rows(self) -> list[dict]:
        rows = []
        for (topic, bucket), (count, total, squares, pos, neu, neg) in sorted(self.totals.items()):
            if count == 0 and pos == 0 and neu == 0 and neg == 0 and total == 0:
                continue
            rows.append(
                {
                    "topic_key": topic,
                    "bucket_start": bucket,
                    "count": count,
                    "sentiment_sum": total,
                    "sentiment_sq_sum": squares,
                    "positive_count": pos,
                    "neutral_count": neu,
                    "negative_count": neg,
                }
            )
        return rows

    def emotion_rows(self) -> list[dict]:
        return [
            {"topic_key": topic, "bucket_start": bucket, "emotion_label": label, "count": count}
            for (topic, bucket, label), count in sorted(self.emotions.items())
            if count != 0
        ]

    def model_rows(self) -> list[dict]:
        """Mentions per model version per topic and hour (``topic_model_rollups``): spike
        detection mutes mix shifts where versions mix, without reading mentions."""
        return [
            {"topic_key": topic, "bucket_start": bucket, "model_version": version, "count": count}
            for (topic, bucket, version), count in sorted(self.models.items())
            if count != 0
        ]
