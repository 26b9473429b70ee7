"""Which topics exist: the configured ones and those with stored rollups.

Every reader that takes a topic checks it here first, so an unknown topic is a 404 (or exit
code 2) before any query runs. A topic once seen is remembered: topics only disappear when
every mention of theirs is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from storage import repository
from storage.answers import TopicInfo
from storage.errors import UnknownTopicError, database_errors
from storage.times import iso_utc


class TopicCatalog:
    def __init__(self, engine: Engine, configured: Iterable[str] = ()) -> None:
        self.engine = engine
        self.configured = frozenset(configured)
        self._seen: set[str] = set()

    def check(self, topic: str) -> None:
        """``UnknownTopicError`` unless ``topic`` is configured or has stored rollups."""
        if topic in self.configured or topic in self._seen:
            return
        with database_errors(what="reading topics"), self.engine.connect() as connection:
            if not repository.topic_exists(connection, topic=topic):
                raise UnknownTopicError(f"unknown topic {topic!r}")
        self._seen.add(topic)

    def topics(self) -> list[TopicInfo]:
        """Every configured or stored topic, by key: its counted mentions and newest hour."""
        with database_errors(what="reading topics"), self.engine.connect() as connection:
            stored = {key: (count, latest) for key, count, latest in repository.known_topics(connection)}
        return [
            TopicInfo(
                key=key,
                mentions=stored.get(key, (0, None))[0],
                latest_bucket=iso_utc(latest) if (latest := stored.get(key, (0, None))[1]) else None,
                configured=key in self.configured,
            )
            for key in sorted(self.configured | set(stored))
        ]
