"""The analyst page's data: every topic's overview row and the expected band of a bucket.
Both come from the hourly rollups and the spike scoring, never from mentions
(``storage.reads.page`` assembles the answers).

Data functions take a connection; the assembly is pure, over plain arrays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Connection, func, select

from spikes import Spike
from storage.answers import EmotionMove, OverviewRow, RunningHour, SpikeBadge
from storage.models import TopicEmotionRollup, TopicRollup
from storage.shares import ShareSums
from storage.times import utc_naive

HOUR = timedelta(hours=1)
SPARK_HOURS = 7 * 24
NEUTRAL = "neutral"
BASELINE_HOURS = 8 * 24  # the overview's emotion baseline: the 7 days before the last 24 hours
BAND_QUANTILES = (0.025, 0.975)  # the expected band: 95 % of counts in a usual hour


def hourly_rollups(connection: Connection, *, since: datetime, until: datetime) -> dict[str, dict[datetime, tuple]]:
    """``{topic: {hour (aware UTC): (count, positive, negative)}}`` for ``[since, until)``."""
    rows = connection.execute(
        select(
            TopicRollup.topic_key,
            TopicRollup.bucket_start,
            TopicRollup.count,
            TopicRollup.positive_count,
            TopicRollup.negative_count,
        ).where(TopicRollup.bucket_start >= utc_naive(since), TopicRollup.bucket_start < utc_naive(until))
    )
    out: dict[str, dict[datetime, tuple]] = defaultdict(dict)
    for topic, hour, count, positive, negative in rows:
        out[topic][hour.replace(tzinfo=UTC)] = (count, positive, negative)
    return out


def emotion_totals(connection: Connection, *, since: datetime, until: datetime) -> dict[str, dict[str, int]]:
    """``{topic: {label: mentions}}`` over ``[since, until)``, one query for every topic."""
    rows = connection.execute(
        select(TopicEmotionRollup.topic_key, TopicEmotionRollup.emotion_label, func.sum(TopicEmotionRollup.count))
        .where(TopicEmotionRollup.bucket_start >= utc_naive(since), TopicEmotionRollup.bucket_start < utc_naive(until))
        .group_by(TopicEmotionRollup.topic_key, TopicEmotionRollup.emotion_label)
    )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for topic, label, count in rows:
        out[topic][label] = int(count)
    return out


def emotion_above_baseline(recent: ShareSums | None, baseline: ShareSums | None) -> EmotionMove | None:
    """The emotion whose estimated share (``inference.share_adjustment.estimate_shares``) is
    most above its baseline share; None when no emotion's share is above, or a window has no
    mentions. ``neutral`` is not an emotion here: more neutral mentions is less emotion."""
    now = recent.estimate("emotion") if recent is not None else None
    before = baseline.estimate("emotion") if baseline is not None else None
    if now is None or before is None:
        return None
    rises = [(now.shares[label] - before.shares.get(label, 0.0), label) for label in sorted(now.shares)]
    rises = [(rise, label) for rise, label in rises if label != NEUTRAL]
    if not rises:
        return None
    rise, label = max(rises)
    if rise <= 0:
        return None
    return EmotionMove(label=label, share=now.shares[label], baseline_share=round(before.shares.get(label, 0.0), 4))


def _net_sentiment(shares: ShareSums) -> float | None:
    """Estimated positive share minus estimated negative share."""
    found = shares.estimate("sentiment")
    if found is None:
        return None
    return round(found.shares.get("positive", 0.0) - found.shares.get("negative", 0.0), 4)


def _spike_badge(spikes: Sequence[Spike]) -> SpikeBadge | None:
    if not spikes:
        return None
    top = max(spikes, key=lambda s: (s.severity, s.bucket_start))
    return SpikeBadge(
        severity=top.severity, kind=top.kind, bucket_start=top.bucket_start.isoformat(), count=len(spikes)
    )


def overview_row(
    topic: str,
    *,
    hours: dict[datetime, tuple],
    emotions: dict[str, int],
    shares: ShareSums | None = None,
    emotion_move: EmotionMove | None = None,
    complete: datetime,
    expected_24h: float | None,
    spikes: Sequence[Spike],
    configured: bool,
) -> OverviewRow:
    """One topic's row: volumes of the last 24 and 7 x 24 complete hours, the hourly sparkline
    of the week, the partial running hour(s) apart, net sentiment and the dominant emotion of
    the last 24 hours, the emotion most above its baseline share (``emotion_move``), the
    change against the expected count, and the highest spike."""
    week = [hours.get(complete - (SPARK_HOURS - i) * HOUR, (0, 0, 0)) for i in range(SPARK_HOURS)]
    day = week[-24:]
    volume_24h = sum(c for c, _, _ in day)
    positive, negative = sum(p for _, p, _ in day), sum(n for _, _, n in day)
    partial = sorted((h, v[0]) for h, v in hours.items() if h >= complete)
    counted_net = round((positive - negative) / volume_24h, 4) if volume_24h else None
    sentiment = shares.estimate("sentiment") if shares is not None else None
    emotion = shares.estimate("emotion") if shares is not None else None
    change = None
    if expected_24h is not None and expected_24h > 0:
        change = round(volume_24h / expected_24h - 1.0, 4)
    return OverviewRow(
        key=topic,
        configured=configured,
        volume_24h=volume_24h,
        volume_7d=sum(c for c, _, _ in week),
        sparkline=[c for c, _, _ in week],
        running=[RunningHour(bucket_start=h.isoformat(), count=c) for h, c in partial],
        net_sentiment=_net_sentiment(shares) if shares is not None else counted_net,
        dominant_emotion=max(sorted(emotions), key=lambda label: emotions[label]) if emotions else None,
        emotion_above_baseline=emotion_move,
        sentiment_share=sentiment.shares if sentiment else None,
        emotion_share=emotion.shares if emotion else None,
        share_estimator=shares.estimator if shares is not None else "counts",
        expected_24h=round(expected_24h, 3) if expected_24h is not None else None,
        change=change,
        spike=_spike_badge(spikes),
    )


def expected_band(expected: np.ndarray, dispersion: np.ndarray) -> tuple[float, float, float] | None:
    """The expected count of a bucket made of the given scored hours, with a 95 % band:
    negative-binomial quantiles for one hour, a normal approximation for a sum of hours.
    None when no hour of the bucket was scored."""
    scored = ~np.isnan(expected)
    if not scored.any():
        return None
    mu, phi = expected[scored], dispersion[scored]
    total = float(mu.sum())
    if mu.size == 1:
        from scipy import stats

        m, a = float(mu[0]), float(phi[0])
        if a > 1e-9:
            n = 1.0 / a
            low, high = np.asarray(stats.nbinom.ppf(BAND_QUANTILES, n, n / (n + m)), dtype=float)
        else:
            low, high = np.asarray(stats.poisson.ppf(BAND_QUANTILES, m), dtype=float)
        return total, float(low), float(high)
    sd = float(np.sqrt((mu + phi * mu**2).sum()))
    return total, max(0.0, total - 1.96 * sd), total + 1.96 * sd
