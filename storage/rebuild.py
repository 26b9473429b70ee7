"""Recomputing every topic rollup from the stored mentions under the current language rule.

Run after changing ``supported_languages`` or ``rollup_languages``, or after an upgrade that
adds share corrections (``moodwire db rebuild-rollups``): ``mentions.in_rollups`` is set again
from each mention's language, the rollups are emptied and summed again from the rows (each
share contribution with its own model version's correction), one id range at a time, all in
the caller's one transaction. On PostgreSQL the mention and rollup tables are locked against
writes first (reads go on and see the old rollups until the commit), so an ingest running
meanwhile waits instead of being counted twice or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, false, func, or_, select, text, true, update

from inference.language import UND, LanguagePolicy
from storage import repository
from storage.models import Mention, MentionTopic, TopicEmotionRollup, TopicModelRollup, TopicRollup, TopicShareRollup
from storage.rollups import Contribution, RollupDelta

LOCKED_TABLES = (
    "mentions",
    "mention_topics",
    "topic_rollups",
    "topic_emotion_rollups",
    "topic_model_rollups",
    "topic_share_rollups",
)


@dataclass
class RebuildReport:
    counted: int = 0  # classified mentions in the rollups now
    left_out: int = 0  # classified mentions the language rule keeps out
    topics: int = 0
    rollup_rows: int = 0


def counts_condition(policy: LanguagePolicy):
    """SQL for ``policy.counts_in_rollups(mentions.language)``."""
    if policy.rollups == "all":
        return true()
    return or_(Mention.language.is_(None), Mention.language.in_(sorted(policy.supported | {UND})))


def id_bounds(connection: Connection) -> tuple[int | None, int | None]:
    return connection.execute(select(func.min(Mention.id), func.max(Mention.id))).one()


def rebuild_rollups(
    connection: Connection,
    *,
    policy: LanguagePolicy,
    range_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Empty and recompute ``topic_rollups``, ``topic_emotion_rollups`` and ``topic_model_rollups`` in the caller's
    transaction; ``progress(ids)`` is called after each id range."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {', '.join(LOCKED_TABLES)} IN EXCLUSIVE MODE"))
    counts = counts_condition(policy)
    # The first statement writes, so SQLite takes its write lock before anything is read.
    connection.execute(update(Mention).values(in_rollups=counts))
    connection.execute(delete(TopicRollup))
    connection.execute(delete(TopicEmotionRollup))
    connection.execute(delete(TopicModelRollup))
    connection.execute(delete(TopicShareRollup))
    report = RebuildReport()
    done = Mention.processing_status == "done"
    report.counted, report.left_out = connection.execute(
        select(
            func.count().filter(Mention.in_rollups == true()),
            func.count().filter(Mention.in_rollups == false()),
        ).where(done)
    ).one()
    lo, hi = id_bounds(connection)
    topics: set[str] = set()
    starts = range(lo, hi + 1, range_size) if lo is not None and hi is not None else range(0)
    for start in starts:
        delta = RollupDelta()
        rows = connection.execute(
            select(
                MentionTopic.topic_key,
                Mention.created_at,
                Mention.sentiment_score,
                Mention.sentiment_label,
                Mention.emotion_label,
                Mention.model_version,
                Mention.emotion_scores,
                Mention.sentiment_scores,
            )
            .join(Mention, Mention.id == MentionTopic.mention_id)
            .where(done, Mention.in_rollups == true(), and_(Mention.id >= start, Mention.id < start + range_size))
        )
        # one row per mention and topic
        for topic, created_at, score, label, emotion, version, emotion_scores, sentiment_scores in rows:
            if score is None or label is None or emotion is None:
                continue  # a classified mention always has them; a row without counts nowhere
            delta.add(
                Contribution(
                    created_at=created_at,
                    topics=(topic,),
                    sentiment_score=score,
                    sentiment_label=label,
                    emotion_label=emotion,
                    model_version=version,
                    emotion_scores=emotion_scores,
                    sentiment_scores=sentiment_scores,
                )
            )
        repository.apply_rollup_delta(connection, delta=delta)
        topics |= delta.topics
        if progress is not None:
            progress(min(range_size, starts.stop - start))
    report.topics = len(topics)
    report.rollup_rows = int(connection.execute(select(func.count()).select_from(TopicRollup)).scalar_one())
    return report
