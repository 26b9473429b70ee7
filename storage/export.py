"""CSV export of mentions: RFC 4180 (commas, CRLF, quotes doubled) with the cells of
free-text columns neutralised against formula injection, as OWASP advises: a cell that a
spreadsheet would read as a formula gets a leading ``'``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from storage.answers import MentionItem

COLUMNS = (
    "external_id",
    "created_at",
    "source",
    "language",
    "text",
    "emotion",
    "sentiment",
    "sentiment_score",
    "topics",
)
TEXT_COLUMNS = frozenset({"external_id", "source", "text", "topics"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TOPIC_SEPARATOR = ";"


def neutralise(cell: str) -> str:
    """``cell`` with a leading ``'`` when it starts like a formula (``=``, ``+``, ``-``, ``@``,
    tab or carriage return), else unchanged."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def header() -> str:
    """The first line of every export."""
    return ",".join(COLUMNS) + "\r\n"


def csv_rows(items: Sequence[MentionItem], topics: dict[int, list[str]]) -> str:
    """Listing items (``storage.queries.mentions_page``) as CSV lines, with every topic of
    each mention joined by ``;``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for item in items:
        score = item.sentiment.score
        row = {
            "external_id": item.external_id or "",
            "created_at": item.created_at,
            "source": item.source or "",
            "language": item.language or "",
            "text": item.text or "",
            "emotion": item.emotion.label or "",
            "sentiment": item.sentiment.label or "",
            "sentiment_score": "" if score is None else f"{score:.4f}",
            "topics": TOPIC_SEPARATOR.join(topics.get(item.id, [])),
        }
        writer.writerow([neutralise(row[c]) if c in TEXT_COLUMNS else row[c] for c in COLUMNS])
    return buffer.getvalue()
