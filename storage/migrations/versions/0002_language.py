"""Mention language, the sentiment head's probabilities, and whether a mention is in the rollups.

- ``language``: ISO 639-1 code or ``und``; NULL for mentions classified before detection
  (they count as supported until ``db:all --model-changed`` re-processes them).
- ``sentiment_scores``: ``{"negative", "neutral", "positive"}`` from a sentiment head; NULL
  under the valence rule and for older mentions.
- ``in_rollups``: whether the mention's contribution was added to the topic rollups when it
  was written (the language rule of the settings then). Deletes, re-processing and retopic
  subtract exactly what was added even after the settings changed; ``moodwire db
  rebuild-rollups`` re-applies the current rule. Every existing mention was counted: true.

No index on ``language``: mention listings walk ``ix_mention_topics_topic_created`` and
filter the joined mention rows, and a low-cardinality index would cost every ingest.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mentions", sa.Column("language", sa.String(8), nullable=True))
    op.add_column("mentions", sa.Column("sentiment_scores", sa.JSON(), nullable=True))
    op.add_column("mentions", sa.Column("in_rollups", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    # SQLite drops columns natively since 3.35 (Python 3.11 ships 3.37 or later).
    op.drop_column("mentions", "in_rollups")
    op.drop_column("mentions", "sentiment_scores")
    op.drop_column("mentions", "language")
