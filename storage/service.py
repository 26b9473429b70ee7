"""The write service: every write to the mentions and their rollups goes through here.

``AggregationService`` owns its pooled engine (build one per process) and the read cache that
the readers of the same process share (``storage.reads``, ``storage.read_cache``): after each
write it invalidates what the write changed. Reads live in the readers; alerts are recorded
by ``storage.alert_recorder``. In a multi-replica deployment each replica has its own cache,
so a reader may see data up to ``cache_ttl_s`` old after another replica wrote.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from inference.language import LanguagePolicy
from storage import rebuild, repository
from storage.errors import database_errors
from storage.ingest import WriteReport, delete_by_external_ids, write_classified, write_failed, write_raw
from storage.read_cache import ReadCache
from storage.records import MentionRecord, PreparedMention, RecordRules, prepare, prepare_failed
from storage.settings import StorageSettings

Writer = Callable[..., WriteReport]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AggregationService:
    def __init__(
        self,
        engine: Engine,
        *,
        settings: StorageSettings | None = None,
        max_text_chars: int = 100_000,
        clock: Callable[[], datetime] = _utc_now,
        language_policy: LanguagePolicy | None = None,
        cache: ReadCache | None = None,
    ) -> None:
        """``language_policy``: the supported languages and which mentions the rollups count
        (``LanguagePolicy.from_settings`` of the pipeline settings; default: English);
        ``cache``: the readers' cache to invalidate (``storage.factory.Storage`` shares one)."""
        self.engine = engine
        # Write errors name an SQLite file (the operator's own path); never a server's address.
        url = getattr(engine, "url", None)  # None: a service over no database (the unit tier's)
        self.where = str(url.database or "") if url is not None and url.get_backend_name() == "sqlite" else ""
        self.settings = settings or StorageSettings()
        self.language_policy = language_policy or LanguagePolicy()
        self.max_text_chars = max_text_chars
        self.rules = RecordRules.from_settings(self.settings, max_text_chars=max_text_chars)
        self.clock = clock
        self.cache = cache if cache is not None else ReadCache(self.settings.cache_ttl_s)

    def prepare_records(
        self, records: Sequence[MentionRecord], *, require_result: bool, checked: bool = False
    ) -> list[PreparedMention]:
        """Validate a batch (``InvalidRecordError`` names the first bad record) and key it."""
        return prepare(records, rules=self.rules, now=self.clock(), require_result=require_result, checked=checked)

    def _write(self, writer: Writer, prepared: Sequence[PreparedMention], what: str) -> WriteReport:
        now = self.clock().astimezone(UTC).replace(tzinfo=None)
        # Bulk writes on PostgreSQL go through the raw DB-API cursor: its errors count too.
        errors = database_errors(what=f"{what} of {len(prepared)} mentions", where=self.where)
        with errors, self.engine.begin() as connection:
            report = writer(connection, prepared=prepared, now=now)
        earliest = min((p.created_at for p in prepared), default=None)
        self.cache.invalidate(report.touched_topics, earliest.replace(tzinfo=UTC) if earliest else None)
        return report

    def ingest(self, records: Sequence[MentionRecord], *, checked: bool = False) -> WriteReport:
        """Store classified mentions in one transaction; replays change nothing."""
        return self.ingest_prepared(self.prepare_records(records, require_result=True, checked=checked))

    def ingest_prepared(self, prepared: Sequence[PreparedMention]) -> WriteReport:
        """Store mentions a caller validated and keyed with ``prepare_records`` (the Gateway)."""
        writer = functools.partial(write_classified, policy=self.language_policy)
        return self._write(writer, prepared, "ingest")

    def import_raw(self, records: Sequence[MentionRecord]) -> WriteReport:
        """Store mentions as 'pending' for a later backfill."""
        prepared = self.prepare_records(records, require_result=False)
        return self._write(write_raw, prepared, "import")

    def record_failed(self, failures: Sequence[tuple[MentionRecord, str]]) -> WriteReport:
        """Store rows a job could not process as 'failed' with the reason, so they are
        counted and can be inspected or retried; texts over the limit are not kept."""
        prepared = prepare_failed(failures, max_text_chars=self.max_text_chars, now=self.clock())
        return self._write(write_failed, prepared, "recording failures")

    def mark_failed(self, failures: Sequence[tuple[int, str]]) -> int:
        """Mark stored, unfinished mentions (by id) as failed with a reason; done ones stay."""
        if not failures:
            return 0
        with database_errors(what="marking failed mentions"), self.engine.begin() as connection:
            return repository.mark_failed(connection, failures=failures)

    def store_job_batch(
        self,
        records: Sequence[MentionRecord],
        failed: Sequence[tuple[MentionRecord, str]] = (),
        failed_stored: Sequence[tuple[int, str]] = (),
    ) -> dict[str, int]:
        """One batch of a bulk job: classified rows (validated by the job's validate stage
        against ``self.rules``), rows that failed it, and stored mentions that could not be
        re-processed. Each part is idempotent on its own, so a batch cut short by a crash is
        completed by running the job again."""
        report = self.ingest(records, checked=True) if records else None
        if failed:
            self.record_failed(failed)
        self.mark_failed(failed_stored)
        return {
            "read": len(records) + len(failed) + len(failed_stored),
            "stored": report.inserted + report.updated if report else 0,
            "duplicates": report.duplicates if report else 0,
            "failed": len(failed) + len(failed_stored),
        }

    def delete(self, external_ids: Sequence[str]) -> list[str]:
        """Remove mentions (takedowns, privacy requests) and their part of the rollups."""
        with database_errors(what="delete"), self.engine.begin() as connection:
            deleted, topics = delete_by_external_ids(connection, external_ids=external_ids)
        self.cache.invalidate(topics)
        return deleted

    def rebuild_rollups(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Recompute every topic rollup from the stored mentions under ``language_policy``,
        in one transaction (``storage.rebuild``); ``progress(ids)`` after each id range."""
        with database_errors(what="rebuilding the rollups"), self.engine.begin() as connection:
            report = rebuild.rebuild_rollups(connection, policy=self.language_policy, progress=progress)
        self.cache.clear()
        return {
            "mentions_counted": report.counted,
            "mentions_left_out": report.left_out,
            "topics": report.topics,
            "rollup_rows": report.rollup_rows,
        }

    def mention_id_span(self) -> int:
        """How many ids ``rebuild_rollups`` walks (its progress total)."""
        with database_errors(what="reading mention ids"), self.engine.connect() as connection:
            lo, hi = rebuild.id_bounds(connection)
        return 0 if lo is None or hi is None else hi - lo + 1

    def prune(self, older_than_days: float) -> dict[str, int]:
        """Drop texts and embeddings of old mentions; rollups (and so aggregates) stay."""
        cutoff = (self.clock() - timedelta(days=older_than_days)).astimezone(UTC).replace(tzinfo=None)
        with database_errors(what="prune"), self.engine.begin() as connection:
            texts, embeddings = repository.prune_before(connection, cutoff=cutoff)
        return {"texts_pruned": texts, "embeddings_pruned": embeddings}

    def ping(self) -> bool:
        """True when the database answers (``/readyz``); a domain error otherwise."""
        with database_errors(what="the readiness check"), self.engine.connect() as connection:
            repository.ping(connection)
        return True
