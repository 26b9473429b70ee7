"""Replaying ``detect`` over past days, to judge the settings before alerts go live."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from spikes.detection import Spike, detect, scorable_end
from spikes.series import HOUR, TopicSeries
from spikes.settings import SpikeSettings


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def backtest(series: Sequence[TopicSeries], *, days: int, now: datetime, settings: SpikeSettings | None = None) -> dict:
    """Spikes per topic per ISO week (local to ``settings.timezone``) over the last ``days`` of
    complete buckets, as one ``detect`` run would find them (its own flags fed forward).

    ``series`` should reach ``days + baseline_days`` back. Returns ``start``/``end`` (ISO, UTC),
    ``timezone``, ``total``, ``weeks`` (every ISO week the range touches), ``per_topic``
    (``{topic: {week: count}}``, every topic and week, zeros included) and ``spikes`` (newest first)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    settings = settings or SpikeSettings()
    zone = settings.zone()
    end = scorable_end(now, grace_minutes=settings.grace_minutes)
    start = end - days * 24 * HOUR
    spikes: list[Spike] = detect(series, start=start, end=end, now=now, settings=settings)
    weeks = sorted({iso_week((start + i * HOUR).astimezone(zone)) for i in range(days * 24)})
    per_topic = {s.topic: dict.fromkeys(weeks, 0) for s in series}
    for spike in spikes:
        per_topic[spike.topic][iso_week(spike.bucket_start.astimezone(zone))] += 1
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "timezone": settings.timezone,
        "total": len(spikes),
        "weeks": weeks,
        "per_topic": per_topic,
        "spikes": spikes,
    }
