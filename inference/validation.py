"""What makes a text acceptable, for every entry point: pure Python, no model imports.

Storage, the HTTP error table and every CLI command import this module; it must stay free
of torch and transformers so they start fast (a test checks the import graph).
"""

from __future__ import annotations

DEFAULT_MAX_TEXT_CHARS = 100_000


class InvalidTextError(ValueError):
    """A text the pipeline refuses; ``index`` is its position in the request."""

    def __init__(self, index: int, reason: str, *, field: str = "texts[{}]") -> None:
        self.index = index
        self.reason = reason
        self.param = field.format(index)
        super().__init__(f"{self.param} {reason}")


def text_problem(text: object, max_chars: int) -> str | None:
    """Why ``text`` cannot be classified, or None."""
    if not isinstance(text, str):
        return f"must be a string, got {type(text).__name__}"
    if not text.strip():
        return "is empty"
    if len(text) > max_chars:
        return f"is {len(text)} characters long; the limit is {max_chars}"
    return None
