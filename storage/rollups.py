"""Hourly rollup arithmetic: what one stored mention adds to (or removes from) its topics.

Beside the label counts, each mention adds its share contributions (``topic_share_rollups``:
``inference.share_adjustment``): the adjusted vector when its model version recorded a
confusion matrix and the mention has the probabilities, else its top label as a count. A
delete or re-processing subtracts the same vector, computed again from the stored row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from inference.share_adjustment import LabelAdjustment, ShareAdjustment, adjustment_for

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
    emotion_scores: Mapping[str, float] | None = None
    sentiment_scores: Mapping[str, float] | None = None  # None: the valence rule scored it


AdjustmentLookup = Callable[[str | None], ShareAdjustment | None]


def share_vector(
    adjustment: LabelAdjustment | None, scores: Mapping[str, float] | None, label: str
) -> tuple[dict[str, float], bool]:
    """One output's share contribution and whether it is adjusted (else the top label, one-hot)."""
    if adjustment is not None and scores:
        adjusted = adjustment.contribution(scores)
        if adjusted is not None:
            return adjusted, True
    return {label: 1.0}, False


class RollupDelta:
    """Signed changes to apply in one upsert; +1 for new results, -1 for replaced or deleted.

    ``adjustments`` finds a model version's share correction (the manifests' by default)."""

    def __init__(self, adjustments: AdjustmentLookup = adjustment_for) -> None:
        self.adjustments = adjustments
        # count, sentiment sum, squares, positive, neutral, negative, sentiment adjusted, emotion adjusted
        self.totals: dict[tuple[str, datetime], list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0, 0, 0, 0, 0])
        self.emotions: dict[tuple[str, datetime, str], int] = defaultdict(int)
        self.models: dict[tuple[str, datetime, str], int] = defaultdict(int)
        self.shares: dict[tuple[str, datetime, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])

    def add(self, contribution: Contribution, sign: int = 1) -> None:
        bucket = hour_of(contribution.created_at)
        score = contribution.sentiment_score
        label_slot = 3 + list(SENTIMENT_COLUMNS).index(contribution.sentiment_label)
        adjustment = self.adjustments(contribution.model_version)
        sentiment, sentiment_adjusted = share_vector(
            adjustment.sentiment if adjustment else None, contribution.sentiment_scores, contribution.sentiment_label
        )
        emotion, emotion_adjusted = share_vector(
            adjustment.emotion if adjustment else None, contribution.emotion_scores, contribution.emotion_label
        )
        for topic in contribution.topics:
            row = self.totals[(topic, bucket)]
            row[0] += sign
            row[1] += sign * score
            row[2] += sign * score * score
            row[label_slot] += sign
            row[6] += sign * sentiment_adjusted
            row[7] += sign * emotion_adjusted
            self.emotions[(topic, bucket, contribution.emotion_label)] += sign
            self.models[(topic, bucket, contribution.model_version or "")] += sign
            for output, vector in (("sentiment", sentiment), ("emotion", emotion)):
                for label, value in vector.items():
                    sums = self.shares[(topic, bucket, output, label)]
                    sums[0] += sign * value
                    sums[1] += sign * value * value

    @property
    def topics(self) -> set[str]:
        return {topic for topic, _ in self.totals}

    def rollup_rows(self) -> list[dict]:
        rows = []
        for (topic, bucket), (count, total, squares, pos, neu, neg, s_adj, e_adj) in sorted(self.totals.items()):
            if count == 0 and pos == 0 and neu == 0 and neg == 0 and total == 0 and s_adj == 0 and e_adj == 0:
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
                    "sentiment_adjusted_count": s_adj,
                    "emotion_adjusted_count": e_adj,
                }
            )
        return rows

    def share_rows(self) -> list[dict]:
        """Summed share contributions and their squares per topic, hour, output and label."""
        return [
            {
                "topic_key": topic,
                "bucket_start": bucket,
                "output": output,
                "label": label,
                "share_sum": total,
                "share_sq_sum": squares,
            }
            for (topic, bucket, output, label), (total, squares) in sorted(self.shares.items())
            if total != 0 or squares != 0
        ]

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
