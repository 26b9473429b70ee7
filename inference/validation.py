"""What makes a text acceptable, for every entry point: pure Python, no model imports.

Storage, the HTTP error table and every CLI command import this module; it must stay free
of torch and transformers so they start fast (a test checks the import graph).
"""

from __future__ import annotations

import re

DEFAULT_MAX_TEXT_CHARS = 100_000

# A lone surrogate (JSON allows "\ud800") is not a character: it cannot be encoded as UTF-8,
# stored, tokenised or hashed. NUL cannot be stored in a PostgreSQL text column.
_UNSTORABLE = re.compile("[\\ud800-\\udfff\\x00]")


class InvalidTextError(ValueError):
    """A text the pipeline refuses; ``index`` is its position in the request."""

    def __init__(self, index: int, reason: str, *, field: str = "texts[{}]") -> None:
        self.index = index
        self.reason = reason
        self.field = field
        self.param = field.format(index)
        super().__init__(f"{self.param} {reason}")

    def __reduce__(self):  # Ray pickles it between processes: rebuild from the same parts
        return _invalid_text, (self.index, self.reason, self.field)


def _invalid_text(index: int, reason: str, field: str) -> InvalidTextError:
    return InvalidTextError(index, reason, field=field)


def text_problem(text: object, max_chars: int) -> str | None:
    """Why ``text`` cannot be classified, or None."""
    if not isinstance(text, str):
        return f"must be a string, got {type(text).__name__}"
    if not text.strip():
        return "is empty"
    if len(text) > max_chars:
        return f"is {len(text)} characters long; the limit is {max_chars}"
    return unstorable_problem(text)


def unstorable_problem(value: str) -> str | None:
    """Why a string cannot be stored as it is (a lone surrogate or NUL), or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return f"contains a NUL character (U+0000) at position {found.start()}"
    return f"contains a lone surrogate (U+{ord(char):04X}) at position {found.start()}, which is not valid Unicode"
