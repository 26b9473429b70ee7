"""Reader for the GoEmotions TSV layout (``text<TAB>label_ids<TAB>comment_id``, no header)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """The training data folder or one of its files is not in the expected layout."""


@dataclass(frozen=True)
class LabelledSplit:
    """One split: texts with their (multi-label) gold label indices."""

    texts: list[str]
    labels: list[list[int]]
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def read_label_names(data_dir: Path) -> list[str]:
    path = data_dir / "labels.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: missing (expected one label name per line)")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) < 2:
        raise DatasetError(f"{path}: needs at least two labels, found {len(names)}")
    return names


def read_split(data_dir: Path, split: str, *, limit: int | None = None) -> LabelledSplit:
    """Read ``{split}.tsv``; rows with no valid label are an error naming the line."""
    label_names = read_label_names(data_dir)
    path = data_dir / f"{split}.tsv"
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    texts: list[str] = []
    labels: list[list[int]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for line_no, row in enumerate(reader, start=1):
            if len(row) < 2:
                raise DatasetError(f"{path}:{line_no}: expected text<TAB>label_ids")
            try:
                ids = sorted({int(part) for part in row[1].split(",")})
            except ValueError:
                raise DatasetError(f"{path}:{line_no}: label ids {row[1]!r} are not integers") from None
            if not ids or any(i < 0 or i >= len(label_names) for i in ids):
                raise DatasetError(f"{path}:{line_no}: label ids {row[1]!r} outside 0..{len(label_names) - 1}")
            texts.append(row[0])
            labels.append(ids)
            if limit is not None and len(texts) >= limit:
                break
    return LabelledSplit(texts=texts, labels=labels, label_names=label_names)
