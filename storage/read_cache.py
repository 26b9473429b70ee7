"""The readers' TTL cache, shared by the write service of the same process, which invalidates
it after every write. Its three invalidation rules:

1. ``(area, topic, ...)`` keys (aggregates, baselines, spike explanations): dropped when a
   write touches ``topic``;
2. ``EVERY_TOPIC`` keys (trends): dropped by a write to any topic;
3. ``SCORED_UP_TO`` keys (spike scorings, keyed ``(..., complete)``): they read only hours
   before ``complete``, so a write drops them only when it lands before that (late data,
   a backfill); writes to the running hour leave them be. A delete (``earliest`` unknown)
   drops them all.

``rebuild_rollups`` clears everything. Each process has its own cache: a reader may see data
up to ``cache_ttl_s`` old after another process wrote.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime
from typing import TypeVar, cast

T = TypeVar("T")

EVERY_TOPIC = frozenset({"trends"})
SCORED_UP_TO = frozenset({"scores"})
CacheKey = tuple[Hashable, ...]


class ReadCache:
    def __init__(self, ttl_s: float) -> None:
        """``ttl_s`` 0 or less: no caching at all (every call computes)."""
        self.ttl_s = ttl_s
        self._items: dict[CacheKey, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: CacheKey, compute: Callable[[], T]) -> T:
        """The cached value of ``key`` while fresh, else ``compute()`` (stored for ``ttl_s``).
        A key always maps to the value its ``compute`` returns, so the cast is safe."""
        if self.ttl_s <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                return cast(T, hit[1])
        value = compute()
        with self._lock:
            self._items[key] = (now + self.ttl_s, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def invalidate(self, topics: Iterable[str], earliest: datetime | None = None) -> None:
        """Drop what a write to ``topics`` changes; ``earliest``: the oldest posting time it
        wrote (aware UTC), None when unknown (deletes): every scoring goes."""
        touched = set(topics)
        if not touched:
            return

        def stale(key: CacheKey) -> bool:
            if key[0] in SCORED_UP_TO:
                last = key[-1]
                return earliest is None or not isinstance(last, datetime) or earliest < last
            return key[0] in EVERY_TOPIC or key[1] in touched

        with self._lock:
            for key in [k for k in self._items if stale(k)]:
                del self._items[key]
