"""Stored mentions as a backfill source, read in id ranges (many small reads, never one huge query).

``db:pending`` selects mentions an outside collector stored unclassified;
``db:all --model-changed`` selects classified mentions whose ``model_version`` is not the
current one. Either way the results are written back onto the same rows (by mention id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

import numpy as np

PENDING = "db:pending"
ALL = "db:all"
DB_SOURCES = (PENDING, ALL)


@dataclass(frozen=True)
class Selection:
    """Which stored mentions a database source reads; plain data, shipped to read tasks."""

    kind: str  # "pending" or "model_changed"
    current_version: str | None = None

    def condition(self):
        from sqlalchemy import and_, or_

        from storage.models import Mention

        if self.kind == "pending":
            return Mention.processing_status == "pending"
        return and_(
            Mention.processing_status == "done",
            Mention.text.is_not(None),  # a pruned text cannot be classified again
            or_(Mention.model_version.is_(None), Mention.model_version != self.current_version),
        )


def selection_for(sources: list[str], *, model_changed: bool, current_version: str) -> Selection | None:
    """The database selection the SOURCE arguments name, or None for files."""
    named = [s for s in sources if s in DB_SOURCES]
    if not named:
        if model_changed:
            raise ValueError("--model-changed applies to the db:all source only")
        return None
    if len(sources) > 1:
        raise ValueError(f"{named[0]} cannot be combined with other sources")
    if named[0] == PENDING:
        if model_changed:
            raise ValueError("--model-changed applies to db:all, not db:pending")
        return Selection("pending")
    if not model_changed:
        raise ValueError(
            "db:all needs --model-changed: mentions already classified by the current models are up to date"
        )
    return Selection("model_changed", current_version)


def id_ranges(url: str, selection: Selection, size: int) -> list[dict]:
    """Half-open id ranges ``[lo, hi)`` of ``size`` ids covering the selected mentions."""
    from sqlalchemy import func, select

    from storage.engine import create_database_engine, shown_url
    from storage.errors import database_errors
    from storage.models import Mention

    engine = create_database_engine(url)
    try:
        with (
            database_errors(what="selecting the mentions to backfill", where=shown_url(url)),
            engine.connect() as connection,
        ):
            lo, hi = connection.execute(
                select(func.min(Mention.id), func.max(Mention.id)).where(selection.condition())
            ).one()
    finally:
        engine.dispose()
    if lo is None:
        return []
    return [{"lo": start, "hi": min(start + size, hi + 1)} for start in range(lo, hi + 1, size)]


def read_id_range(batch: dict, *, database_url: str, selection: Selection) -> dict:
    """Read the selected mentions of some id ranges (a short-lived connection per task)."""
    from sqlalchemy import select

    from storage.engine import create_database_engine
    from storage.models import Mention

    engine = create_database_engine(database_url)
    columns: dict[str, list] = {"mention_id": [], "text": [], "external_id": [], "created_at": [], "source": []}
    try:
        with engine.connect() as connection:
            for lo, hi in zip(batch["lo"], batch["hi"], strict=True):
                rows = connection.execute(
                    select(Mention.id, Mention.text, Mention.external_id, Mention.created_at, Mention.source)
                    .where(selection.condition(), Mention.id >= int(lo), Mention.id < int(hi))
                    .order_by(Mention.id)
                )
                for mention_id, text, external_id, created_at, source in rows:
                    columns["mention_id"].append(mention_id)
                    columns["text"].append(text)
                    columns["external_id"].append(external_id)
                    columns["created_at"].append(created_at.replace(tzinfo=UTC))  # stored as naive UTC
                    columns["source"].append(source)
    finally:
        engine.dispose()
    return {k: np.array(v, dtype=np.int64 if k == "mention_id" else object) for k, v in columns.items()}
