"""What the aggregation service accepts, and the boundary checks every entry point shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from inference.cache import content_hash
from inference.pipeline import text_problem
from inference.schemas import MentionResult


class InvalidRecordError(ValueError):
    """A record the service refuses; nothing of its batch was written."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"records[{index}]: {reason}")
        self.index = index
        self.reason = reason


def parse_timestamp(value: str | datetime | None, *, now: datetime, future_tolerance: timedelta) -> datetime | None:
    """UTC, naive (the storage convention). Timestamps without a zone are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"created_at {value!r} is not an ISO 8601 timestamp") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value > now.replace(tzinfo=None) + future_tolerance:
        raise ValueError(f"created_at {value.isoformat()}Z is in the future")
    return value


@dataclass(frozen=True, slots=True)
class MentionRecord:
    """A mention as a client sent it, before or after classification."""

    text: str
    external_id: str | None = None
    created_at: str | datetime | None = None
    source: str | None = None
    result: MentionResult | None = None
    embedding: np.ndarray | None = None
    model_version: str | None = None
    error: str | None = None  # why processing failed (recorded with status 'failed')
    mention_id: int | None = None  # set when re-processing a stored mention (db: sources)
    # Bulk jobs: with no external_id and no posting time, identify the row by text and source,
    # so re-running a job stores it once (online, such a mention is new each time it is sent).
    key_by_content: bool = False


@dataclass(slots=True)
class PreparedMention:
    """A validated record with its storage keys computed."""

    record: MentionRecord
    content_hash: str
    created_at: datetime
    given_created_at: bool
    idempotency_key: str | None
    source: str | None = field(default=None)


def idempotency_key(
    *,
    external_id: str | None,
    digest: str,
    source: str | None,
    created_at: datetime | None,
    by_content: bool = False,
) -> str | None:
    if external_id is not None:
        return f"ext:{external_id}"
    if created_at is not None:
        return f"hash:{digest}|{source or ''}|{created_at.isoformat()}"
    if by_content:
        return f"hash:{digest}|{source or ''}|"
    return None


def prepare(
    records: Sequence[MentionRecord],
    *,
    now: datetime,
    max_text_chars: int,
    future_tolerance: timedelta,
    require_result: bool,
) -> list[PreparedMention]:
    """Validate a whole batch before anything is written."""
    prepared = []
    for index, record in enumerate(records):
        problem = text_problem(record.text, max_text_chars)
        if problem:
            raise InvalidRecordError(index, f"text {problem}")
        if record.external_id is not None and not (0 < len(record.external_id) <= 256):
            raise InvalidRecordError(index, "external_id must be 1 to 256 characters")
        if record.source is not None and len(record.source) > 128:
            raise InvalidRecordError(index, "source must be at most 128 characters")
        if require_result and (record.result is None or record.model_version is None):
            raise InvalidRecordError(index, "a classified record needs result and model_version")
        try:
            created = parse_timestamp(record.created_at, now=now, future_tolerance=future_tolerance)
        except ValueError as exc:
            raise InvalidRecordError(index, str(exc)) from None
        digest = content_hash(record.text)
        source = record.source or None
        prepared.append(
            PreparedMention(
                record=record,
                content_hash=digest,
                created_at=created or now.replace(tzinfo=None),
                given_created_at=created is not None,
                idempotency_key=idempotency_key(
                    external_id=record.external_id,
                    digest=digest,
                    source=source,
                    created_at=created,
                    by_content=record.key_by_content,
                ),
                source=source,
            )
        )
    return prepared


def embedding_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def embedding_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)
