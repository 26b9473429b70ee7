"""Reader for the TweetEval layout (``{split}_text.txt`` + ``{split}_labels.txt`` + ``mapping.txt``).

Labels are mapped onto the label names the caller trains (``label_map``), so the emotion
task's anger/joy/optimism/sadness land on the Ekman labels (``TWEET_EMOTION_TO_EKMAN``).
"""

from __future__ import annotations

from pathlib import Path

from training.goemotions import DatasetError, LabelledSplit

# TweetEval emotion -> Ekman. Optimism has no Ekman label of its own: its tweets are hopeful
# and positive ("can't wait for the weekend"), which GoEmotions' Ekman grouping files
# under joy (optimism is one of joy's sub-emotions there), so it is counted as joy.
TWEET_EMOTION_TO_EKMAN = {"anger": "anger", "joy": "joy", "optimism": "joy", "sadness": "sadness"}
# TweetEval emotion -> sentiment: every one of its four emotions carries a clear polarity.
TWEET_EMOTION_TO_SENTIMENT = {"anger": "negative", "joy": "positive", "optimism": "positive", "sadness": "negative"}


def read_mapping(folder: Path) -> list[str]:
    path = folder / "mapping.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: missing (expected 'index<TAB>label' lines)")
    names: list[str] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip().isdigit() or int(parts[0]) != len(names):
            raise DatasetError(f"{path}:{line_no}: expected '{len(names)}<TAB>label'")
        names.append(parts[1].strip())
    return names


def read_tweeteval(folder: Path, split: str, label_map: dict[str, str], target_labels: list[str]) -> LabelledSplit:
    """``split`` of a TweetEval task folder, labels mapped to indices of ``target_labels``."""
    names = read_mapping(folder)
    unknown = sorted({label_map.get(n, n) for n in names} - set(target_labels))
    if unknown:
        raise DatasetError(f"{folder / 'mapping.txt'}: labels {unknown} have no target among {target_labels}")
    text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    for path in (text_path, label_path):
        if not path.is_file():
            raise DatasetError(f"{path}: missing")
    texts = text_path.read_text(encoding="utf-8").splitlines()
    raw = label_path.read_text(encoding="utf-8").splitlines()
    if len(texts) != len(raw):
        raise DatasetError(f"{label_path}: {len(raw)} labels for {len(texts)} texts in {text_path.name}")
    labels: list[list[int]] = []
    for line_no, value in enumerate(raw, start=1):
        value = value.strip()
        if not value.isdigit() or int(value) >= len(names):
            raise DatasetError(f"{label_path}:{line_no}: label {value!r} outside 0..{len(names) - 1}")
        labels.append([target_labels.index(label_map.get(names[int(value)], names[int(value)]))])
    return LabelledSplit(texts=[t.strip() for t in texts], labels=labels, label_names=list(target_labels))
