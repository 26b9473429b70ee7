"""Writing mentions: idempotent classified ingest, raw import and deletion, rollups in step.

Each function runs inside the caller's transaction, so the mention rows, their topics and
embeddings and the rollups always change together or not at all. Whether a classified
mention counts in the rollups is decided once, when it is written, by the language policy
(``inference.language.LanguagePolicy``), and recorded in ``mentions.in_rollups``: a delete
or a re-processing subtracts exactly what was added, whatever the settings are now.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from inference.language import LanguagePolicy
from storage import repository
from storage.records import PreparedMention, embedding_bytes
from storage.result_columns import ROW_COLUMNS, result_row, result_topics
from storage.rollups import Contribution, RollupDelta


@dataclass
class WriteReport:
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    missing: int = 0  # re-processed mentions deleted in the meantime
    mention_ids: list[int] = field(default_factory=list)  # in input order (duplicates too)
    touched_topics: set[str] = field(default_factory=set)


def _result_columns(p: PreparedMention, policy: LanguagePolicy) -> dict:
    result = p.record.result
    assert result is not None
    return {
        "processing_status": "done",
        "error": None,
        **result_row(result),
        "model_version": p.record.model_version,
        "in_rollups": policy.counts_in_rollups(result.language),
    }


def _new_row(p: PreparedMention, now: datetime, *, policy: LanguagePolicy | None = None) -> dict:
    """A mention row; classified (with its results) when a ``policy`` decides its rollups."""
    row = {
        "external_id": p.record.external_id,
        "idempotency_key": p.idempotency_key,
        "content_hash": p.content_hash,
        "text": p.record.text,
        "source": p.source,
        "created_at": p.created_at,
        "ingested_at": now,
        "processing_status": "pending",
        "error": None,
        **dict.fromkeys(ROW_COLUMNS),
        "model_version": None,
        "in_rollups": True,
    }
    if policy is not None:
        row.update(_result_columns(p, policy))
    return row


def _contribution(p: PreparedMention) -> Contribution:
    result = p.record.result
    assert result is not None
    return Contribution(
        created_at=p.created_at,
        topics=tuple(sorted({t.key for t in result.topics})),
        sentiment_score=result.sentiment.score,
        sentiment_label=result.sentiment.label,
        emotion_label=result.emotion.label,
        model_version=p.record.model_version,
        emotion_scores=result.emotion.scores,
        sentiment_scores=result.sentiment.scores,
    )


def _unique_by_key(prepared: Sequence[PreparedMention]) -> tuple[list[PreparedMention], list[int]]:
    """First occurrence of each idempotency key wins; ``slots[i]`` maps input i to it."""
    unique: list[PreparedMention] = []
    first: dict[str, int] = {}
    slots: list[int] = []
    for p in prepared:
        key = f"id:{p.record.mention_id}" if p.record.mention_id is not None else p.idempotency_key
        if key is not None and key in first:
            slots.append(first[key])
            continue
        if key is not None:
            first[key] = len(unique)
        slots.append(len(unique))
        unique.append(p)
    return unique, slots


def write_classified(
    connection: Connection, *, prepared: Sequence[PreparedMention], now: datetime, policy: LanguagePolicy
) -> WriteReport:
    report = WriteReport()
    unique, slots = _unique_by_key(prepared)
    report.duplicates += len(prepared) - len(unique)
    by_id = [p for p in unique if p.record.mention_id is not None]
    stored = repository.find_by_keys(
        connection,
        keys=[p.idempotency_key for p in unique if p.idempotency_key is not None and p.record.mention_id is None],
    )
    stored_by_id = repository.find_by_ids(
        connection, mention_ids=[p.record.mention_id for p in by_id if p.record.mention_id is not None]
    )
    delta = RollupDelta()
    ids: list[int | None] = [None] * len(unique)
    fresh_keyless: list[int] = []
    fresh_keyed: list[int] = []
    updates: list[int] = []
    for slot, p in enumerate(unique):
        if p.record.mention_id is not None:
            existing = stored_by_id.get(p.record.mention_id)
            if existing is None:  # deleted since it was read: nothing to update
                report.missing += 1
                continue
        else:
            existing = stored.get(p.idempotency_key) if p.idempotency_key else None
        if existing is None:
            (fresh_keyed if p.idempotency_key else fresh_keyless).append(slot)
        elif existing.processing_status == "done" and existing.model_version == p.record.model_version:
            ids[slot] = existing.id
            report.duplicates += 1
        else:
            ids[slot] = existing.id
            updates.append(slot)
            if not p.given_created_at:  # re-processing keeps the stored posting time
                unique[slot] = dataclasses.replace(p, created_at=existing.created_at)
            if existing.contribution is not None:
                delta.add(existing.contribution, sign=-1)

    for slot, mention_id in zip(
        fresh_keyless,
        repository.insert_mentions(connection, rows=[_new_row(unique[s], now, policy=policy) for s in fresh_keyless]),
        strict=True,
    ):
        ids[slot] = mention_id
    keyed_ids = repository.insert_mentions_if_absent(
        connection, rows=[_new_row(unique[s], now, policy=policy) for s in fresh_keyed]
    )
    written = list(fresh_keyless) + list(updates)
    for slot in fresh_keyed:
        key = unique[slot].idempotency_key
        stored_id = keyed_ids.get(key) if key is not None else None
        if stored_id is None:  # a concurrent writer stored the same key first
            report.duplicates += 1
            continue
        ids[slot] = stored_id
        written.append(slot)
    report.inserted = len(written) - len(updates)
    report.updated = len(updates)
    _write_results(
        connection, unique, _assigned(ids, written), written=written, updates=updates, policy=policy, delta=delta
    )
    report.touched_topics = delta.topics
    report.mention_ids = [mention_id for mention_id in (ids[s] for s in slots) if mention_id is not None]
    return report


def _assigned(ids: list[int | None], slots: Sequence[int]) -> dict[int, int]:
    """slot -> mention id for ``slots``, every one of which was inserted or found above."""
    out = {}
    for slot in slots:
        mention_id = ids[slot]
        assert mention_id is not None, "a written slot has its mention id"
        out[slot] = mention_id
    return out


def _write_results(
    connection: Connection,
    unique: Sequence[PreparedMention],
    ids: dict[int, int],
    *,
    written: Sequence[int],
    updates: Sequence[int],
    policy: LanguagePolicy,
    delta: RollupDelta,
) -> None:
    """The written mentions' results, topics, embeddings and rollups (``written``: new and
    updated slots; ``updates``: the slots whose stored row is replaced)."""

    repository.update_mentions(
        connection,
        rows=[
            {
                "mention_id": ids[s],
                "created_at": unique[s].created_at,
                "text": unique[s].record.text,  # a row recorded as failed may come back fixed
                "content_hash": unique[s].content_hash,
            }
            | _result_columns(unique[s], policy)
            for s in updates
        ],
    )
    repository.delete_topics(connection, mention_ids=[ids[s] for s in updates])
    topic_rows: list[dict] = []
    embedding_rows: list[dict] = []
    for slot in written:
        p = unique[slot]
        result = p.record.result
        assert result is not None
        topic_rows.extend(
            {"mention_id": ids[slot], "topic_key": t.key, "score": t.score, "created_at": p.created_at}
            for t in result_topics(result)
        )
        if p.record.embedding is not None:
            embedding_rows.append(
                {
                    "mention_id": ids[slot],
                    "dim": int(p.record.embedding.shape[0]),
                    "vector": embedding_bytes(p.record.embedding),
                    "model_version": p.record.model_version,
                }
            )
        if policy.counts_in_rollups(result.language):
            delta.add(_contribution(p))
    repository.insert_topics(connection, rows=topic_rows)
    repository.upsert_embeddings(connection, rows=embedding_rows)
    repository.apply_rollup_delta(connection, delta=delta)


def write_raw(connection: Connection, *, prepared: Sequence[PreparedMention], now: datetime) -> WriteReport:
    """Store unclassified mentions as 'pending'; an already stored key is left as it is."""
    report = WriteReport()
    unique, _ = _unique_by_key(prepared)
    keyless = [p for p in unique if p.idempotency_key is None]
    keyed = [p for p in unique if p.idempotency_key is not None]
    report.mention_ids = repository.insert_mentions(connection, rows=[_new_row(p, now) for p in keyless])
    inserted = repository.insert_mentions_if_absent(connection, rows=[_new_row(p, now) for p in keyed])
    report.mention_ids += list(inserted.values())
    report.inserted = len(report.mention_ids)
    report.duplicates = len(prepared) - report.inserted
    return report


def write_failed(connection: Connection, *, prepared: Sequence[PreparedMention], now: datetime) -> WriteReport:
    """Record mentions that could not be processed as 'failed' with ``record.error``.

    A key that is already stored (say, processed fine by an earlier run) is left as it is.
    """
    rows = []
    for p in prepared:
        row = _new_row(p, now)
        row.update(processing_status="failed", error=p.record.error)
        rows.append(row)
    keyless = [r for r in rows if r["idempotency_key"] is None]
    keyed = [r for r in rows if r["idempotency_key"] is not None]
    report = WriteReport()
    report.mention_ids = repository.insert_mentions(connection, rows=keyless)
    report.mention_ids += list(repository.insert_mentions_if_absent(connection, rows=keyed).values())
    report.inserted = len(report.mention_ids)
    report.duplicates = len(rows) - report.inserted
    return report


def delete_by_external_ids(connection: Connection, *, external_ids: Sequence[str]) -> tuple[list[str], set[str]]:
    """Remove mentions and their contribution to the rollups; returns (deleted ids, topics)."""
    stored = repository.find_by_external_ids(connection, external_ids=list(dict.fromkeys(external_ids)))
    delta = RollupDelta()
    for mention in stored:
        if mention.contribution is not None:
            delta.add(mention.contribution, sign=-1)
    repository.delete_mentions(connection, mention_ids=[m.id for m in stored])
    repository.apply_rollup_delta(connection, delta=delta)
    return [m.external_id for m in stored if m.external_id is not None], delta.topics
