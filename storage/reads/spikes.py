"""Spikes and their explanations over the stored rollups, cached.

Detection always runs over every topic (a bucket's Benjamini-Hochberg family is all of its
tests, so a verdict is the same whichever topic, kind or range is asked for); filters apply to
its result. A scoring is kept until a write lands in a scored hour (late data; writes to the
running hour leave it be), each explanation per (topic, bucket) until a write to that topic
(``storage.read_cache``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from spikes import Scoring, Spike, scorable_end
from storage import spike_reports
from storage.answers import Explanation, SpikeAnswer, SpikesAnswer
from storage.errors import InvalidRangeError
from storage.query_types import SpikeQuery
from storage.reads.context import ReadContext
from storage.times import aware


class SpikeReads:
    def __init__(self, context: ReadContext) -> None:
        self.engine, self.cache, self.settings = context.engine, context.cache, context.settings
        self.catalog, self.clock = context.catalog, context.clock

    def complete_until(self, now: datetime | None = None) -> datetime:
        """Exclusive end of the hours complete now (``grace_minutes`` after they end)."""
        return scorable_end(now or self.clock(), grace_minutes=self.settings.spikes.grace_minutes)

    def scoring(self, since: datetime | None, until: datetime | None) -> Scoring:
        """Every topic's ``Scoring`` of the complete hours of ``[since, until)`` (default: the 7
        days up to the last complete hour), from the cache while no write reached those hours."""
        now = self.clock()
        complete = self.complete_until(now)
        until = aware(until, complete, "until")
        since = aware(since, until - timedelta(days=7), "since")
        if since >= until:
            raise InvalidRangeError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
        if (until - since) > timedelta(hours=self.settings.max_buckets):
            raise InvalidRangeError(f"the range spans more than {self.settings.max_buckets} hours; narrow since/until")
        settings = self.settings.spikes
        return self.cache.get_or_compute(
            ("scores", since, until, complete),
            lambda: spike_reports.score_range(self.engine, settings=settings, since=since, until=until, now=now),
        )

    def explain(self, spike: Spike) -> Explanation:
        """What lies behind a spike's bucket (``spike_reports.explain``), cached per topic and hour."""
        return self.cache.get_or_compute(
            ("spike_explanation", spike.topic, spike.bucket_start),
            lambda: spike_reports.explain(
                self.engine, settings=self.settings.spikes, topic=spike.topic, bucket_start=spike.bucket_start
            ),
        )

    def answer(self, spike: Spike) -> SpikeAnswer:
        """A spike with its explanation, as ``GET /v1/spikes`` lists it."""
        fields = spike_reports.spike_fields(spike)
        return SpikeAnswer(**fields.model_dump(), explanation=self.explain(spike))

    def spikes(self, query: SpikeQuery) -> SpikesAnswer:
        """Spikes in the complete hourly buckets of ``[since, until)``, newest first, each
        explained; the detector (numpy, scipy) loads on first use, not with the service."""
        spike_reports.check_filters(kind=query.kind, min_severity=query.min_severity)
        if query.topic is not None:
            self.catalog.check(query.topic)
        chosen = [
            s
            for s in self.scoring(query.since, query.until).spikes
            if (query.topic is None or s.topic == query.topic)
            and (query.kind is None or s.kind == query.kind)
            and (query.min_severity is None or s.severity >= query.min_severity)
        ]
        return SpikesAnswer(spikes=[self.answer(s) for s in chosen])

    def backtest(self, days: int = 60) -> dict:
        """Replay detection over the last ``days`` days of stored rollups: spikes per topic per
        ISO week (``spikes.backtest``), to tune the settings before alerting."""
        return spike_reports.backtest_range(self.engine, settings=self.settings.spikes, days=days, now=self.clock())
