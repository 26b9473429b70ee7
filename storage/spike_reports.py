"""Spikes over the stored rollups, with what explains them: storage's half of the detector.

``spikes`` is the pure detector; this module reads its inputs (``storage.spike_queries``)
and turns its ``Spike`` records into the typed answers of ``moodwire spikes`` and
``GET /v1/spikes`` (``storage.answers``). ``storage.reads.spikes`` caches them.

Why a warm-up: ``detect`` gives a bucket the same verdict whatever range asks only if it knows
the flags of the ``baseline_days`` before the range (a past spike must stay out of later
baselines). Nothing stores flags yet, so every request scores ``baseline_days`` more days first
and keeps only the spikes of the range it was asked for: a surge three days before ``since`` is
still kept out of the baselines inside the range. The warm-up's own first days lack their
earlier flags; that can only matter when spikes follow each other within a few weeks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from spikes import Scoring, Spike, SpikeSettings, backtest, score
from spikes.series import HOUR, ceil_hour
from spikes.settings import SPIKE_KIND
from spikes.terms import MAX_TEXTS, top_terms
from storage import spike_queries
from storage.answers import EmotionMove, Explanation, MentionSample, SourceCount, SpikeFields, Term
from storage.errors import InvalidSpikeKindError, SpikeQueryError, database_errors
from storage.shares import ShareSums, share_totals

DAY = timedelta(days=1)
MENTIONS_SHOWN = 5
SOURCES_SHOWN = 5
MAX_BACKTEST_DAYS = 366


def check_filters(*, kind: str | None, min_severity: int | None) -> None:
    """Validate the filters before anything touches the database."""
    if kind is not None and not SPIKE_KIND.fullmatch(kind):
        raise InvalidSpikeKindError(
            f"kind must be volume, sentiment:negative or emotion:<label> (e.g. emotion:anger), got {kind!r}"
        )
    if min_severity is not None and not 1 <= min_severity <= 10:
        raise SpikeQueryError(f"min_severity must be between 1 and 10, got {min_severity}", param="min_severity")


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def score_range(engine: Engine, *, settings: SpikeSettings, since: datetime, until: datetime, now: datetime) -> Scoring:
    """Every topic's spikes and expected counts in the complete buckets of ``[since, until)``,
    spikes newest first, after a warm-up of ``baseline_days`` (module docstring). Every topic is
    read: the Benjamini-Hochberg family of a bucket is all of its tests, so filtering by topic
    happens afterwards."""
    baseline = settings.baseline_days * DAY
    warm_from = since - baseline
    with database_errors(what="reading the rollups for spike detection"), engine.connect() as connection:
        series = spike_queries.topic_series(
            connection, since=_midnight(warm_from) - baseline, until=until, mute_since=_midnight(since) - baseline
        )
    found = score(series, start=warm_from, end=until, now=now, settings=settings)
    first = ceil_hour(since)
    skip = max(0, int((first - found.start) / HOUR))
    return Scoring(
        spikes=[s for s in found.spikes if s.bucket_start >= since],
        topics=found.topics,
        start=max(first, found.start),
        expected=found.expected[:, skip:],
        dispersion=found.dispersion[:, skip:],
    )


def _moved_most(bucket: ShareSums, baseline: ShareSums) -> EmotionMove | None:
    """The emotion whose estimated share moved most between the baseline and the bucket."""
    now, before = bucket.estimate("emotion"), baseline.estimate("emotion")
    if now is None:
        return None
    base = before.shares if before is not None else {}
    moves = []
    for label in sorted(set(now.shares) | set(base)):
        share, base_share = now.shares.get(label, 0.0), base.get(label, 0.0)
        moves.append((-abs(share - base_share), label, share, base_share))
    _, label, share, base_share = min(moves)
    return EmotionMove(label=label, share=round(share, 4), baseline_share=round(base_share, 4))


def explain(engine: Engine, *, settings: SpikeSettings, topic: str, bucket_start: datetime) -> Explanation:
    """What lies behind a topic's bucket: its top sources, the emotion whose share moved most
    against the baseline window, up to five representative mentions and the top terms of its
    texts against the baseline's (samples of at most ``MAX_TEXTS`` each)."""
    bucket_end = bucket_start + timedelta(hours=1)
    base_from = bucket_start - settings.baseline_days * DAY
    base_to = bucket_start - timedelta(hours=settings.guard_hours)
    bucket = {"since": bucket_start, "until": bucket_end}
    base = {"since": base_from, "until": base_to}
    with database_errors(what="explaining a spike"), engine.connect() as connection:
        sources = spike_queries.top_sources(connection, topic=topic, **bucket, limit=SOURCES_SHOWN)
        moved = _moved_most(
            share_totals(connection, topic=topic, **bucket), share_totals(connection, topic=topic, **base)
        )
        mentions = spike_queries.representative_mentions(connection, topic=topic, **bucket, limit=MENTIONS_SHOWN)
        spike_texts = spike_queries.text_sample(connection, topic=topic, **bucket, limit=MAX_TEXTS)
        base_texts = spike_queries.text_sample(connection, topic=topic, **base, limit=MAX_TEXTS)
    return Explanation(
        top_sources=[SourceCount(**source) for source in sources],
        emotion_moved_most=moved,
        mentions=[MentionSample(**mention) for mention in mentions],
        top_terms=[Term(**term) for term in top_terms(spike_texts, base_texts)],
    )


def spike_fields(spike: Spike) -> SpikeFields:
    """The answer's fields of one spike; ``p_value`` carries the adjusted ``q_value`` (the
    number the verdict was made on)."""
    return SpikeFields(
        topic=spike.topic,
        kind=spike.kind,
        bucket_start=spike.bucket_start.isoformat(),
        bucket_end=spike.bucket_end.isoformat(),
        observed=spike.observed,
        expected=round(spike.expected, 4),
        lift=round(spike.lift, 4),
        p_value=spike.q_value,
        severity=spike.severity,
    )


def backtest_range(engine: Engine, *, settings: SpikeSettings, days: int, now: datetime) -> dict:
    """``spikes.backtest`` over the stored rollups: spikes per topic per week over the
    last ``days`` days of complete buckets, to tune ``alpha``, ``min_count`` and ``min_lift``."""
    if not 1 <= days <= MAX_BACKTEST_DAYS:
        raise SpikeQueryError(f"days must be between 1 and {MAX_BACKTEST_DAYS}, got {days}", param="days")
    end = now.astimezone(UTC)
    first = _midnight(end - (days + 1) * DAY)
    baseline = settings.baseline_days * DAY
    with database_errors(what="reading the rollups for the backtest"), engine.connect() as connection:
        series = spike_queries.topic_series(connection, since=first - baseline, until=end, mute_since=first - baseline)
    report = backtest(series, days=days, now=now, settings=settings)
    return report | {"spikes": [spike_fields(s).model_dump(mode="json") for s in report["spikes"]]}
