"""What the readers of one process share: one engine, one read cache (which the write service
of the same process invalidates), the storage settings, the topic catalog and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from storage.read_cache import ReadCache
from storage.reads.catalog import TopicCatalog
from storage.settings import StorageSettings


@dataclass(frozen=True)
class ReadContext:
    engine: Engine
    cache: ReadCache
    settings: StorageSettings
    catalog: TopicCatalog
    clock: Callable[[], datetime]
