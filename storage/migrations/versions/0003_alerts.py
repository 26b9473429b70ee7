"""Alerts and their deliveries (issue 14).

- ``alerts``: one row per pushed spike, unique on (topic_key, kind, bucket_start), so a
  restarted or re-run watcher can never record a second alert for the same spike.
- ``alert_deliveries``: per target, ``pending`` / ``delivered`` / ``failed`` / ``suppressed``
  with attempts and the last error; the watcher resends the pending ones after a restart.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("topic_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("bucket_start", sa.DateTime(), nullable=False),
        sa.Column("bucket_end", sa.DateTime(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("spike", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("topic_key", "kind", "bucket_start", name="uq_alerts_topic_kind_bucket"),
    )
    op.create_index("ix_alerts_bucket_start", "alerts", ["bucket_start"])
    op.create_table(
        "alert_deliveries",
        sa.Column("alert_id", BigId, sa.ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("target", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_alert_deliveries_state", "alert_deliveries", ["state"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_state", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_bucket_start", table_name="alerts")
    op.drop_table("alerts")
