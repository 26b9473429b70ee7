"""Reading aggregates: buckets from rollups, baselines, trends and the mentions behind them.

Aggregates read only ``topic_rollups`` (cost grows with the number of buckets, not with the
number of mentions); day buckets are assembled from hourly rows in the caller's time zone.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, or_, select, true

from inference.language import UND, LanguagePolicy
from storage import answers, repository
from storage.errors import QueryError
from storage.models import Mention, MentionTopic, TopicEmotionRollup
from storage.query_types import MentionFilter
from storage.shares import ShareSums, share_rollup_rows
from storage.times import iso_utc, utc_naive

WINDOWS = ("hour", "day")


def bucket_start(moment_utc: datetime, window: str, tz: ZoneInfo) -> datetime:
    """Start of the hour/day containing ``moment_utc`` (naive UTC), as an aware local time."""
    local = moment_utc.replace(tzinfo=UTC).astimezone(tz)
    if window == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def next_bucket(start: datetime, window: str, tz: ZoneInfo) -> datetime:
    if window == "hour":
        return (start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz)
    following = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)  # wall-clock day
    return following


@dataclass(slots=True)
class Bucket:
    start: datetime
    count: int = 0
    sentiment_sum: float = 0.0
    sentiment_sq_sum: float = 0.0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    shares: ShareSums = field(default_factory=ShareSums)

    def answer(self, emotions: dict[str, int] | None) -> answers.Bucket:
        sentiment_share, emotion_share = self.shares.estimate("sentiment"), self.shares.estimate("emotion")
        return answers.Bucket(
            start=self.start.isoformat(),
            count=self.count,
            sentiment_mean=round(self.sentiment_sum / self.count, 6) if self.count else None,
            sentiment=answers.SentimentCounts(positive=self.positive, neutral=self.neutral, negative=self.negative),
            emotions=dict(sorted(emotions.items())) if emotions else {},
            sentiment_share=sentiment_share.shares if sentiment_share else None,
            emotion_share=emotion_share.shares if emotion_share else None,
            share_estimator=self.shares.estimator,
            sentiment_share_se=sentiment_share.standard_errors if sentiment_share else None,
            emotion_share_se=emotion_share.standard_errors if emotion_share else None,
        )


def emotion_rollup_rows(connection: Connection, *, topic: str, since: datetime, until: datetime) -> list[tuple]:
    """(bucket_start, emotion_label, count), fetched in one go (thousands of rows per month)."""
    statement = (
        select(TopicEmotionRollup.bucket_start, TopicEmotionRollup.emotion_label, TopicEmotionRollup.count)
        .where(
            TopicEmotionRollup.topic_key == topic,
            TopicEmotionRollup.bucket_start >= since,
            TopicEmotionRollup.bucket_start < until,
            TopicEmotionRollup.count != 0,
        )
        .order_by(TopicEmotionRollup.bucket_start)
    )
    return list(connection.execute(statement).tuples().all())


def bucket_series(
    connection: Connection, *, topic: str, window: str, since: datetime, until: datetime, tz: ZoneInfo, max_buckets: int
) -> tuple[list[Bucket], dict[datetime, dict[str, int]]]:
    """Zero-filled buckets covering [since, until) (aware datetimes), oldest first."""
    if window not in WINDOWS:
        raise QueryError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    if since >= until:
        raise QueryError("since must be before until")
    first = bucket_start(utc_naive(since), window, tz)
    buckets: dict[datetime, Bucket] = {}
    cursor = first
    while cursor < until:
        buckets[cursor] = Bucket(start=cursor)
        if len(buckets) > max_buckets:
            raise QueryError(f"the range spans more than {max_buckets} {window} buckets; narrow since/until")
        cursor = next_bucket(cursor, window, tz)
    lo, hi = utc_naive(first), utc_naive(cursor)
    starts: dict[datetime, datetime] = {}  # UTC hour -> bucket start, computed once per hour

    def start_of(hour: datetime) -> datetime:
        found = starts.get(hour)
        if found is None:
            found = starts[hour] = bucket_start(hour, window, tz)
        return found

    for hour, count, total, squares, positive, neutral, negative, s_adj, e_adj in repository.rollup_rows(
        connection, topic=topic, since=lo, until=hi
    ):
        bucket = buckets.get(start_of(hour))
        if bucket is None:
            continue
        bucket.count += count
        bucket.sentiment_sum += total
        bucket.sentiment_sq_sum += squares
        bucket.positive += positive
        bucket.neutral += neutral
        bucket.negative += negative
        bucket.shares.add_counts(count, s_adj, e_adj)
    for _, hour, output, label, share_sum, share_sq_sum in share_rollup_rows(
        connection, topic=topic, since=lo, until=hi
    ):
        bucket = buckets.get(start_of(hour))
        if bucket is not None:
            bucket.shares.add_share(output, label, share_sum, share_sq_sum)
    emotions: dict[datetime, dict[str, int]] = {}
    last_hour, counts = None, {}
    for hour, label, count in emotion_rollup_rows(connection, topic=topic, since=lo, until=hi):
        if hour != last_hour:  # rows come ordered by hour: one bucket lookup per hour
            last_hour, counts = hour, emotions.setdefault(start_of(hour), {})
        counts[label] = counts.get(label, 0) + count
    return list(buckets.values()), emotions


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return mean, math.sqrt(variance)


def encode_cursor(created_at: datetime, mention_id: int) -> str:
    raw = json.dumps([created_at.isoformat(), mention_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, mention_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), int(mention_id)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise QueryError("cursor is not one this API returned") from None


def mention_conditions(where: MentionFilter) -> list:
    """The SQL conditions of a listing or an export. Without ``language`` or
    ``include_unsupported``, only mentions the rollups count (``mentions.in_rollups``), so a
    listing agrees with its topic's aggregates; ``language='und'`` also finds mentions stored
    before detection (NULL)."""
    conditions = [MentionTopic.topic_key == where.topic]
    if where.since is not None:
        conditions.append(MentionTopic.created_at >= utc_naive(where.since))
    if where.until is not None:
        conditions.append(MentionTopic.created_at < utc_naive(where.until))
    if where.sentiment is not None:
        conditions.append(Mention.sentiment_label == where.sentiment)
    if where.emotion is not None:
        conditions.append(Mention.emotion_label == where.emotion)
    if where.source is not None:
        conditions.append(Mention.source == where.source)
    if where.language == UND:
        conditions.append(or_(Mention.language == UND, Mention.language.is_(None)))
    elif where.language is not None:
        conditions.append(Mention.language == where.language)
    elif not where.include_unsupported:
        conditions.append(Mention.in_rollups == true())
    return conditions


def count_mentions(connection: Connection, *, where: MentionFilter, cap: int) -> int:
    """How many mentions match, counting no further than ``cap`` (an export's bound)."""
    matching = (
        select(MentionTopic.mention_id)
        .join(Mention, MentionTopic.mention_id == Mention.id)
        .where(*mention_conditions(where))
        .limit(cap)
        .subquery()
    )
    return connection.execute(select(func.count()).select_from(matching)).scalar_one()


def mention_topics(connection: Connection, *, mention_ids: list[int]) -> dict[int, list[str]]:
    """Every topic of each mention, keys sorted."""
    out: dict[int, list[str]] = {i: [] for i in mention_ids}
    if mention_ids:
        rows = connection.execute(
            select(MentionTopic.mention_id, MentionTopic.topic_key)
            .where(MentionTopic.mention_id.in_(mention_ids))
            .order_by(MentionTopic.mention_id, MentionTopic.topic_key)
        )
        for mention_id, key in rows:
            out[mention_id].append(key)
    return out


def mentions_page(
    connection: Connection,
    *,
    where: MentionFilter,
    limit: int,
    cursor: str | None,
    policy: LanguagePolicy | None = None,
) -> tuple[list[answers.MentionItem], str | None]:
    """Newest first; keyset pagination on (created_at, id) through the topic index."""
    policy = policy or LanguagePolicy()
    conditions = mention_conditions(where)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        conditions.append(
            or_(
                MentionTopic.created_at < after_time,
                and_(MentionTopic.created_at == after_time, MentionTopic.mention_id < after_id),
            )
        )
    statement = (
        select(
            Mention.id,
            Mention.external_id,
            Mention.text,
            Mention.source,
            Mention.created_at,
            Mention.sentiment_label,
            Mention.sentiment_score,
            Mention.sentiment_scores,
            Mention.emotion_label,
            Mention.emotion_scores,
            Mention.language,
            MentionTopic.score,
        )
        .join(MentionTopic, MentionTopic.mention_id == Mention.id)
        .where(*conditions)
        .order_by(MentionTopic.created_at.desc(), MentionTopic.mention_id.desc())
        .limit(limit + 1)
    )
    rows = list(connection.execute(statement))
    page = rows[:limit]
    items = [
        answers.MentionItem(
            id=row.id,
            external_id=row.external_id,
            text=row.text,
            source=row.source,
            created_at=iso_utc(row.created_at),
            sentiment=answers.SentimentAnswer(
                label=row.sentiment_label, score=row.sentiment_score, scores=row.sentiment_scores
            ),
            emotion=answers.EmotionAnswer(label=row.emotion_label, scores=row.emotion_scores),
            topic_score=row.score,
            language=row.language or UND,
            language_supported=policy.is_supported(row.language),
        )
        for row in page
    ]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return items, next_cursor
