"""The alerts the watcher recorded, newest bucket first, with each target's delivery state."""

from __future__ import annotations

from sqlalchemy import Engine

from storage import alert_store
from storage.answers import AlertsAnswer
from storage.errors import QueryError, database_errors
from storage.query_types import MAX_PAGE, AlertsQuery


class AlertReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def alerts(self, query: AlertsQuery) -> AlertsAnswer:
        """Pending, delivered, failed (with the reason) or suppressed (a cooldown, a cap)."""
        if not 1 <= query.limit <= MAX_PAGE:
            raise QueryError(f"limit must be between 1 and {MAX_PAGE}, got {query.limit}")
        with database_errors(what="reading alerts"), self.engine.connect() as connection:
            found = alert_store.list_alerts(connection, since=query.since, topic=query.topic, limit=query.limit)
        return AlertsAnswer(alerts=found)
