"""Counted mentions per model version, topic and hour (``topic_model_rollups``).

Spike detection mutes a topic's mix shifts while its baseline window holds mentions of more
than one ``model_version``. It used to find those topics by grouping the window's mentions
(a scan of weeks of mentions per request); this rollup answers it from a table about the
size of ``topic_rollups``. Ingest, re-processing, deletes, topic re-scoring and ``moodwire
db rebuild-rollups`` keep it exact, like the other rollups; the upgrade fills it from the
mentions already counted (NULL versions as '').

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

HOUR_SQL = {
    "postgresql": "date_trunc('hour', t.created_at)",
    # SQLAlchemy's SQLite datetime text, so the hours compare with those it writes.
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', t.created_at)",
}


def upgrade() -> None:
    op.create_table(
        "topic_model_rollups",
        sa.Column("topic_key", sa.String(64), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(), primary_key=True),
        sa.Column("model_version", sa.String(256), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    hour = HOUR_SQL.get(op.get_bind().dialect.name, HOUR_SQL["postgresql"])
    op.execute(
        f"""
        INSERT INTO topic_model_rollups (topic_key, bucket_start, model_version, count)
        SELECT t.topic_key, {hour}, COALESCE(m.model_version, ''), count(*)
        FROM mention_topics t JOIN mentions m ON m.id = t.mention_id
        WHERE m.processing_status = 'done' AND m.in_rollups
        GROUP BY 1, 2, 3
        """
    )


def downgrade() -> None:
    op.drop_table("topic_model_rollups")
