"""Reported shares from the share rollups: sums of contributions over any hours, then fractions.

``topic_share_rollups`` holds summed share contributions per hour (``storage.rollups``); a
bucket, a day, the baseline window of a spike or a whole range sums them and turns the sums
into fractions with ``inference.share_adjustment.estimate_shares``. Label counts stay beside
them for what counts labels (the mix-shift spike tests, the listings' filters).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from inference.heads import SENTIMENT_LABELS
from inference.share_adjustment import OUTPUTS, ShareEstimate, estimate_shares, estimator_name
from storage.models import TopicRollup, TopicShareRollup
from storage.times import utc_naive


def _sums() -> defaultdict[str, list[float]]:
    return defaultdict(lambda: [0.0, 0.0])


@dataclass(slots=True)
class ShareSums:
    """Summed share contributions of a set of counted mentions."""

    count: int = 0
    sentiment_adjusted: int = 0
    emotion_adjusted: int = 0
    sums: dict[str, dict[str, list[float]]] = field(default_factory=lambda: {o: _sums() for o in OUTPUTS})

    def add_counts(self, count: int, sentiment_adjusted: int, emotion_adjusted: int) -> None:
        self.count += int(count)
        self.sentiment_adjusted += int(sentiment_adjusted or 0)
        self.emotion_adjusted += int(emotion_adjusted or 0)

    def add_share(self, output: str, label: str, total: float, squares: float) -> None:
        if output not in self.sums:
            return  # an output a later moodwire added: not shown by this one
        sums = self.sums[output][label]
        sums[0] += float(total)
        sums[1] += float(squares)

    def estimate(self, output: str) -> ShareEstimate | None:
        sums = self.sums[output]
        labels = SENTIMENT_LABELS if output == "sentiment" else ()
        return estimate_shares(
            {label: s for label, (s, _) in sums.items()},
            {label: q for label, (_, q) in sums.items()},
            self.count,
            labels=labels,
        )

    @property
    def estimator(self) -> str:
        return estimator_name(self.count, self.sentiment_adjusted, self.emotion_adjusted)


def share_rollup_rows(connection: Connection, *, topic: str | None, since: datetime, until: datetime) -> list[tuple]:
    """(topic_key, bucket_start, output, label, share_sum, share_sq_sum), by hour; every topic
    when ``topic`` is None."""
    conditions = [TopicShareRollup.bucket_start >= since, TopicShareRollup.bucket_start < until]
    if topic is not None:
        conditions.append(TopicShareRollup.topic_key == topic)
    statement = (
        select(
            TopicShareRollup.topic_key,
            TopicShareRollup.bucket_start,
            TopicShareRollup.output,
            TopicShareRollup.label,
            TopicShareRollup.share_sum,
            TopicShareRollup.share_sq_sum,
        )
        .where(*conditions)
        .order_by(TopicShareRollup.bucket_start)
    )
    return list(connection.execute(statement).tuples().all())


def share_totals(connection: Connection, *, topic: str, since: datetime, until: datetime) -> ShareSums:
    """A topic's share sums over ``[since, until)``: two grouped queries over the rollups."""
    lo, hi = utc_naive(since), utc_naive(until)
    out = ShareSums()
    counts = connection.execute(
        select(
            func.coalesce(func.sum(TopicRollup.count), 0),
            func.coalesce(func.sum(TopicRollup.sentiment_adjusted_count), 0),
            func.coalesce(func.sum(TopicRollup.emotion_adjusted_count), 0),
        ).where(TopicRollup.topic_key == topic, TopicRollup.bucket_start >= lo, TopicRollup.bucket_start < hi)
    ).one()
    out.add_counts(*counts)
    rows = connection.execute(
        select(
            TopicShareRollup.output,
            TopicShareRollup.label,
            func.sum(TopicShareRollup.share_sum),
            func.sum(TopicShareRollup.share_sq_sum),
        )
        .where(
            TopicShareRollup.topic_key == topic, TopicShareRollup.bucket_start >= lo, TopicShareRollup.bucket_start < hi
        )
        .group_by(TopicShareRollup.output, TopicShareRollup.label)
    )
    for output, label, total, squares in rows:
        out.add_share(output, label, total or 0.0, squares or 0.0)
    return out


def share_sums_by_topic(connection: Connection, *, since: datetime, until: datetime) -> dict[str, ShareSums]:
    """Every topic's share sums over ``[since, until)`` (the overview), two grouped queries."""
    lo, hi = utc_naive(since), utc_naive(until)
    out: dict[str, ShareSums] = {}
    counts = connection.execute(
        select(
            TopicRollup.topic_key,
            func.sum(TopicRollup.count),
            func.sum(TopicRollup.sentiment_adjusted_count),
            func.sum(TopicRollup.emotion_adjusted_count),
        )
        .where(TopicRollup.bucket_start >= lo, TopicRollup.bucket_start < hi)
        .group_by(TopicRollup.topic_key)
    )
    for topic, count, sentiment_adjusted, emotion_adjusted in counts:
        out[topic] = ShareSums()
        out[topic].add_counts(count or 0, sentiment_adjusted or 0, emotion_adjusted or 0)
    rows = connection.execute(
        select(
            TopicShareRollup.topic_key,
            TopicShareRollup.output,
            TopicShareRollup.label,
            func.sum(TopicShareRollup.share_sum),
            func.sum(TopicShareRollup.share_sq_sum),
        )
        .where(TopicShareRollup.bucket_start >= lo, TopicShareRollup.bucket_start < hi)
        .group_by(TopicShareRollup.topic_key, TopicShareRollup.output, TopicShareRollup.label)
    )
    for topic, output, label, total, squares in rows:
        if topic in out:
            out[topic].add_share(output, label, total or 0.0, squares or 0.0)
    return out
