"""Data functions: each takes a Connection and leaves the transaction to the caller."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import (
    Mention,
    MentionEmbedding,
    MentionTopic,
    TopicEmotionRollup,
    TopicModelRollup,
    TopicRollup,
    TopicShareRollup,
)
from storage.rollups import Contribution, RollupDelta

CHUNK = 1000  # rows per multi-row statement (keeps SQLite under its bound-parameter limit)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect_insert(connection: Connection, table):
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


@dataclass(frozen=True, slots=True)
class StoredMention:
    id: int
    idempotency_key: str | None
    external_id: str | None
    processing_status: str
    model_version: str | None
    created_at: datetime
    contribution: Contribution | None


def _contributions(connection: Connection, rows) -> dict[int, Contribution | None]:
    """Rollup contributions of stored mentions: 'done' mentions that were counted when written."""
    done = {r.id: r for r in rows if r.processing_status == "done" and r.in_rollups}
    topics: dict[int, list[str]] = {mention_id: [] for mention_id in done}
    for chunk in _chunks(list(done)):
        for mention_id, topic_key in connection.execute(
            select(MentionTopic.mention_id, MentionTopic.topic_key).where(MentionTopic.mention_id.in_(chunk))
        ):
            topics[mention_id].append(topic_key)
    result: dict[int, Contribution | None] = {}
    for row in rows:
        if row.id in done:
            result[row.id] = Contribution(
                created_at=row.created_at,
                topics=tuple(sorted(topics[row.id])),
                sentiment_score=row.sentiment_score,
                sentiment_label=row.sentiment_label,
                emotion_label=row.emotion_label,
                model_version=row.model_version,
                emotion_scores=row.emotion_scores,
                sentiment_scores=row.sentiment_scores,
            )
        else:
            result[row.id] = None
    return result


_STORED_COLUMNS = (
    Mention.id,
    Mention.idempotency_key,
    Mention.external_id,
    Mention.processing_status,
    Mention.model_version,
    Mention.created_at,
    Mention.sentiment_score,
    Mention.sentiment_label,
    Mention.emotion_label,
    Mention.emotion_scores,
    Mention.sentiment_scores,
    Mention.in_rollups,
)


def _stored(connection: Connection, condition) -> list[StoredMention]:
    rows = list(connection.execute(select(*_STORED_COLUMNS).where(condition)))
    contributions = _contributions(connection, rows)
    return [
        StoredMention(
            id=r.id,
            idempotency_key=r.idempotency_key,
            external_id=r.external_id,
            processing_status=r.processing_status,
            model_version=r.model_version,
            created_at=r.created_at,
            contribution=contributions[r.id],
        )
        for r in rows
    ]


def find_by_keys(connection: Connection, *, keys: Sequence[str]) -> dict[str, StoredMention]:
    found: dict[str, StoredMention] = {}
    for chunk in _chunks(list(keys)):
        for stored in _stored(connection, Mention.idempotency_key.in_(chunk)):
            if stored.idempotency_key is not None:  # it matched one of ``keys``
                found[stored.idempotency_key] = stored
    return found


def find_by_ids(connection: Connection, *, mention_ids: Sequence[int]) -> dict[int, StoredMention]:
    found: dict[int, StoredMention] = {}
    for chunk in _chunks(list(mention_ids)):
        for stored in _stored(connection, Mention.id.in_(chunk)):
            found[stored.id] = stored
    return found


def find_by_external_ids(connection: Connection, *, external_ids: Sequence[str]) -> list[StoredMention]:
    found: list[StoredMention] = []
    for chunk in _chunks(list(external_ids)):
        found.extend(_stored(connection, Mention.external_id.in_(chunk)))
    return found


def insert_mentions(connection: Connection, *, rows: Sequence[dict]) -> list[int]:
    """Insert new mentions; ids come back in the order of ``rows``."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        result = connection.execute(insert(Mention).returning(Mention.id, sort_by_parameter_order=True), list(chunk))
        ids.extend(row.id for row in result)
    return ids


def insert_mentions_if_absent(connection: Connection, *, rows: Sequence[dict]) -> dict[str, int]:
    """Insert keyed mentions unless the key exists (a concurrent writer); returns key -> id."""
    inserted: dict[str, int] = {}
    for chunk in _chunks(rows):
        statement = (
            _dialect_insert(connection, Mention)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Mention.id, Mention.idempotency_key)
        )
        for row in connection.execute(statement, list(chunk)):
            inserted[row.idempotency_key] = row.id
    return inserted


def update_mentions(connection: Connection, *, rows: Sequence[dict]) -> None:
    """Rows carry ``mention_id`` plus the columns to set."""
    if rows:
        statement = update(Mention).where(Mention.id == bindparam("mention_id"))
        connection.execute(statement, list(rows))


