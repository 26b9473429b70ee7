"""Re-scoring stored embeddings against a new topic file, one id range per transaction.

Each range replaces the topics of its mentions and moves their rollup contributions from
the old topics to the new ones in the same transaction, so an interrupted run leaves every
range either fully old or fully new, and running again finishes the rest (a re-scored
mention with unchanged topics changes nothing). A mention left out of the rollups by the
language rule (``mentions.in_rollups`` false) gets its new topics and moves no rollup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, and_, delete, func, select

from inference.versions import embedded_by
from storage import repository
from storage.models import (
    Mention,
    MentionEmbedding,
    MentionTopic,
    TopicEmotionRollup,
    TopicModelRollup,
    TopicRollup,
    TopicShareRollup,
)
from storage.records import embedding_from_bytes
from storage.rollups import Contribution, RollupDelta

# Stored vectors are float16: their scores differ from the float32 ones in the 4th decimal.
SCORE_TOLERANCE = 5e-3

# (embeddings) -> per row, [(topic_key, score), ...]
TopicSelector = Callable[[np.ndarray], list[list[tuple[str, float]]]]


@dataclass
class RescoreReport:
    scanned: int = 0
    changed: int = 0
    stale_embeddings: int = 0  # embedded by another model: re-run the backfill first
    touched_topics: set[str] = field(default_factory=set)

    def add(self, other: RescoreReport) -> None:
        self.scanned += other.scanned
        self.changed += other.changed
        self.stale_embeddings += other.stale_embeddings
        self.touched_topics |= other.touched_topics


def embedded_id_bounds(connection: Connection) -> tuple[int | None, int | None]:
    """Lowest and highest id of the classified mentions that still have an embedding."""
    return connection.execute(
        select(func.min(MentionEmbedding.mention_id), func.max(MentionEmbedding.mention_id))
    ).one()


def count_unembedded(connection: Connection) -> int:
    """Classified mentions without an embedding (pruned): they keep the topics they have."""
    statement = (
        select(func.count())
        .select_from(Mention)
        .outerjoin(MentionEmbedding, MentionEmbedding.mention_id == Mention.id)
        .where(Mention.processing_status == "done", MentionEmbedding.mention_id.is_(None))
    )
    return int(connection.execute(statement).scalar_one())


def rescore_range(
    connection: Connection, *, lo: int, hi: int, select_topics: TopicSelector, embedding_version: str
) -> RescoreReport:
    """Re-score the classified mentions with ids in ``[lo, hi)``."""
    report = RescoreReport()
    rows = connection.execute(
        select(
            Mention.id,
            Mention.created_at,
            Mention.sentiment_score,
            Mention.sentiment_label,
            Mention.emotion_label,
            Mention.emotion_scores,
            Mention.sentiment_scores,
            Mention.in_rollups,
            Mention.model_version.label("mention_model_version"),
            MentionEmbedding.vector,
            MentionEmbedding.model_version,
        )
        .join(MentionEmbedding, MentionEmbedding.mention_id == Mention.id)
        .where(Mention.processing_status == "done", Mention.id >= lo, Mention.id < hi)
        .order_by(Mention.id)
    ).all()
    current = [r for r in rows if embedded_by(r.model_version, embedding_version)]
    report.scanned = len(rows)
    report.stale_embeddings = len(rows) - len(current)
    if not current:
        return report
    old_topics: dict[int, dict[str, float]] = {r.id: {} for r in current}
    for mention_id, topic_key, score in connection.execute(
        select(MentionTopic.mention_id, MentionTopic.topic_key, MentionTopic.score).where(
            and_(MentionTopic.mention_id >= lo, MentionTopic.mention_id < hi)
        )
    ):
        if mention_id in old_topics:
            old_topics[mention_id][topic_key] = score
    new_topics = select_topics(np.stack([embedding_from_bytes(r.vector) for r in current]))

    delta = RollupDelta()
    changed_ids: list[int] = []
    topic_rows: list[dict] = []
    for row, picked in zip(current, new_topics, strict=True):
        fresh = dict(picked)
        before = old_topics[row.id]
        if fresh.keys() == before.keys() and all(abs(fresh[k] - before[k]) <= SCORE_TOLERANCE for k in fresh):
            continue
        changed_ids.append(row.id)
        topic_rows.extend(
            {"mention_id": row.id, "topic_key": key, "score": score, "created_at": row.created_at}
            for key, score in fresh.items()
        )
        if set(fresh) != set(before) and row.in_rollups:  # scores alone do not move rollups
            delta.add(_contribution(row, before), sign=-1)
            delta.add(_contribution(row, fresh))
    repository.delete_topics(connection, mention_ids=changed_ids)
    repository.insert_topics(connection, rows=topic_rows)
    repository.apply_rollup_delta(connection, delta=delta)
    report.changed = len(changed_ids)
    report.touched_topics = delta.topics
    return report


def _contribution(row, topics: dict[str, float]) -> Contribution:
    return Contribution(
        created_at=row.created_at,
        topics=tuple(sorted(topics)),
        sentiment_score=row.sentiment_score,
        sentiment_label=row.sentiment_label,
        emotion_label=row.emotion_label,
        model_version=row.mention_model_version,
        emotion_scores=row.emotion_scores,
        sentiment_scores=row.sentiment_scores,
    )


def drop_empty_rollups(connection: Connection, *, topics: Sequence[str]) -> int:
    """Remove rollup rows a re-scoring emptied, so a topic no mention has any more is gone."""
    if not topics:
        return 0
    removed = connection.execute(
        delete(TopicRollup).where(TopicRollup.topic_key.in_(list(topics)), TopicRollup.count == 0)
    ).rowcount
    connection.execute(
        delete(TopicEmotionRollup).where(TopicEmotionRollup.topic_key.in_(list(topics)), TopicEmotionRollup.count == 0)
    )
    connection.execute(
        delete(TopicModelRollup).where(TopicModelRollup.topic_key.in_(list(topics)), TopicModelRollup.count == 0)
    )
    hour_left = select(TopicRollup.topic_key).where(
        TopicRollup.topic_key == TopicShareRollup.topic_key, TopicRollup.bucket_start == TopicShareRollup.bucket_start
    )
    connection.execute(
        delete(TopicShareRollup).where(TopicShareRollup.topic_key.in_(list(topics)), ~hour_left.exists())
    )
    return removed
