"""The aggregation service: one Ray-free class that the online and the bulk paths both feed.

It owns its engine (pooled; build one per process) and a small TTL cache in front of the
aggregate and baseline queries, invalidated for the topics each write touched. In a
multi-replica deployment each replica has its own cache, so a reader may see data up to
``cache_ttl_s`` old after another replica wrote.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, bindparam, delete, select, update

from inference.cache import content_hash
from inference.language import LanguagePolicy, language_problem
from storage import ingest, queries, rebuild, repository
from storage.errors import (
    InvalidLanguageError,
    InvalidRangeError,
    InvalidTimeError,
    QueryError,
    UnknownTopicError,
    database_errors,
)
from storage.models import Mention, MentionEmbedding
from storage.records import MentionRecord, PreparedMention, RecordRules, idempotency_key, parse_timestamp, prepare
from storage.settings import StorageSettings

EVERY_TOPIC = frozenset({"trends"})  # cached answers that any topic's write changes
# Spike scorings, keyed (..., complete): they read only hours before ``complete``, so a write
# changes them only when it lands before that (late data), never for the running hour.
SCORED_UP_TO = frozenset({"scores"})


class _TTLCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._items: dict[tuple, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: tuple, compute: Callable[[], object]) -> object:
        if self.ttl_s <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = compute()
        with self._lock:
            self._items[key] = (now + self.ttl_s, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def invalidate(self, topics: Iterable[str], earliest: datetime | None = None) -> None:
        """Drop what a write to ``topics`` changes; ``earliest``: the oldest posting time it
        wrote (aware UTC), None when unknown (deletes): every scoring goes."""
        topics = set(topics)
        if not topics:
            return

        def stale(key: tuple) -> bool:
            if key[0] in SCORED_UP_TO:
                return earliest is None or earliest < key[-1]
            return key[0] in EVERY_TOPIC or key[1] in topics

        with self._lock:
            for key in [k for k in self._items if stale(k)]:
                del self._items[key]


MAX_BASELINE_DAYS = 3650


def check_days(days: int) -> None:
    """A baseline of 1 to ``MAX_BASELINE_DAYS`` days (longer ones overflow dates, and mean nothing)."""
    if not 1 <= days <= MAX_BASELINE_DAYS:
        raise QueryError(f"days must be between 1 and {MAX_BASELINE_DAYS}, got {days}")


def parse_tz(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _aware(moment: datetime | None, default: datetime, name: str) -> datetime:
    """``moment`` with UTC for a naive one, or ``default``; ``InvalidTimeError`` naming
    ``name`` outside [EARLIEST, LATEST): a default range of days before year 1, or a zone
    offset past year 9999, would overflow."""
    if moment is None:
        return default
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        in_range = EARLIEST <= moment < LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise InvalidTimeError(f"{name} must be between 1970-01-01 and 2200-01-01", param=name)
    return moment


class AggregationService:
    def __init__(
        self,
        engine: Engine,
        *,
        settings: StorageSettings | None = None,
        max_text_chars: int = 100_000,
        topic_keys: Sequence[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        language_policy: LanguagePolicy | None = None,
    ) -> None:
        """``language_policy``: the supported languages and which mentions the rollups count
        (``LanguagePolicy.from_settings`` of the pipeline settings; default: English)."""
        self.engine = engine
        # Write errors name an SQLite file (the operator's own path); never a server's address.
        url = getattr(engine, "url", None)  # None: a service over no database (the unit tier's)
        self.where = str(url.database or "") if url is not None and url.get_backend_name() == "sqlite" else ""
        self.settings = settings or StorageSettings()
        self.language_policy = language_policy or LanguagePolicy()
        self.max_text_chars = max_text_chars
        self.rules = RecordRules.from_settings(self.settings, max_text_chars=max_text_chars)
        self.configured_topics = set(topic_keys)
        self.clock = clock
        self.cache = _TTLCache(self.settings.cache_ttl_s)
        self._seen_topics: set[str] = set()

    # -- writes -----------------------------------------------------------------------------
    def prepare_records(
        self, records: Sequence[MentionRecord], *, require_result: bool, checked: bool = False
    ) -> list[PreparedMention]:
        """Validate a batch (``InvalidRecordError`` names the first bad record) and key it."""
        return prepare(records, rules=self.rules, now=self.clock(), require_result=require_result, checked=checked)

    def _write(self, writer, prepared, what: str) -> ingest.WriteReport:
        now = self.clock().astimezone(UTC).replace(tzinfo=None)
        # Bulk writes on PostgreSQL go through the raw DB-API cursor: its errors count too.
        errors = database_errors(what=f"{what} of {len(prepared)} mentions", where=self.where)
        with errors, self.engine.begin() as connection:
            report = writer(connection, prepared=prepared, now=now)
        earliest = min((p.created_at for p in prepared), default=None)
        self.cache.invalidate(report.touched_topics, earliest.replace(tzinfo=UTC) if earliest else None)
        return report

    def ingest(self, records: Sequence[MentionRecord], *, checked: bool = False) -> ingest.WriteReport:
        """Store classified mentions in one transaction; replays change nothing."""
        return self.ingest_prepared(self.prepare_records(records, require_result=True, checked=checked))

    def ingest_prepared(self, prepared: Sequence[PreparedMention]) -> ingest.WriteReport:
        """Store mentions a caller validated and keyed with ``prepare_records`` (the Gateway)."""
        writer = functools.partial(ingest.write_classified, policy=self.language_policy)
        return self._write(writer, prepared, "ingest")

    def import_raw(self, records: Sequence[MentionRecord]) -> ingest.WriteReport:
        """Store mentions as 'pending' for a later backfill."""
        prepared = self.prepare_records(records, require_result=False)
        return self._write(ingest.write_raw, prepared, "import")

    def record_failed(self, failures: Sequence[tuple[MentionRecord, str]]) -> ingest.WriteReport:
        """Store rows a job could not process as 'failed' with the reason, so they are
        counted and can be inspected or retried; texts over the limit are not kept."""
        now = self.clock()
        prepared = []
        for record, reason in failures:
            text = record.text if isinstance(record.text, str) and len(record.text) <= self.max_text_chars else None
            digest = content_hash(text or "")
            try:
                created = parse_timestamp(record.created_at, now=now, future_tolerance=timedelta(days=36500))
            except ValueError:
                created = None
            source = record.source or None
            prepared.append(
                PreparedMention(
                    record=MentionRecord(text=text, external_id=record.external_id, error=reason[:2000]),
                    content_hash=digest,
                    created_at=created or now.astimezone(UTC).replace(tzinfo=None),
                    given_created_at=created is not None,
                    idempotency_key=idempotency_key(
                        external_id=record.external_id,
                        digest=digest,
                        source=source,
                        created_at=created,
                        by_content=record.key_by_content,
                    ),
                    source=source,
                )
            )
        return self._write(ingest.write_failed, prepared, "recording failures")

    def mark_failed(self, failures: Sequence[tuple[int, str]]) -> int:
        """Mark stored, unfinished mentions (by id) as failed with a reason; done ones stay."""
        if not failures:
            return 0
        statement = (
            update(Mention)
            .where(Mention.id == bindparam("mention_id"), Mention.processing_status != "done")
            .values(processing_status="failed", error=bindparam("reason"))
        )
        with database_errors(what="marking failed mentions"), self.engine.begin() as connection:
            result = connection.execute(statement, [{"mention_id": i, "reason": r[:2000]} for i, r in failures])
        return result.rowcount

    def store_job_batch(
        self,
        records: Sequence[MentionRecord],
        failed: Sequence[tuple[MentionRecord, str]] = (),
        failed_stored: Sequence[tuple[int, str]] = (),
    ) -> dict[str, int]:
        """One batch of a bulk job: classified rows (validated by the job's validate stage
        against ``self.rules``), rows that failed it, and stored mentions that could not be
        re-processed. Each part is idempotent on its own, so a batch cut short by a crash is
        completed by running the job again."""
        report = self.ingest(records, checked=True) if records else None
        if failed:
            self.record_failed(failed)
        self.mark_failed(failed_stored)
        return {
            "read": len(records) + len(failed) + len(failed_stored),
            "stored": report.inserted + report.updated if report else 0,
            "duplicates": report.duplicates if report else 0,
            "failed": len(failed) + len(failed_stored),
        }

    def delete(self, external_ids: Sequence[str]) -> list[str]:
        with database_errors(what="delete"), self.engine.begin() as connection:
            deleted, topics = ingest.delete_by_external_ids(connection, external_ids=external_ids)
        self.cache.invalidate(topics)
        return deleted

    def rebuild_rollups(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Recompute every topic rollup from the stored mentions under ``language_policy``,
        in one transaction (``storage.rebuild``); ``progress(ids)`` after each id range."""
        with database_errors(what="rebuilding the rollups"), self.engine.begin() as connection:
            report = rebuild.rebuild_rollups(connection, policy=self.language_policy, progress=progress)
        self.cache.clear()
        return {
            "mentions_counted": report.counted,
            "mentions_left_out": report.left_out,
            "topics": report.topics,
            "rollup_rows": report.rollup_rows,
        }

    def mention_id_span(self) -> int:
        """How many ids ``rebuild_rollups`` walks (its progress total)."""
        with database_errors(what="reading mention ids"), self.engine.connect() as connection:
            lo, hi = rebuild.id_bounds(connection)
        return 0 if lo is None else hi - lo + 1

    def prune(self, older_than_days: float) -> dict[str, int]:
        """Drop texts and embeddings of old mentions; rollups (and so aggregates) stay."""
        cutoff = (self.clock() - timedelta(days=older_than_days)).astimezone(UTC).replace(tzinfo=None)
        old_ids = select(Mention.id).where(Mention.created_at < cutoff)
        with database_errors(what="prune"), self.engine.begin() as connection:
            embeddings = connection.execute(delete(MentionEmbedding).where(MentionEmbedding.mention_id.in_(old_ids)))
            texts = connection.execute(
                update(Mention).where(Mention.created_at < cutoff, Mention.text.is_not(None)).values(text=None)
            )
        return {"texts_pruned": texts.rowcount, "embeddings_pruned": embeddings.rowcount}

    # -- reads --------------------------------------------------------------------------------
    def topics(self) -> list[dict]:
        with database_errors(what="reading topics"), self.engine.connect() as connection:
            stored = {key: (count, latest) for key, count, latest in repository.known_topics(connection)}
        return [
            {
                "key": key,
                "mentions": stored.get(key, (0, None))[0],
                "latest_bucket": stored[key][1].replace(tzinfo=UTC).isoformat()
                if stored.get(key, (0, None))[1]
                else None,
                "configured": key in self.configured_topics,
            }
            for key in sorted(self.configured_topics | set(stored))
        ]

    def _check_topic(self, topic: str) -> None:
        if topic in self.configured_topics or topic in self._seen_topics:
            return
        with database_errors(what="reading topics"), self.engine.connect() as connection:
            if not repository.topic_exists(connection, topic=topic):
                raise UnknownTopicError(f"unknown topic {topic!r}")
        self._seen_topics.add(topic)  # topics only disappear if every mention is deleted

    def _series(self, topic: str, window: str, since: datetime, until: datetime, zone: ZoneInfo):
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

    def aggregate(
        self,
        topic: str,
        window: str = "hour",
        since: datetime | None = None,
        until: datetime | None = None,
        tz: str = "UTC",
    ) -> dict:
        zone = parse_tz(tz)
        until = _aware(until, self.clock(), "until")
        since = _aware(since, until - timedelta(days=7 if window == "hour" else 30), "since")
        self._check_topic(topic)

        def compute() -> dict:
            buckets, emotions = self._series(topic, window, since, until, zone)
            return {
                "topic": topic,
                "window": window,
                "tz": tz,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "buckets": [b.as_dict(emotions.get(b.start, {})) for b in buckets],
            }

        return self.cache.get_or_compute(("aggregate", topic, window, since, until, tz), compute)  # type: ignore[return-value]

    def baseline(
        self, topic: str, days: int = 30, until: datetime | None = None, window: str = "day", tz: str = "UTC"
    ) -> dict:
        """Mean and standard deviation of volume and mean sentiment per window over ``days``."""
        check_days(days)
        zone = parse_tz(tz)
        until = _aware(until, self.clock(), "until")
        self._check_topic(topic)
        end = queries.bucket_start(until.astimezone(UTC).replace(tzinfo=None), window, zone)
        start = end - timedelta(days=days)

        def compute() -> dict:
            buckets, _ = self._series(topic, window, start, end, zone)
            volume_mean, volume_std = queries.mean_std([b.count for b in buckets])
            sentiment_mean, sentiment_std = queries.mean_std([b.sentiment_sum / b.count for b in buckets if b.count])
            return {
                "topic": topic,
                "window": window,
                "days": days,
                "since": start.isoformat(),
                "until": end.isoformat(),
                "volume_mean": volume_mean,
                "volume_std": volume_std,
                "sentiment_mean": sentiment_mean,
                "sentiment_std": sentiment_std,
            }

        return self.cache.get_or_compute(("baseline", topic, days, end, window, tz), compute)  # type: ignore[return-value]

    def trends(self, window: str = "day", days: int = 30, tz: str = "UTC") -> list[dict]:
        """Every topic's last complete window against the ``days`` before it, most unusual first.

        The running window is left out: its count is partial and would read as a drop.
        ``expected`` is the baseline's mean count per window; ``p_value`` the upper tail of a
        negative binomial around it (dispersion from the baseline's own variance, Poisson
        when it shows none; the mean is floored at one mention over the baseline, so a topic
        that was silent does not score zero). z-scores stay for compatibility, their
        standard deviation floored at 1 mention (volume) and 0.05 (sentiment).
        """
        from storage.spikes.significance import negative_binomial_tail

        check_days(days)
        zone = parse_tz(tz)
        now = self.clock()
        running_start = queries.bucket_start(now.astimezone(UTC).replace(tzinfo=None), window, zone)
        last_start = queries.bucket_start(
            (running_start.astimezone(UTC) - timedelta(seconds=1)).replace(tzinfo=None), window, zone
        )
        windows_in_baseline = days * (24 if window == "hour" else 1)
        rows = []
        for topic in [t["key"] for t in self.topics()]:
            base = self.baseline(topic, days=days, until=last_start, window=window, tz=tz)
            current = self.aggregate(topic, window=window, since=last_start, until=running_start, tz=tz)["buckets"]
            count = sum(b["count"] for b in current)
            sentiment = current[0]["sentiment_mean"] if current else None
            mean, std = base["volume_mean"] or 0.0, base["volume_std"] or 0.0
            tested_mean = max(mean, 1.0 / windows_in_baseline)
            dispersion = max(0.0, (std**2 - mean) / mean**2) if mean > 0 else 0.0
            p_value = float(negative_binomial_tail(count, tested_mean, dispersion))
            z_volume = (count - mean) / max(std, 1.0)
            z_sentiment = None
            if sentiment is not None and base["sentiment_mean"] is not None:
                z_sentiment = (sentiment - base["sentiment_mean"]) / max(base["sentiment_std"] or 0.0, 0.05)
            rows.append(
                {
                    "topic": topic,
                    "window_start": last_start.isoformat(),
                    "window_end": running_start.isoformat(),
                    "count": count,
                    "expected": round(mean, 4),
                    "p_value": p_value,
                    "sentiment_mean": sentiment,
                    "baseline": base,
                    "z_volume": round(z_volume, 4),
                    "z_sentiment": round(z_sentiment, 4) if z_sentiment is not None else None,
                }
            )
        rows.sort(key=lambda r: (r["p_value"], -max(abs(r["z_volume"]), abs(r["z_sentiment"] or 0.0))))
        return rows

    def mention_filter(
        self,
        topic: str,
        since: datetime | None = None,
        until: datetime | None = None,
        sentiment: str | None = None,
        emotion: str | None = None,
        source: str | None = None,
        language: str | None = None,
        include_unsupported: bool = False,
    ) -> queries.MentionFilter:
        """The validated filter of a mention listing or export (a domain error names what is wrong)."""
        if sentiment is not None and sentiment not in {"positive", "neutral", "negative"}:
            raise QueryError("sentiment must be positive, neutral or negative")
        problem = language_problem(language) if language is not None else None
        if problem:
            raise InvalidLanguageError(problem)
        self._check_topic(topic)
        return queries.MentionFilter(
            topic=topic,
            since=since,
            until=until,
            sentiment=sentiment,
            emotion=emotion,
            source=source,
            language=language,
            include_unsupported=include_unsupported,
        )

    def mentions(self, topic: str, limit: int = 50, cursor: str | None = None, **filters) -> dict:
        """A topic's mentions, newest first; by default only those its rollups count (mentions
        in unsupported languages are left out unless ``language`` or ``include_unsupported``).
        ``filters``: those of ``mention_filter``."""
        if not 1 <= limit <= 1000:
            raise QueryError("limit must be between 1 and 1000")
        where = self.mention_filter(topic, **filters)
        with database_errors(what="reading mentions"), self.engine.connect() as connection:
            items, next_cursor = queries.mentions_page(
                connection, where=where, limit=limit, cursor=cursor, policy=self.language_policy
            )
        return {"topic": topic, "items": items, "next_cursor": next_cursor}

    def export_plan(self, **filters) -> dict:
        """Before a CSV export streams: how many rows it will have (at most
        ``max_export_rows``) and whether the filter matches more (``X-Truncated``)."""
        where = self.mention_filter(**filters)
        cap = self.settings.max_export_rows
        with database_errors(what="counting mentions to export"), self.engine.connect() as connection:
            matching = queries.count_mentions(connection, where=where, cap=cap + 1)
        return {"rows": min(matching, cap), "truncated": matching > cap}

    def export_page(self, cursor: str | None = None, limit: int = 1000, **filters) -> dict:
        """One page of a CSV export (``storage.export``): ``{"csv", "rows", "next_cursor"}``,
        the same order and cursor as ``mentions``; rows end in CRLF, no header."""
        from storage import export

        where = self.mention_filter(**filters)
        with database_errors(what="exporting mentions"), self.engine.connect() as connection:
            items, next_cursor = queries.mentions_page(
                connection, where=where, limit=limit, cursor=cursor, policy=self.language_policy
            )
            topics = queries.mention_topics(connection, mention_ids=[item["id"] for item in items])
        return {"csv": export.csv_rows(items, topics), "rows": len(items), "next_cursor": next_cursor}

    # -- spikes ---------------------------------------------------------------------------------
    def spikes(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        topic: str | None = None,
        kind: str | None = None,
        min_severity: int | None = None,
    ) -> dict:
        """Spikes in the complete hourly buckets of ``[since, until)`` (default: the 7 days up
        to the last complete bucket), newest first, as ``{"spikes": [...]}``.

        Detection always runs over every topic (a bucket's verdict is the same whichever topic,
        kind or range is asked for); the filters apply to its result. Detection results are
        kept until a write lands in a scored hour (late data; writes to the running hour leave
        them be); each spike's explanation per (topic, bucket) until a write to that topic.
        The detector (numpy, scipy) loads on first use, not with the service."""
        from storage import spike_reports

        spike_reports.check_filters(kind=kind, min_severity=min_severity)
        if topic is not None:
            self._check_topic(topic)
        found = self._scoring(since, until).spikes
        chosen = [
            s
            for s in found
            if (topic is None or s.topic == topic)
            and (kind is None or s.kind == kind)
            and (min_severity is None or s.severity >= min_severity)
        ]
        return {"spikes": [spike_reports.spike_fields(s) | {"explanation": self._explain(s)} for s in chosen]}

    def _scoring(self, since: datetime | None, until: datetime | None):
        """Every topic's ``Scoring`` of the complete hours of ``[since, until)`` (default: the 7
        days up to the last complete hour), from the cache while no write reached those hours."""
        from storage import spike_reports
        from storage.spikes import scorable_end

        settings = self.settings.spikes
        now = self.clock()
        complete = scorable_end(now, grace_minutes=settings.grace_minutes)
        until = _aware(until, complete, "until")
        since = _aware(since, until - timedelta(days=7), "since")
        if since >= until:
            raise InvalidRangeError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
        if (until - since) > timedelta(hours=self.settings.max_buckets):
            raise InvalidRangeError(f"the range spans more than {self.settings.max_buckets} hours; narrow since/until")
        return self.cache.get_or_compute(
            ("scores", since, until, complete),
            lambda: spike_reports.score_range(self.engine, settings=settings, since=since, until=until, now=now),
        )

    def _explain(self, spike) -> dict:
        from storage import spike_reports

        key = ("spike_explanation", spike.topic, spike.bucket_start)
        return self.cache.get_or_compute(  # type: ignore[return-value]
            key,
            lambda: spike_reports.explain(
                self.engine, settings=self.settings.spikes, topic=spike.topic, bucket_start=spike.bucket_start
            ),
        )

    def spike_backtest(self, days: int = 60) -> dict:
        """Replay detection over the last ``days`` days of stored rollups: spikes per topic per
        ISO week (``storage.spikes.backtest``), to tune the settings before alerting."""
        from storage import spike_reports

        return spike_reports.backtest_range(self.engine, settings=self.settings.spikes, days=days, now=self.clock())

    # -- alerts (written here, so the Aggregator stays the one writer) ----------------------------
    def record_alerts(self, spikes: Sequence[dict], targets: Sequence) -> list[int]:
        """Record the spikes some target wants that have no alert yet (``storage.alerts.store``)."""
        from storage.alerts import store

        with database_errors(what="recording alerts"), self.engine.begin() as connection:
            return store.record_alerts(connection, spikes=spikes, targets=targets, now=self.clock())

    def pending_alert_deliveries(self, limit: int = 100) -> list:
        from storage.alerts import store

        with database_errors(what="reading pending alerts"), self.engine.connect() as connection:
            return store.pending_deliveries(connection, limit=limit)

    def finish_alert_delivery(
        self, *, alert_id: int, target: str, delivered: bool, attempts: int, error: str | None
    ) -> bool:
        from storage.alerts import store

        with database_errors(what="recording an alert delivery"), self.engine.begin() as connection:
            return store.finish_delivery(
                connection,
                alert_id=alert_id,
                target=target,
                delivered=delivered,
                attempts=attempts,
                error=error,
                now=self.clock(),
            )

    def alerts(self, since: datetime | None = None, topic: str | None = None, limit: int = 100) -> dict:
        """Recorded alerts, newest bucket first, with each target's delivery state."""
        from storage.alerts import store

        if not 1 <= limit <= 1000:
            raise QueryError(f"limit must be between 1 and 1000, got {limit}")
        with database_errors(what="reading alerts"), self.engine.connect() as connection:
            return {"alerts": store.list_alerts(connection, since=since, topic=topic, limit=limit)}

    # -- the analyst page ---------------------------------------------------------------------
    def overview(self) -> dict:
        """Every topic in one answer (``storage.overview.overview_row``): two rollup queries
        and the cached scoring of the last 24 complete hours; mentions are never read."""
        import numpy as np

        from storage import overview
        from storage.spikes import scorable_end

        now = self.clock()
        complete = scorable_end(now, grace_minutes=self.settings.spikes.grace_minutes)
        scoring = self._scoring(complete - timedelta(hours=24), complete)
        with database_errors(what="reading the overview"), self.engine.connect() as connection:
            hours = overview.hourly_rollups(
                connection,
                since=complete - timedelta(hours=overview.SPARK_HOURS),
                until=now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1),
            )
            emotions = overview.emotion_totals(connection, since=complete - timedelta(hours=24), until=complete)
        row_of = {topic: k for k, topic in enumerate(scoring.topics)}
        rows = []
        for topic in sorted(self.configured_topics | set(hours) | set(row_of)):
            k = row_of.get(topic)
            expected = scoring.expected[k] if k is not None else None
            expected_24h = float(np.nansum(expected)) if expected is not None and not np.isnan(expected).all() else None
            rows.append(
                overview.overview_row(
                    topic,
                    hours=hours.get(topic, {}),
                    emotions=emotions.get(topic, {}),
                    complete=complete,
                    expected_24h=expected_24h,
                    spikes=[s for s in scoring.spikes if s.topic == topic],
                    configured=topic in self.configured_topics,
                )
            )
        return {
            "generated_at": now.astimezone(UTC).isoformat(),
            "complete_until": complete.isoformat(),
            "topics": rows,
        }

    def timeline(
        self,
        topic: str,
        window: str = "hour",
        since: datetime | None = None,
        until: datetime | None = None,
        tz: str = "UTC",
    ) -> dict:
        """``aggregate`` with, per bucket, whether it is complete and its expected count and
        95 % band (from the detector's fit), plus the topic's spikes in the range: the topic
        view's one call. The running bucket is marked ``complete: false``."""
        from storage import overview, spike_reports
        from storage.spikes import scorable_end

        answer = self.aggregate(topic, window=window, since=since, until=until, tz=tz)
        complete = scorable_end(self.clock(), grace_minutes=self.settings.spikes.grace_minutes)
        first = datetime.fromisoformat(answer["buckets"][0]["start"]) if answer["buckets"] else complete
        scored_until = min(datetime.fromisoformat(answer["until"]), complete)
        no_band = {"complete": False, "expected": None, "expected_low": None, "expected_high": None}
        buckets = [dict(b) | no_band for b in answer["buckets"]]
        spikes: list = []
        if first < scored_until:
            scoring = self._scoring(first.astimezone(UTC), scored_until)
            spikes = [s for s in scoring.spikes if s.topic == topic]
            k = scoring.topics.index(topic) if topic in scoring.topics else None
            ends = [datetime.fromisoformat(b["start"]) for b in buckets[1:]] + [datetime.fromisoformat(answer["until"])]
            for bucket, end in zip(buckets, ends, strict=True):
                start = datetime.fromisoformat(bucket["start"])
                lo = max(0, int((start - scoring.start) / timedelta(hours=1)))
                hi = max(lo, min(scoring.hours(), int((end - scoring.start) / timedelta(hours=1))))
                band = (
                    overview.expected_band(scoring.expected[k, lo:hi], scoring.dispersion[k, lo:hi])
                    if k is not None
                    else None
                )
                bucket["complete"] = end <= complete
                if band:
                    bucket["expected"], bucket["expected_low"], bucket["expected_high"] = (round(v, 3) for v in band)
        return answer | {
            "complete_until": complete.isoformat(),
            "buckets": buckets,
            "spikes": [spike_reports.spike_fields(s) for s in spikes],
        }
