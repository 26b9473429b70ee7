"""Build the aggregation service for one process from the environment and configs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from inference.config_files import ConfigError
from inference.language import LanguagePolicy
from inference.settings import load_pipeline_settings
from inference.topics import load_topic_file
from inference.validation import DEFAULT_MAX_TEXT_CHARS
from storage.alert_recorder import AlertRecorder
from storage.engine import create_database_engine, normalise_database_url, shown_url
from storage.errors import DatabaseConfigError, SchemaNotReadyError
from storage.migrate import current_revision, ensure_migrated, head_revision
from storage.read_cache import ReadCache
from storage.reads import Readers, build_readers
from storage.service import AggregationService
from storage.settings import StorageSettings, database_url, load_storage_settings


def _utc_now() -> datetime:
    return datetime.now(UTC)


def ready_engine(url: str | None = None, settings: StorageSettings | None = None) -> Engine:
    """An engine on a database at this moodwire's schema: embedded SQLite is migrated on first
    use; a server database must be upgraded explicitly.

    Raises a domain error before anything else touches the database: ``DatabaseConfigError``
    (not a URL, unknown driver, no such database, refused credentials), ``SchemaNotReadyError``
    (not migrated to this version) or ``DatabaseUnavailableError`` (server unreachable).
    """
    resolved = database_url(url)
    engine = create_database_engine(resolved, settings or load_storage_settings())
    where = shown_url(resolved)
    try:
        if normalise_database_url(resolved).get_backend_name() == "sqlite":
            ensure_migrated(engine)
        else:
            current = current_revision(engine)
            if current != head_revision():
                raise SchemaNotReadyError(
                    f"the database {where} is at schema revision {current or 'none'}, this moodwire needs "
                    f"{head_revision()}: run `moodwire db upgrade`"
                )
    except BaseException:  # current_revision and ensure_migrated raise domain errors already
        engine.dispose()
        raise
    return engine


@dataclass(frozen=True)
class Storage:
    """One process's storage over one engine and one read cache: the write service, the
    readers (``storage.reads``) and the alert recorder. Writes invalidate what the readers
    of this process cached."""

    writes: AggregationService
    reads: Readers
    alerts: AlertRecorder

    @property
    def engine(self) -> Engine:
        return self.writes.engine

    @classmethod
    def over(
        cls,
        engine: Engine,
        *,
        settings: StorageSettings | None = None,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        topic_keys: Iterable[str] = (),
        clock: Callable[[], datetime] = _utc_now,
        language_policy: LanguagePolicy | None = None,
    ) -> Storage:
        """Storage over an engine already at the schema (tests, tools)."""
        settings = settings or StorageSettings()
        policy = language_policy or LanguagePolicy()
        cache = ReadCache(settings.cache_ttl_s)
        writes = AggregationService(
            engine,
            settings=settings,
            max_text_chars=max_text_chars,
            clock=clock,
            language_policy=policy,
            cache=cache,
        )
        reads = build_readers(
            engine, cache=cache, settings=settings, policy=policy, configured_topics=topic_keys, clock=clock
        )
        return cls(writes=writes, reads=reads, alerts=AlertRecorder(engine, spikes=reads.spikes, clock=clock))

    def dispose(self) -> None:
        self.engine.dispose()


def open_storage(
    url: str | None = None, *, storage_config: Path | None = None, pipeline_config: Path | None = None
) -> Storage:
    """Storage on ``ready_engine``, with the configured topics, text limit and language policy
    (supported languages, what the rollups count)."""
    settings = load_storage_settings(storage_config)
    pipeline = load_pipeline_settings(pipeline_config)
    engine = ready_engine(url, settings)
    try:
        topic_keys = [t.key for t in load_topic_file(pipeline.resolved_topics_file()).topics]
    except ConfigError:
        topic_keys = []
    return Storage.over(
        engine,
        settings=settings,
        max_text_chars=pipeline.max_text_chars,
        topic_keys=topic_keys,
        language_policy=LanguagePolicy.from_settings(pipeline),
    )


def open_service(
    url: str | None = None, *, storage_config: Path | None = None, pipeline_config: Path | None = None
) -> AggregationService:
    """The write service alone (writers: the backfill's, ``moodwire import``, ``delete``)."""
    return open_storage(url, storage_config=storage_config, pipeline_config=pipeline_config).writes


__all__ = ["DatabaseConfigError", "SchemaNotReadyError", "Storage", "open_service", "open_storage", "ready_engine"]