def delete_topics(connection: Connection, *, mention_ids: Sequence[int]) -> None:
    for chunk in _chunks(list(mention_ids)):
        connection.execute(delete(MentionTopic).where(MentionTopic.mention_id.in_(chunk)))


def _is_psycopg2(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg2"


def _pg_execute_values(connection: Connection, sql: str, values: list[tuple]) -> None:
    """One multi-row statement per page through psycopg2's execute_values.

    Cheaper on the client than SQLAlchemy's executemany (no per-row parameter dicts) and
    on the server than one statement per row; used for the hot bulk writes of an ingest.
    """
    from psycopg2.extras import execute_values

    raw = connection.connection.dbapi_connection
    assert raw is not None, "a connection in a transaction holds its DB-API connection"
    cursor = raw.cursor()
    try:
        execute_values(cursor, sql, values, page_size=1000)
    finally:
        cursor.close()


def insert_topics(connection: Connection, *, rows: Sequence[dict]) -> None:
    if _is_psycopg2(connection):
        if rows:
            _pg_execute_values(
                connection,
                "INSERT INTO mention_topics (mention_id, topic_key, score, created_at) VALUES %s",
                [(r["mention_id"], r["topic_key"], r["score"], r["created_at"]) for r in rows],
            )
        return
    for chunk in _chunks(rows):
        connection.execute(insert(MentionTopic), list(chunk))


def upsert_embeddings(connection: Connection, *, rows: Sequence[dict]) -> None:
    if _is_psycopg2(connection):
        if rows:
            from psycopg2 import Binary

            _pg_execute_values(
                connection,
                "INSERT INTO mention_embeddings (mention_id, dim, vector, model_version) VALUES %s "
                "ON CONFLICT (mention_id) DO UPDATE SET dim = EXCLUDED.dim, vector = EXCLUDED.vector, "
                "model_version = EXCLUDED.model_version",
                [(r["mention_id"], r["dim"], Binary(r["vector"]), r["model_version"]) for r in rows],
            )
        return
    for chunk in _chunks(rows):
        statement = _dialect_insert(connection, MentionEmbedding)
        statement = statement.on_conflict_do_update(
            index_elements=["mention_id"],
            set_={
                "dim": statement.excluded.dim,
                "vector": statement.excluded.vector,
                "model_version": statement.excluded.model_version,
            },
        )
        connection.execute(statement, list(chunk))


ROLLUP_COUNTERS = (
    "count",
    "sentiment_sum",
    "sentiment_sq_sum",
    "positive_count",
    "neutral_count",
    "negative_count",
    "sentiment_adjusted_count",
    "emotion_adjusted_count",
)
SHARE_KEYS = ("topic_key", "bucket_start", "output", "label")


def _pg_upsert_values(
    connection: Connection, *, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[dict]
) -> None:
    """One multi-row ``INSERT .. ON CONFLICT DO UPDATE`` per page via psycopg2's execute_values.

    SQLAlchemy sends executemany upserts as one statement per row; building a multi-values
    statement in SQLAlchemy instead costs a fresh compile per batch. Both dominated ingest.
    """
    increments = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in columns if c not in keys)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {increments}"
    )
    _pg_execute_values(connection, sql, [tuple(row[c] for c in columns) for row in rows])


def apply_rollup_delta(connection: Connection, *, delta: RollupDelta) -> None:
    """Add signed deltas to the hourly rollups in sorted key order (avoids deadlocks)."""
    rows, emotion_rows, model_rows = delta.rollup_rows(), delta.emotion_rows(), delta.model_rows()
    share_rows = delta.share_rows()
    share_columns = (*SHARE_KEYS, "share_sum", "share_sq_sum")
    rollup_columns = ("topic_key", "bucket_start", *ROLLUP_COUNTERS)
    emotion_columns = ("topic_key", "bucket_start", "emotion_label", "count")
    model_columns = ("topic_key", "bucket_start", "model_version", "count")
    if _is_psycopg2(connection):
        if rows:
            _pg_upsert_values(
                connection, table="topic_rollups", columns=rollup_columns, keys=("topic_key", "bucket_start"), rows=rows
            )
        if emotion_rows:
            _pg_upsert_values(
                connection,
                table="topic_emotion_rollups",
                columns=emotion_columns,
                keys=("topic_key", "bucket_start", "emotion_label"),
                rows=emotion_rows,
            )
        if model_rows:
            _pg_upsert_values(
                connection,
                table="topic_model_rollups",
                columns=model_columns,
                keys=("topic_key", "bucket_start", "model_version"),
                rows=model_rows,
            )
        if share_rows:
            _pg_upsert_values(
                connection, table="topic_share_rollups", columns=share_columns, keys=SHARE_KEYS, rows=share_rows
            )
        return
    if rows:
        statement = _dialect_insert(connection, TopicRollup)
        statement = statement.on_conflict_do_update(
            index_elements=["topic_key", "bucket_start"],
            set_={c: getattr(TopicRollup, c) + getattr(statement.excluded, c) for c in ROLLUP_COUNTERS},
        )
        connection.execute(statement, rows)
    if emotion_rows:
        statement = _dialect_insert(connection, TopicEmotionRollup)
        statement = statement.on_conflict_do_update(
            index_elements=["topic_key", "bucket_start", "emotion_label"],
            set_={"count": TopicEmotionRollup.count + statement.excluded.count},
        )
        connection.execute(statement, emotion_rows)
    if model_rows:
        statement = _dialect_insert(connection, TopicModelRollup)
        statement = statement.on_conflict_do_update(
            index_elements=["topic_key", "bucket_start", "model_version"],
            set_={"count": TopicModelRollup.count + statement.excluded.count},
        )
        connection.execute(statement, model_rows)
    if share_rows:
        statement = _dialect_insert(connection, TopicShareRollup)
        statement = statement.on_conflict_do_update(
            index_elements=list(SHARE_KEYS),
            set_={
                "share_sum": TopicShareRollup.share_sum + statement.excluded.share_sum,
                "share_sq_sum": TopicShareRollup.share_sq_sum + statement.excluded.share_sq_sum,
            },
        )
        connection.execute(statement, share_rows)


