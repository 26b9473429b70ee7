"""What the aggregation service accepts, and the boundary checks every entry point shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from inference.cache import content_hash
from inference.schemas import MentionResult
from inference.validation import DEFAULT_MAX_TEXT_CHARS, text_problem, unstorable_problem
from storage.settings import StorageSettings


class InvalidRecordError(ValueError):
    """A record the service refuses; nothing of its batch was written.

    ``field`` is the record's offending field and ``problem`` what is wrong with it, so each
    face can name it its own way (``items[3].created_at``, ``mentions.jsonl:4``).
    """

    def __init__(self, index: int, field: str, problem: str) -> None:
        self.index = index
        self.field = field
        self.problem = problem
        self.reason = f"{field} {problem}"
        super().__init__(f"records[{index}]: {self.reason}")

    def __reduce__(self):  # Ray pickles it between processes: rebuild from the same parts
        return type(self), (self.index, self.field, self.problem)


@dataclass(frozen=True, slots=True)
class RecordRules:
    """What storage accepts: the one set of rules every path validates against, once.

    ``future_tolerance`` is ``future_tolerance_s`` of ``configs/storage.yaml`` (clock skew
    allowed for ``created_at``); ``max_text_chars`` is the pipeline's.
    """

    max_text_chars: int
    future_tolerance: timedelta

    @classmethod
    def from_settings(cls, storage: StorageSettings, *, max_text_chars: int) -> RecordRules:
        return cls(max_text_chars=max_text_chars, future_tolerance=timedelta(seconds=storage.future_tolerance_s))

    @classmethod
    def default(cls) -> RecordRules:
        """The rules of the default settings (tests, tools without configuration)."""
        return cls.from_settings(StorageSettings(), max_text_chars=DEFAULT_MAX_TEXT_CHARS)


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
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value > now.replace(tzinfo=None) + future_tolerance:
        raise ValueError(f"{value.isoformat()}Z is in the future")
    return value


@dataclass(frozen=True, slots=True)
class MentionRecord:
    """A mention as a client sent it, before or after classification. ``text`` is None only
    for a row recorded as failed whose text could not be kept (missing, not text, too long)."""

    text: str | None
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


@dataclass(frozen=True, slots=True)
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


def record_problem(record: MentionRecord, *, rules: RecordRules, now: datetime) -> tuple[str, str] | None:
    """``(field, problem)`` for the first thing storage would refuse in ``record``, or None."""
    problem = text_problem(record.text, rules.max_text_chars)
    if problem:
        return "text", problem
    if record.external_id is not None and not (0 < len(record.external_id) <= 256):
        return "external_id", "must be 1 to 256 characters"
    if record.source is not None and len(record.source) > 128:
        return "source", "must be at most 128 characters"
    for name in ("external_id", "source"):
        value = getattr(record, name)
        problem = unstorable_problem(value) if isinstance(value, str) else None
        if problem:
            return name, problem
    try:
        parse_timestamp(record.created_at, now=now, future_tolerance=rules.future_tolerance)
    except ValueError as exc:
        return "created_at", str(exc)
    return None


def _prepared(record: MentionRecord, created: datetime | None, now: datetime) -> PreparedMention:
    """``record`` with its content hash and idempotency key; no posting time: ``now``."""
    digest = content_hash(record.text or "")
    source = record.source or None
    return PreparedMention(
        record=record,
        content_hash=digest,
        created_at=created or now.astimezone(UTC).replace(tzinfo=None),
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


def prepare(
    records: Sequence[MentionRecord],
    *,
    rules: RecordRules,
    now: datetime,
    require_result: bool,
    checked: bool = False,
) -> list[PreparedMention]:
    """Validate a whole batch before anything is written, and compute the storage keys.

    ``checked``: the records passed ``record_problem`` earlier on the same path (a backfill's
    validate stage), so only the keys are computed here.
    """
    prepared = []
    for index, record in enumerate(records):
        if not checked:
            problem = record_problem(record, rules=rules, now=now)
            if problem:
                raise InvalidRecordError(index, *problem)
        if require_result and (record.result is None or record.model_version is None):
            raise InvalidRecordError(index, "result", "is missing: a classified record needs result and model_version")
        created = parse_timestamp(
            record.created_at, now=now, future_tolerance=_ANY_TIME if checked else rules.future_tolerance
        )
        prepared.append(_prepared(record, created, now))
    return prepared


def prepare_failed(
    failures: Sequence[tuple[MentionRecord, str]], *, max_text_chars: int, now: datetime
) -> list[PreparedMention]:
    """Rows a job could not process, keyed like any other so a re-run records them once:
    the reason kept (2,000 characters at most), a text that is not a string or over
    ``max_text_chars`` not kept, an unparseable posting time replaced by ``now``."""
    prepared = []
    for record, reason in failures:
        text = record.text if isinstance(record.text, str) and len(record.text) <= max_text_chars else None
        try:
            created = parse_timestamp(record.created_at, now=now, future_tolerance=_ANY_TIME)
        except ValueError:
            created = None
        kept = MentionRecord(
            text=text,
            external_id=record.external_id,
            source=record.source,
            error=reason[:2000],
            key_by_content=record.key_by_content,
        )
        prepared.append(_prepared(kept, created, now))
    return prepared


_ANY_TIME = timedelta(days=36_500)  # checked records: their time passed the rules already


def embedding_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def embedding_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)
