"""Share rollups: summed adjusted share contributions per topic, hour, output and label.

Shares that analysts quote come from adjusted classify-and-count (``inference.share_adjustment``):
each counted mention adds a vector per output (sentiment, emotion), kept summed with its
squares in ``topic_share_rollups``; ``topic_rollups`` counts how many mentions were adjusted.
The upgrade fills the new table from the label counts already there, so every mention stored
before it counts its top label (``share_estimator: counts``) until ``moodwire db
rebuild-rollups`` recomputes the sums with each model version's correction.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topic_share_rollups",
        sa.Column("topic_key", sa.String(64), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(), primary_key=True),
        sa.Column("output", sa.String(16), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("share_sum", sa.Float(), nullable=False),
        sa.Column("share_sq_sum", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("topic_rollups") as batch:
        batch.add_column(sa.Column("sentiment_adjusted_count", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("emotion_adjusted_count", sa.BigInteger(), nullable=False, server_default="0"))
    for label in ("positive", "neutral", "negative"):
        op.execute(
            f"""
            INSERT INTO topic_share_rollups (topic_key, bucket_start, output, label, share_sum, share_sq_sum)
            SELECT topic_key, bucket_start, 'sentiment', '{label}', {label}_count, {label}_count
            FROM topic_rollups WHERE {label}_count <> 0
            """
        )
    op.execute(
        """
        INSERT INTO topic_share_rollups (topic_key, bucket_start, output, label, share_sum, share_sq_sum)
        SELECT topic_key, bucket_start, 'emotion', emotion_label, count, count
        FROM topic_emotion_rollups WHERE count <> 0
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("topic_rollups") as batch:
        batch.drop_column("emotion_adjusted_count")
        batch.drop_column("sentiment_adjusted_count")
    op.drop_table("topic_share_rollups")
