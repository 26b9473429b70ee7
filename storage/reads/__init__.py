"""The readers, by area: aggregates and trends (``topics``), mentions and export
(``mentions``), spikes (``spikes``), the page's answers (``page``) and recorded alerts
(``alerts``). Each takes the engine, cache and settings it needs and returns the typed answers
of ``storage.answers``; the write service (``storage.service``) invalidates the cache they share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from inference.language import LanguagePolicy
from storage.read_cache import ReadCache
from storage.reads.alerts import AlertReads
from storage.reads.catalog import TopicCatalog
from storage.reads.context import ReadContext
from storage.reads.mentions import MentionReads
from storage.reads.page import PageReads
from storage.reads.spikes import SpikeReads
from storage.reads.topics import TopicReads
from storage.settings import StorageSettings


@dataclass(frozen=True)
class Readers:
    catalog: TopicCatalog
    topics: TopicReads
    mentions: MentionReads
    spikes: SpikeReads
    page: PageReads
    alerts: AlertReads


def build_readers(
    engine: Engine,
    *,
    cache: ReadCache,
    settings: StorageSettings,
    policy: LanguagePolicy,
    configured_topics: Iterable[str],
    clock: Callable[[], datetime],
) -> Readers:
    """Every reader over one engine and one cache."""
    catalog = TopicCatalog(engine, configured_topics)
    context = ReadContext(engine=engine, cache=cache, settings=settings, catalog=catalog, clock=clock)
    topics, spikes = TopicReads(context), SpikeReads(context)
    return Readers(
        catalog=catalog,
        topics=topics,
        mentions=MentionReads(context, policy=policy),
        spikes=spikes,
        page=PageReads(context, topics=topics, spikes=spikes),
        alerts=AlertReads(engine),
    )


__all__ = ["Readers", "build_readers"]
