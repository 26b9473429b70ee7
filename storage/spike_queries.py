"""Reading what spike detection needs: dense hourly series of every topic, and the mentions
behind one bucket (sources, representative mentions, text samples).

Data functions: keyword-only, they take a connection and never commit (the caller owns the
transaction). Times are aware UTC at the boundary and naive UTC in the database
(``storage.models``). Only mentions the rollups count (``processing_status = 'done'`` and
``in_rollups``) are read, so an explanation agrees with the counts that raised the spike.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import BigInteger, Connection, cast, func, select, true

from spikes.series import TopicSeries, ceil_hour
from storage.models import Mention, MentionTopic, TopicEmotionRollup, TopicModelRollup, TopicRollup
from storage.times import utc_naive

HOUR = timedelta(hours=1)


def _counted():
    return (Mention.processing_status == "done", Mention.in_rollups == true())


def mixed_model_topics(connection: Connection, *, since: datetime, until: datetime) -> set[str]:
    """Topics with counted mentions of more than one ``model_version`` in the hours of
    ``[since, until)``: their label shares are not comparable across the window (one grouped
    query over ``topic_model_rollups``; mentions are not read)."""
    statement = (
        select(TopicModelRollup.topic_key)
        .where(
            TopicModelRollup.bucket_start >= utc_naive(since).replace(minute=0, second=0, microsecond=0),
            TopicModelRollup.bucket_start < utc_naive(until),
            TopicModelRollup.count > 0,
        )
        .group_by(TopicModelRollup.topic_key)
        .having(func.count(func.distinct(TopicModelRollup.model_version)) > 1)
    )
    return set(connection.execute(statement).scalars())


def _rows(keys, index: dict) -> np.ndarray:
    return np.fromiter((index[key] for key in keys), dtype=np.int64)


def _epoch(connection: Connection, column):
    """``column`` (a naive UTC time) as whole seconds since 1970, computed by the database:
    reading tens of thousands of rollup rows as datetimes (parsed in Python on SQLite) was
    most of a cold scoring's time on a large database."""
    if connection.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.extract("epoch", column), BigInteger)


def _hour_index(seconds, lo: datetime) -> np.ndarray:
    """Each hour's position from ``lo`` (naive UTC), vectorised."""
    start = int(lo.replace(tzinfo=UTC).timestamp())
    return (np.asarray(seconds, dtype=np.int64) - start) // 3600


def topic_series(
    connection: Connection, *, since: datetime, until: datetime, mute_since: datetime
) -> list[TopicSeries]:
    """Every topic's zero-filled hourly series over ``[since, until)`` (UTC hours): counts and
    negative counts from ``topic_rollups``, per-label counts from ``topic_emotion_rollups``.
    ``mute_mix`` is set for topics with mixed model versions in ``[mute_since, until)``.
    ``since`` must be on the hour."""
    until = ceil_hour(until)  # the running hour's rows too (the detector leaves it unscored)
    lo, hi = utc_naive(since), utc_naive(until)
    hours = int((until - since) / HOUR)
    rows = connection.execute(
        select(
            TopicRollup.topic_key,
            _epoch(connection, TopicRollup.bucket_start),
            TopicRollup.count,
            TopicRollup.negative_count,
        ).where(TopicRollup.bucket_start >= lo, TopicRollup.bucket_start < hi)
    ).all()
    topics = sorted({row[0] for row in rows})
    row_of = {topic: k for k, topic in enumerate(topics)}
    grid = np.zeros((2, len(topics), hours), dtype=np.int64)  # counts, negative counts
    if rows:
        keys, starts, values, negatives = zip(*rows, strict=True)
        at = (_rows(keys, row_of), _hour_index(starts, lo))
        np.add.at(grid[0], at, np.asarray(values, dtype=np.int64))
        np.add.at(grid[1], at, np.asarray(negatives, dtype=np.int64))
    counts = {topic: grid[0, k] for topic, k in row_of.items()}
    negative = {topic: grid[1, k] for topic, k in row_of.items()}
    rows = connection.execute(
        select(
            TopicEmotionRollup.topic_key,
            _epoch(connection, TopicEmotionRollup.bucket_start),
            TopicEmotionRollup.emotion_label,
            TopicEmotionRollup.count,
        ).where(
            TopicEmotionRollup.bucket_start >= lo,
            TopicEmotionRollup.bucket_start < hi,
            TopicEmotionRollup.count != 0,
            TopicEmotionRollup.topic_key.in_(topics),
        )
    ).all()
    labels: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    if rows:
        keys, starts, names, values = zip(*rows, strict=True)
        pairs = sorted(set(zip(keys, names, strict=True)))
        pair_of = {pair: j for j, pair in enumerate(pairs)}
        label_grid = np.zeros((len(pairs), hours), dtype=np.int64)
        np.add.at(
            label_grid,
            (_rows(zip(keys, names, strict=True), pair_of), _hour_index(starts, lo)),
            np.asarray(values, dtype=np.int64),
        )
        for (topic, label), j in pair_of.items():
            labels[topic][label] = label_grid[j]
    muted = mixed_model_topics(connection, since=mute_since, until=until)
    out = []
    for topic in sorted(counts):
        # A topic's series starts at its first stored hour: before that it did not exist, and
        # zeros there would make its first mentions look like a surge.
        first = int(np.argmax(counts[topic] > 0))
        out.append(
            TopicSeries(
                topic=topic,
                start=since + first * HOUR,
                counts=counts[topic][first:],
                label_counts={label: values[first:] for label, values in labels.get(topic, {}).items()},
                negative_counts=negative[topic][first:],
                mute_mix=topic in muted,
            )
        )
    return out


