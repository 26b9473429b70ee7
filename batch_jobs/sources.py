"""Backfill sources: files or globs of .jsonl, .csv or .parquet, checked before Ray starts."""

from __future__ import annotations

import glob
from pathlib import Path

FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


class SourceError(ValueError):
    """A SOURCE argument names nothing readable; the job stops before any work."""


def resolve_sources(sources: list[str]) -> tuple[str, list[str]]:
    """``(format, absolute paths)``; every SOURCE must match files of one supported format."""
    paths: list[str] = []
    for source in sources:
        if "://" in source:  # s3://, gs://... are read by pyarrow on a real cluster
            paths.append(source)
            continue
        matches = sorted(glob.glob(source)) if any(ch in source for ch in "*?[") else [source]
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            raise SourceError(f"SOURCE {source!r}: no such file")
        paths.extend(str(Path(m).resolve()) for m in matches)
    kinds = {FORMATS.get(Path(p.split("?")[0]).suffix.lower()) for p in paths}
    if None in kinds:
        bad = next(p for p in paths if Path(p).suffix.lower() not in FORMATS)
        raise SourceError(f"SOURCE {bad!r}: unsupported extension; use .jsonl, .csv or .parquet")
    if len(kinds) != 1:
        raise SourceError("all SOURCE files of one job must have the same format")
    return kinds.pop(), paths
