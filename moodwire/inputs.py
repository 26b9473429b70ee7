"""Reading mentions from ``.txt``, ``.jsonl`` and ``.csv`` files, with errors naming file:line.

The field names (``text``, ``external_id``, ``created_at``, ``source``) are the same ones the
HTTP API and the backfill use.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".csv")


class InputFileError(ValueError):
    """The input file as a whole cannot be used; the message names file (and line)."""


@dataclass(frozen=True, slots=True)
class MentionInput:
    text: str
    line: int
    external_id: str | None = None
    created_at: str | None = None
    source: str | None = None


def _optional_str(value: object, field: str, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise InputFileError(f"{where}: '{field}' must be a string, got {type(value).__name__}")


def _decoded_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    decoded = []
    for number, line in enumerate(lines, start=1):
        try:
            decoded.append(line.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{path}:{number}: invalid UTF-8 (byte {exc.start + 1} of the line)") from None
    return decoded


def _read_txt(path: Path, lines: list[str]) -> Iterator[MentionInput]:
    for number, line in enumerate(lines, start=1):
        yield MentionInput(text=line, line=number)


def _read_jsonl(path: Path, lines: list[str]) -> Iterator[MentionInput]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise InputFileError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if "text" not in obj:
            raise InputFileError(f"{where}: object has no 'text' field")
        if not isinstance(obj["text"], str):
            raise InputFileError(f"{where}: 'text' must be a string, got {type(obj['text']).__name__}")
        yield MentionInput(
            text=obj["text"],
            line=number,
            external_id=_optional_str(obj.get("external_id"), "external_id", where),
            created_at=_optional_str(obj.get("created_at"), "created_at", where),
            source=_optional_str(obj.get("source"), "source", where),
        )


def _read_csv(path: Path, lines: list[str]) -> Iterator[MentionInput]:
    reader = csv.DictReader(io.StringIO("\n".join(lines) + "\n"))
    if reader.fieldnames is None or "text" not in reader.fieldnames:
        raise InputFileError(f"{path}:1: the header has no 'text' column (found: {reader.fieldnames or []})")
    try:
        for row in reader:
            yield MentionInput(
                text=row.get("text") or "",
                line=reader.line_num,
                external_id=row.get("external_id") or None,
                created_at=row.get("created_at") or None,
                source=row.get("source") or None,
            )
    except csv.Error as exc:
        raise InputFileError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None


def read_mentions(path: Path) -> list[MentionInput]:
    """All mentions of a file, or ``InputFileError`` before anything is classified."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            f"{path}: unsupported extension '{suffix or '(none)'}'; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    lines = _decoded_lines(path)
    reader = {".txt": _read_txt, ".jsonl": _read_jsonl, ".csv": _read_csv}[suffix]
    return list(reader(path, lines))