def _topic_mentions(topic: str, since: datetime, until: datetime):
    return (
        MentionTopic.topic_key == topic,
        MentionTopic.created_at >= utc_naive(since),
        MentionTopic.created_at < utc_naive(until),
        *_counted(),
    )


def top_sources(connection: Connection, *, topic: str, since: datetime, until: datetime, limit: int) -> list[dict]:
    """The sources of a topic's counted mentions in ``[since, until)``, most first."""
    statement = (
        select(Mention.source, func.count())
        .join(MentionTopic, MentionTopic.mention_id == Mention.id)
        .where(*_topic_mentions(topic, since, until))
        .group_by(Mention.source)
    )
    rows = sorted(connection.execute(statement), key=lambda r: (-r[1], r[0] or ""))
    return [{"source": source, "count": int(count)} for source, count in rows[:limit]]


def representative_mentions(
    connection: Connection, *, topic: str, since: datetime, until: datetime, limit: int
) -> list[dict]:
    """The ``limit`` counted mentions in ``[since, until)`` that belong to the topic most
    clearly (highest topic score; ties: oldest first, then lowest id), with their text."""
    statement = (
        select(Mention.id, Mention.external_id, Mention.text, Mention.created_at)
        .join(MentionTopic, MentionTopic.mention_id == Mention.id)
        .where(*_topic_mentions(topic, since, until), Mention.text.is_not(None))
        .order_by(MentionTopic.score.desc(), MentionTopic.created_at, Mention.id)
        .limit(limit)
    )
    out = []
    for mention_id, external_id, text, created in connection.execute(statement):
        item: dict = {"id": mention_id}
        if external_id is not None:
            item["external_id"] = external_id
        item |= {"text": text, "created_at": created.replace(tzinfo=UTC).isoformat()}
        out.append(item)
    return out


def text_sample(connection: Connection, *, topic: str, since: datetime, until: datetime, limit: int) -> list[str]:
    """At most ``limit`` texts of a topic's counted mentions in ``[since, until)``. Ordered by
    content hash: a deterministic sample spread over the whole window (a hash is uncorrelated
    with time), where ``ORDER BY created_at`` would keep only one end of it."""
    statement = (
        select(Mention.text)
        .join(MentionTopic, MentionTopic.mention_id == Mention.id)
        .where(*_topic_mentions(topic, since, until), Mention.text.is_not(None))
        .order_by(Mention.content_hash, Mention.id)
        .limit(limit)
    )
    return [text for text in connection.execute(statement).scalars() if text is not None]
