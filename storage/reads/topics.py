"""Aggregates and trends: a topic's buckets, its baseline, and every topic against its own.

Everything here reads the hourly rollups only (cost grows with the number of buckets, not of
mentions) and is cached per topic until a write touches it (``storage.read_cache``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from spikes.significance import negative_binomial_tail
from storage import queries
from storage.answers import AggregateAnswer, BaselineAnswer, Bucket, TrendRow
from storage.errors import database_errors
from storage.query_types import RangeQuery, TrendsQuery
from storage.reads.context import ReadContext
from storage.times import aware, check_days, parse_tz


class TopicReads:
    def __init__(self, context: ReadContext) -> None:
        self.engine, self.cache, self.settings = context.engine, context.cache, context.settings
        self.catalog, self.clock = context.catalog, context.clock

    def _series(
        self, topic: str, window: str, since: datetime, until: datetime, zone: ZoneInfo
    ) -> tuple[list[queries.Bucket], dict[datetime, dict[str, int]]]:
        with database_errors(what="reading aggregates"), self.engine.connect() as connection:
            return queries.bucket_series(
                connection,
                topic=topic,
                window=window,
                since=since,
                until=until,
                tz=zone,
                max_buckets=self.settings.max_buckets,
            )

    def aggregate(self, query: RangeQuery) -> AggregateAnswer:
        """Zero-filled buckets of ``[since, until)`` (default: the 7 days (hour) or 30 days
        (day) up to now), day buckets in ``tz``."""
        zone = parse_tz(query.tz)
        until = aware(query.until, self.clock(), "until")
        since = aware(query.since, until - timedelta(days=7 if query.window == "hour" else 30), "since")
        self.catalog.check(query.topic)

        def compute() -> AggregateAnswer:
            buckets, emotions = self._series(query.topic, query.window, since, until, zone)
            return AggregateAnswer(
                topic=query.topic,
                window=query.window,
                tz=query.tz,
                since=since.isoformat(),
                until=until.isoformat(),
                buckets=[b.answer(emotions.get(b.start, {})) for b in buckets],
            )

        key = ("aggregate", query.topic, query.window, since, until, query.tz)
        return self.cache.get_or_compute(key, compute)

    def baseline(
        self, topic: str, *, days: int = 30, until: datetime | None = None, window: str = "day", tz: str = "UTC"
    ) -> BaselineAnswer:
        """Mean and standard deviation of volume and mean sentiment per window over ``days``."""
        check_days(days)
        zone = parse_tz(tz)
        end_at = aware(until, self.clock(), "until")
        self.catalog.check(topic)
        end = queries.bucket_start(end_at.astimezone(UTC).replace(tzinfo=None), window, zone)
        start = end - timedelta(days=days)

        def compute() -> BaselineAnswer:
            buckets, _ = self._series(topic, window, start, end, zone)
            volume_mean, volume_std = queries.mean_std([b.count for b in buckets])
            sentiment_mean, sentiment_std = queries.mean_std([b.sentiment_sum / b.count for b in buckets if b.count])
            return BaselineAnswer(
                topic=topic,
                window=window,
                days=days,
                since=start.isoformat(),
                until=end.isoformat(),
                volume_mean=volume_mean,
                volume_std=volume_std,
                sentiment_mean=sentiment_mean,
                sentiment_std=sentiment_std,
            )

        return self.cache.get_or_compute(("baseline", topic, days, end, window, tz), compute)

    def trends(self, query: TrendsQuery) -> list[TrendRow]:
        """Every topic's last complete window against the ``days`` before it, most unusual first.

        The running window is left out: its count is partial and would read as a drop.
        ``expected`` is the baseline's mean count per window; ``p_value`` the upper tail of a
        negative binomial around it (dispersion from the baseline's own variance, Poisson
        when it shows none; the mean is floored at one mention over the baseline, so a topic
        that was silent does not score zero). z-scores stay for compatibility, their
        standard deviation floored at 1 mention (volume) and 0.05 (sentiment).
        """
        window, days, tz = query.window, query.days, query.tz
        check_days(days)
        zone = parse_tz(tz)
        now = self.clock()
        running_start = queries.bucket_start(now.astimezone(UTC).replace(tzinfo=None), window, zone)
        last_start = queries.bucket_start(
            (running_start.astimezone(UTC) - timedelta(seconds=1)).replace(tzinfo=None), window, zone
        )
        windows_in_baseline = days * (24 if window == "hour" else 1)
        rows = []
        for topic in [t.key for t in self.catalog.topics()]:
            base = self.baseline(topic, days=days, until=last_start, window=window, tz=tz)
            current = self.aggregate(
                RangeQuery(topic=topic, window=window, since=last_start, until=running_start, tz=tz)
            ).buckets
            count = sum(b.count for b in current)
            rows.append(self._trend(topic, base, current, count, windows_in_baseline, last_start, running_start))
        rows.sort(key=lambda r: (r.p_value, -max(abs(r.z_volume), abs(r.z_sentiment or 0.0))))
        return rows

    @staticmethod
    def _trend(
        topic: str,
        base: BaselineAnswer,
        current: list[Bucket],
        count: int,
        windows_in_baseline: int,
        start: datetime,
        end: datetime,
    ) -> TrendRow:
        sentiment = current[0].sentiment_mean if current else None
        mean, std = base.volume_mean or 0.0, base.volume_std or 0.0
        tested_mean = max(mean, 1.0 / windows_in_baseline)
        dispersion = max(0.0, (std**2 - mean) / mean**2) if mean > 0 else 0.0
        z_sentiment = None
        if sentiment is not None and base.sentiment_mean is not None:
            z_sentiment = (sentiment - base.sentiment_mean) / max(base.sentiment_std or 0.0, 0.05)
        return TrendRow(
            topic=topic,
            window_start=start.isoformat(),
            window_end=end.isoformat(),
            count=count,
            expected=round(mean, 4),
            p_value=float(negative_binomial_tail(count, tested_mean, dispersion)),
            sentiment_mean=sentiment,
            baseline=base,
            z_volume=round((count - mean) / max(std, 1.0), 4),
            z_sentiment=round(z_sentiment, 4) if z_sentiment is not None else None,
            sentiment_share=current[0].sentiment_share if current else None,
            emotion_share=current[0].emotion_share if current else None,
            share_estimator=current[0].share_estimator if current else "counts",
        )
