"""Reader for SemEval-2018 Task 1 E-c (``ID<TAB>Tweet<TAB>`` then one 0/1 column per emotion).

The task's eleven emotions are mapped onto the Ekman labels the model trains
(``SEMEVAL_TO_EKMAN``): anger, disgust, fear, joy, sadness and surprise are the same names;
love and optimism lean to joy and pessimism to sadness, but only for a tweet that has no
direct Ekman label (a tweet marked fear + pessimism is fear, not half sadness); anticipation
and trust have no Ekman label. A tweet with no emotion at all is ``neutral``; a tweet whose
only emotions are anticipation and/or trust gets no emotion target (its label list is empty
and the caller drops it), since calling it neutral would teach the wrong thing.
"""

from __future__ import annotations

import csv
from pathlib import Path

from training.goemotions import DatasetError, LabelledSplit

SEMEVAL_EMOTIONS = (
    "anger",
    "anticipation",
    "disgust",
    "fear",
    "joy",
    "love",
    "optimism",
    "pessimism",
    "sadness",
    "surprise",
    "trust",
)
# Same-named labels: taken whenever marked.
SEMEVAL_DIRECT = {"anger", "disgust", "fear", "joy", "sadness", "surprise"}
# Leaning labels: used only when a tweet has no direct one.
SEMEVAL_LEANING = {"love": "joy", "optimism": "joy", "pessimism": "sadness"}
SEMEVAL_TO_EKMAN = {**{name: name for name in SEMEVAL_DIRECT}, **SEMEVAL_LEANING}
# SemEval -> sentiment, for the derived sentiment targets: only labels with a clear polarity.
SEMEVAL_POSITIVE = {"joy", "love", "optimism"}
SEMEVAL_NEGATIVE = {"anger", "disgust", "fear", "sadness", "pessimism"}


def ekman_labels_of(marked: set[str], ekman: list[str]) -> list[int]:
    """Indices into ``ekman`` of the labels a tweet marked with ``marked`` trains on."""
    direct = sorted(ekman.index(name) for name in marked & SEMEVAL_DIRECT)
    if direct:
        return direct
    leaning = sorted({ekman.index(SEMEVAL_LEANING[name]) for name in marked & SEMEVAL_LEANING.keys()})
    if leaning:
        return leaning
    if not marked:
        return [ekman.index("neutral")]
    return []  # anticipation / trust only: no Ekman target


def sentiment_of(marked: set[str]) -> str | None:
    """``positive``/``negative`` for a tweet whose marked emotions agree on a polarity,
    ``neutral`` for one with none, ``None`` when they disagree or carry none (trust alone)."""
    if not marked:
        return "neutral"
    positive, negative = bool(marked & SEMEVAL_POSITIVE), bool(marked & SEMEVAL_NEGATIVE)
    if positive == negative:
        return None
    return "positive" if positive else "negative"


def read_semeval(folder: Path, split: str, ekman: list[str]) -> tuple[LabelledSplit, list[str | None]]:
    """``{split}.tsv`` of an E-c folder: its tweets with Ekman label indices (an empty list: no
    emotion target) and each tweet's derived sentiment (``sentiment_of``)."""
    missing = sorted((set(SEMEVAL_TO_EKMAN.values()) | {"neutral"}) - set(ekman))
    if missing:
        raise DatasetError(f"SemEval E-c needs the labels {missing} among {ekman}")
    path = folder / f"{split}.tsv"
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    texts: list[str] = []
    labels: list[list[int]] = []
    polarity: list[str | None] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        expected = ["ID", "Tweet", *SEMEVAL_EMOTIONS]
        if header is None or [h.strip() for h in header] != expected:
            raise DatasetError(f"{path}:1: expected the header {'<TAB>'.join(expected)}")
        for line_no, row in enumerate(reader, start=2):
            if len(row) != len(expected):
                raise DatasetError(f"{path}:{line_no}: expected {len(expected)} tab-separated columns, got {len(row)}")
            flags = [value.strip() for value in row[2:]]
            if any(flag not in {"0", "1"} for flag in flags):
                raise DatasetError(f"{path}:{line_no}: emotion columns must be 0 or 1")
            marked = {name for name, flag in zip(SEMEVAL_EMOTIONS, flags, strict=True) if flag == "1"}
            texts.append(row[1].strip())
            labels.append(ekman_labels_of(marked, ekman))
            polarity.append(sentiment_of(marked))
    return LabelledSplit(texts=texts, labels=labels, label_names=list(ekman)), polarity
