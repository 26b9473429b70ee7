"""Initial schema: mentions, topics, embeddings and hourly topic rollups.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mentions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("idempotency_key", sa.String(400), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("source", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("processing_status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("sentiment_label", sa.String(16), nullable=True),
        sa.Column("emotion_label", sa.String(32), nullable=True),
        sa.Column("emotion_scores", sa.JSON(), nullable=True),
        sa.Column("model_version", sa.String(256), nullable=True),
        sa.UniqueConstraint("external_id", name="uq_mentions_external_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_mentions_idempotency_key"),
        sa.CheckConstraint(
            "processing_status IN ('pending', 'processing', 'done', 'failed')", name="ck_mentions_status"
        ),
    )
    op.create_index("ix_mentions_created_at", "mentions", ["created_at"])
    # Partial: only unfinished mentions are looked up by status (backfill of pending work),
    # and leaving the 'done' majority out keeps every ingest from maintaining it.
    op.create_index(
        "ix_mentions_processing_status",
        "mentions",
        ["processing_status"],
        postgresql_where=sa.text("processing_status <> 'done'"),
        sqlite_where=sa.text("processing_status <> 'done'"),
    )
    op.create_table(
        "mention_topics",
        sa.Column("mention_id", BigId, sa.ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("topic_key", sa.String(64), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_mention_topics_topic_key", "mention_topics", ["topic_key"])
    op.create_index("ix_mention_topics_topic_created", "mention_topics", ["topic_key", "created_at", "mention_id"])
    op.create_table(
        "mention_embeddings",
        sa.Column("mention_id", BigId, sa.ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("model_version", sa.String(256), nullable=True),
    )
    op.create_table(
        "topic_rollups",
        sa.Column("topic_key", sa.String(64), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sentiment_sum", sa.Float(), nullable=False),
        sa.Column("sentiment_sq_sum", sa.Float(), nullable=False),
        sa.Column("positive_count", sa.BigInteger(), nullable=False),
        sa.Column("neutral_count", sa.BigInteger(), nullable=False),
        sa.Column("negative_count", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "topic_emotion_rollups",
        sa.Column("topic_key", sa.String(64), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(), primary_key=True),
        sa.Column("emotion_label", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("topic_emotion_rollups")
    op.drop_table("topic_rollups")
    op.drop_table("mention_embeddings")
    op.drop_index("ix_mention_topics_topic_created", table_name="mention_topics")
    op.drop_index("ix_mention_topics_topic_key", table_name="mention_topics")
    op.drop_table("mention_topics")
    op.drop_index("ix_mentions_processing_status", table_name="mentions")
    op.drop_index("ix_mentions_created_at", table_name="mentions")
    op.drop_table("mentions")