def delete_mentions(connection: Connection, *, mention_ids: Sequence[int]) -> None:
    for chunk in _chunks(list(mention_ids)):
        connection.execute(delete(MentionTopic).where(MentionTopic.mention_id.in_(chunk)))
        connection.execute(delete(MentionEmbedding).where(MentionEmbedding.mention_id.in_(chunk)))
        connection.execute(delete(Mention).where(Mention.id.in_(chunk)))


def rollup_rows(connection: Connection, *, topic: str, since: datetime, until: datetime) -> list[tuple]:
    """(bucket_start, count, sentiment_sum, sentiment_sq_sum, positive, neutral, negative,
    sentiment adjusted, emotion adjusted)."""
    statement = select(
        TopicRollup.bucket_start,
        TopicRollup.count,
        TopicRollup.sentiment_sum,
        TopicRollup.sentiment_sq_sum,
        TopicRollup.positive_count,
        TopicRollup.neutral_count,
        TopicRollup.negative_count,
        TopicRollup.sentiment_adjusted_count,
        TopicRollup.emotion_adjusted_count,
    ).where(TopicRollup.topic_key == topic, TopicRollup.bucket_start >= since, TopicRollup.bucket_start < until)
    return list(connection.execute(statement).tuples().all())


def topic_exists(connection: Connection, *, topic: str) -> bool:
    """Served by the rollups' primary key (topic_key first), unlike a full GROUP BY."""
    return (
        connection.execute(select(TopicRollup.topic_key).where(TopicRollup.topic_key == topic).limit(1)).first()
        is not None
    )


def known_topics(connection: Connection) -> list[tuple[str, int, datetime | None]]:
    """Every topic with stored rollups: key, total count, latest bucket."""
    rows = connection.execute(
        select(TopicRollup.topic_key, func.sum(TopicRollup.count), func.max(TopicRollup.bucket_start))
        .group_by(TopicRollup.topic_key)
        .order_by(TopicRollup.topic_key)
    )
    return [(key, int(total or 0), latest) for key, total, latest in rows]


def mark_failed(connection: Connection, *, failures: Sequence[tuple[int, str]]) -> int:
    """Mark stored, unfinished mentions (by id) as failed with a reason (cut at 2,000
    characters); done ones stay. Returns how many rows changed."""
    statement = (
        update(Mention)
        .where(Mention.id == bindparam("mention_id"), Mention.processing_status != "done")
        .values(processing_status="failed", error=bindparam("reason"))
    )
    result = connection.execute(statement, [{"mention_id": i, "reason": r[:2000]} for i, r in failures])
    return result.rowcount


def prune_before(connection: Connection, *, cutoff: datetime) -> tuple[int, int]:
    """Drop the texts and embeddings of mentions posted before ``cutoff`` (naive UTC); rollups
    stay. Returns (texts pruned, embeddings pruned)."""
    old_ids = select(Mention.id).where(Mention.created_at < cutoff)
    embeddings = connection.execute(delete(MentionEmbedding).where(MentionEmbedding.mention_id.in_(old_ids)))
    texts = connection.execute(
        update(Mention).where(Mention.created_at < cutoff, Mention.text.is_not(None)).values(text=None)
    )
    return texts.rowcount, embeddings.rowcount


def ping(connection: Connection) -> None:
    """One round trip: the database answers."""
    connection.execute(select(literal(1))).scalar_one()
