"""Typed SQLAlchemy 2.0 models. The schema itself is created by Alembic migrations only.

Timestamps are stored as UTC without a time zone in both PostgreSQL and SQLite, so the two
back ends compare and truncate them the same way; the boundaries of the service convert.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Mention(Base):
    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(256), unique=True)
    # "ext:<external_id>", or "hash:<content_hash>|<source>|<created_at>" when the client
    # gave created_at, else NULL (a new mention every time).
    idempotency_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)  # NULL once pruned by retention
    source: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(), index=True)
    ingested_at: Mapped[datetime] = mapped_column(DateTime())
    processing_status: Mapped[str] = mapped_column(String(16))  # partial index: see migration 0001
    error: Mapped[str | None] = mapped_column(Text)
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    sentiment_label: Mapped[str | None] = mapped_column(String(16))
    emotion_label: Mapped[str | None] = mapped_column(String(32))
    emotion_scores: Mapped[dict | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(256))
    # Migration 0002: ISO 639-1 or 'und' (NULL: classified before detection); the sentiment
    # head's three probabilities; whether its contribution is in the topic rollups.
    language: Mapped[str | None] = mapped_column(String(8))
    sentiment_scores: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    in_rollups: Mapped[bool] = mapped_column(Boolean, server_default=true())


class MentionTopic(Base):
    __tablename__ = "mention_topics"
    __table_args__ = (
        # Serves "mentions of topic X, newest first" with keyset pagination.
        Index("ix_mention_topics_topic_created", "topic_key", "created_at", "mention_id"),
        Index("ix_mention_topics_topic_key", "topic_key"),
    )

    mention_id: Mapped[int] = mapped_column(BigId, ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)
    topic_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime())  # copy of mentions.created_at


class MentionEmbedding(Base):
    __tablename__ = "mention_embeddings"

    mention_id: Mapped[int] = mapped_column(BigId, ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float16, little-endian
    model_version: Mapped[str | None] = mapped_column(String(256))


class TopicRollup(Base):
    __tablename__ = "topic_rollups"

    topic_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)  # UTC hour
    count: Mapped[int] = mapped_column(BigInteger)
    sentiment_sum: Mapped[float] = mapped_column(Float)
    sentiment_sq_sum: Mapped[float] = mapped_column(Float)
    positive_count: Mapped[int] = mapped_column(BigInteger)
    neutral_count: Mapped[int] = mapped_column(BigInteger)
    negative_count: Mapped[int] = mapped_column(BigInteger)
    # Migration 0005: how many of ``count`` have adjusted share contributions, per output.
    sentiment_adjusted_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    emotion_adjusted_count: Mapped[int] = mapped_column(BigInteger, server_default="0")


class TopicEmotionRollup(Base):
    """Count per emotion label per topic and hour (labels depend on the emotion model)."""

    __tablename__ = "topic_emotion_rollups"

    topic_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    emotion_label: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class TopicShareRollup(Base):
    """Summed share contributions per topic, hour, output and label (migration 0005):
    ``share_sum / count`` is the adjusted share, ``share_sq_sum`` gives its standard error
    (``inference.share_adjustment``). Sums add, so any range of hours is estimated alike."""

    __tablename__ = "topic_share_rollups"

    topic_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    output: Mapped[str] = mapped_column(String(16), primary_key=True)  # "sentiment" | "emotion"
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    share_sum: Mapped[float] = mapped_column(Float)
    share_sq_sum: Mapped[float] = mapped_column(Float)


class TopicModelRollup(Base):
    """Counted mentions per model version per topic and hour (migration 0004; '' = unknown):
    which topics mix model versions in a window, answered from rollups."""

    __tablename__ = "topic_model_rollups"

    topic_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(256), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class Alert(Base):
    """A spike the watcher pushes (migration 0003): one row per (topic, kind, bucket), ever.

    ``spike`` holds the answer's fields of the spike with its explanation, as first found,
    so a delivery retried after a restart sends what was recorded.
    """

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("topic_key", "kind", "bucket_start", name="uq_alerts_topic_kind_bucket"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(48))
    bucket_start: Mapped[datetime] = mapped_column(DateTime(), index=True)
    bucket_end: Mapped[datetime] = mapped_column(DateTime())
    severity: Mapped[int] = mapped_column(Integer)
    spike: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime())


class AlertDelivery(Base):
    """An alert's delivery to one target: ``pending`` until sent, then ``delivered`` or
    ``failed`` (with the reason); ``suppressed`` when a cooldown or the daily cap held it."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_state", "state"),)

    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime())
