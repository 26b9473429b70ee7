"""Mentions and their export: a topic's mentions newest first, a page at a time (keyset
pagination), and the same selection as CSV for ``GET /v1/mentions?format=csv``."""

from __future__ import annotations

from inference.language import LanguagePolicy, language_problem
from storage import export, queries
from storage.answers import ExportPage, ExportPlan, MentionsPage
from storage.errors import InvalidLanguageError, QueryError, database_errors
from storage.query_types import MAX_PAGE, SENTIMENTS, MentionFilter, MentionsQuery
from storage.reads.context import ReadContext


class MentionReads:
    def __init__(self, context: ReadContext, *, policy: LanguagePolicy) -> None:
        self.engine, self.settings, self.catalog = context.engine, context.settings, context.catalog
        self.policy = policy

    def check(self, where: MentionFilter) -> MentionFilter:
        """The filter, or the domain error that names what is wrong with it."""
        if where.sentiment is not None and where.sentiment not in SENTIMENTS:
            raise QueryError("sentiment must be positive, neutral or negative")
        problem = language_problem(where.language) if where.language is not None else None
        if problem:
            raise InvalidLanguageError(problem)
        self.catalog.check(where.topic)
        return where

    def mentions(self, query: MentionsQuery) -> MentionsPage:
        """A topic's mentions, newest first; by default only those its rollups count (mentions
        in unsupported languages are left out unless ``language`` or ``include_unsupported``)."""
        if not 1 <= query.limit <= MAX_PAGE:
            raise QueryError(f"limit must be between 1 and {MAX_PAGE}")
        where = self.check(query.where())
        with database_errors(what="reading mentions"), self.engine.connect() as connection:
            items, next_cursor = queries.mentions_page(
                connection, where=where, limit=query.limit, cursor=query.cursor, policy=self.policy
            )
        return MentionsPage(topic=query.topic, items=items, next_cursor=next_cursor)

    def export_plan(self, where: MentionFilter) -> ExportPlan:
        """Before a CSV export streams: how many rows it will have (at most
        ``max_export_rows``) and whether the filter matches more (``X-Truncated``)."""
        self.check(where)
        cap = self.settings.max_export_rows
        with database_errors(what="counting mentions to export"), self.engine.connect() as connection:
            matching = queries.count_mentions(connection, where=where, cap=cap + 1)
        return ExportPlan(rows=min(matching, cap), truncated=matching > cap)

    def export_page(self, where: MentionFilter, *, cursor: str | None = None, limit: int = 1000) -> ExportPage:
        """One page of a CSV export (``storage.export``): the same order and cursor as
        ``mentions``; rows end in CRLF, no header."""
        self.check(where)
        with database_errors(what="exporting mentions"), self.engine.connect() as connection:
            items, next_cursor = queries.mentions_page(
                connection, where=where, limit=limit, cursor=cursor, policy=self.policy
            )
            topics = queries.mention_topics(connection, mention_ids=[item.id for item in items])
        return ExportPage(csv=export.csv_rows(items, topics), rows=len(items), next_cursor=next_cursor)
