"""The analysts' page's answers: every topic in one overview, and a topic's timeline with the
expected band. Both read the hourly rollups and the cached spike scoring, never mentions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from spikes import Scoring
from storage import overview, shares, spike_reports
from storage.answers import OverviewAnswer, TimelineAnswer, TimelineBucket
from storage.errors import database_errors
from storage.query_types import RangeQuery
from storage.reads.context import ReadContext
from storage.reads.spikes import SpikeReads
from storage.reads.topics import TopicReads


class PageReads:
    def __init__(self, context: ReadContext, *, topics: TopicReads, spikes: SpikeReads) -> None:
        self.engine, self.catalog, self.clock = context.engine, context.catalog, context.clock
        self.topics, self.spikes = topics, spikes

    def overview(self) -> OverviewAnswer:
        """Every topic in one answer (``storage.overview.overview_row``): two rollup queries
        and the cached scoring of the last 24 complete hours; mentions are never read."""
        now = self.clock()
        complete = self.spikes.complete_until(now)
        scoring = self.spikes.scoring(complete - timedelta(hours=24), complete)
        with database_errors(what="reading the overview"), self.engine.connect() as connection:
            hours = overview.hourly_rollups(
                connection,
                since=complete - timedelta(hours=overview.SPARK_HOURS),
                until=now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1),
            )
            emotions = overview.emotion_totals(connection, since=complete - timedelta(hours=24), until=complete)
            day_start = complete - timedelta(hours=24)
            recent = shares.share_sums_by_topic(connection, since=day_start, until=complete)
            baseline = shares.share_sums_by_topic(
                connection, since=complete - timedelta(hours=overview.BASELINE_HOURS), until=day_start
            )
        row_of = {topic: k for k, topic in enumerate(scoring.topics)}
        rows = []
        for topic in sorted(self.catalog.configured | set(hours) | set(row_of)):
            k = row_of.get(topic)
            expected = scoring.expected[k] if k is not None else None
            expected_24h = float(np.nansum(expected)) if expected is not None and not np.isnan(expected).all() else None
            rows.append(
                overview.overview_row(
                    topic,
                    hours=hours.get(topic, {}),
                    emotions=emotions.get(topic, {}),
                    shares=recent.get(topic),
                    emotion_move=overview.emotion_above_baseline(recent.get(topic), baseline.get(topic)),
                    complete=complete,
                    expected_24h=expected_24h,
                    spikes=[s for s in scoring.spikes if s.topic == topic],
                    configured=topic in self.catalog.configured,
                )
            )
        return OverviewAnswer(
            generated_at=now.astimezone(UTC).isoformat(), complete_until=complete.isoformat(), topics=rows
        )

    def timeline(self, query: RangeQuery) -> TimelineAnswer:
        """``aggregate`` with, per bucket, whether it is complete and its expected count and
        95 % band (from the detector's fit), plus the topic's spikes in the range: the topic
        view's one call. The running bucket is marked ``complete: false``."""
        answer = self.topics.aggregate(query)
        complete = self.spikes.complete_until()
        first = datetime.fromisoformat(answer.buckets[0].start) if answer.buckets else complete
        until = datetime.fromisoformat(answer.until)
        scored_until = min(until, complete)
        buckets = [
            TimelineBucket(**b.model_dump(), complete=False, expected=None, expected_low=None, expected_high=None)
            for b in answer.buckets
        ]
        spikes: list = []
        if first < scored_until:
            scoring = self.spikes.scoring(first.astimezone(UTC), scored_until)
            spikes = [s for s in scoring.spikes if s.topic == query.topic]
            ends = [datetime.fromisoformat(b.start) for b in buckets[1:]] + [until]
            for bucket, end in zip(buckets, ends, strict=True):
                self._band(bucket, end, scoring, query.topic, complete)
        return TimelineAnswer(
            **answer.model_dump(exclude={"buckets"}),
            complete_until=complete.isoformat(),
            buckets=buckets,
            spikes=[spike_reports.spike_fields(s) for s in spikes],
        )

    @staticmethod
    def _band(bucket: TimelineBucket, end: datetime, scoring: Scoring, topic: str, complete: datetime) -> None:
        """Set a bucket's ``complete`` flag and, where its hours were scored, its expected
        count and 95 % band."""
        k = scoring.topics.index(topic) if topic in scoring.topics else None
        start = datetime.fromisoformat(bucket.start)
        lo = max(0, int((start - scoring.start) / timedelta(hours=1)))
        hi = max(lo, min(scoring.hours(), int((end - scoring.start) / timedelta(hours=1))))
        band = (
            overview.expected_band(scoring.expected[k, lo:hi], scoring.dispersion[k, lo:hi]) if k is not None else None
        )
        bucket.complete = end <= complete
        if band:
            bucket.expected, bucket.expected_low, bucket.expected_high = (round(v, 3) for v in band)
