"""Training rows and dev sets of every source: GoEmotions, its sentiment groups and TweetEval.

Multi-label rows get a soft target spread evenly over their gold labels (``soft_targets``),
so each head stays a single-label softmax classifier; a zero weight means "no target for this
head" (GoEmotions' "ambiguous" group, TweetEval sentiment rows on the emotion head).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.heads import SENTIMENT_LABELS
from training.config import TrainConfig
from training.goemotions import DatasetError, LabelledSplit, read_split
from training.tweeteval import TWEET_EMOTION_TO_EKMAN, TWEET_EMOTION_TO_SENTIMENT, read_tweeteval

GROUP_TO_SENTIMENT = {"negative": "negative", "neutral": "neutral", "positive": "positive"}  # ambiguous: none

# Our own hand-written sentiment checks of the kinds moodwire is judged on (customer service,
# politics, general): with TweetEval's val part they set the sentiment head's biases.
SENTIMENT_CHECK_FILES = ("sentiment_service.tsv", "sentiment_politics.tsv", "sentiment_general.tsv")


@dataclass(frozen=True)
class DataFolders:
    """Where each source lives; ``None`` when it was not given or not found."""

    ekman: Path
    groups: Path | None = None
    tweet_sentiment: Path | None = None
    tweet_emotion: Path | None = None

    @classmethod
    def find(cls, goemotions: Path, tweeteval: Path | None = None) -> DataFolders:
        """``goemotions`` is the GoEmotions root (``ekman/`` and, used when present, ``group/``)
        or an Ekman-format folder alone (emotion targets only, as the first stage trains)."""
        root = (goemotions / "ekman" / "labels.txt").is_file()
        ekman = goemotions / "ekman" if root else goemotions
        groups = goemotions / "group" if root and (goemotions / "group" / "labels.txt").is_file() else None
        sentiment = emotion = None
        if tweeteval is not None:
            if not tweeteval.is_dir():
                raise DatasetError(f"{tweeteval}: not a folder")
            sentiment, emotion = tweeteval / "sentiment", tweeteval / "emotion"
            missing = [str(p) for p in (sentiment, emotion) if not (p / "mapping.txt").is_file()]
            if missing:
                raise DatasetError(f"{', '.join(missing)}: missing TweetEval task folder (mapping.txt)")
        return cls(ekman=ekman, groups=groups, tweet_sentiment=sentiment, tweet_emotion=emotion)

    @property
    def has_sentiment(self) -> bool:
        return self.groups is not None or self.tweet_sentiment is not None


@dataclass
class TrainingRows:
    """Texts with per-head soft targets; a zero weight means "no target for this head"."""

    texts: list[str] = field(default_factory=list)
    emotion: list[np.ndarray] = field(default_factory=list)
    emotion_weight: list[float] = field(default_factory=list)
    sentiment: list[np.ndarray] = field(default_factory=list)
    sentiment_weight: list[float] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        source: str,
        texts: list[str],
        emotion: list[np.ndarray],
        emotion_weight: list[float],
        sentiment: list[np.ndarray],
        sentiment_weight: list[float],
    ) -> None:
        self.texts.extend(texts)
        self.emotion.extend(emotion)
        self.emotion_weight.extend(emotion_weight)
        self.sentiment.extend(sentiment)
        self.sentiment_weight.extend(sentiment_weight)
        self.sources[source] = self.sources.get(source, 0) + len(texts)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class DevSet:
    """A held-out split scored on one head; ``scored`` limits macro-F1 to the labels it has."""

    name: str
    head: str  # "emotion" | "sentiment"
    texts: list[str]
    gold: list[list[int]]
    scored: list[int] | None = None


def soft_targets(labels: list[list[int]], width: int) -> list[np.ndarray]:
    """One row per label set: its ``width`` outputs, the gold ones sharing 1 evenly."""
    rows = []
    for ids in labels:
        row = np.zeros(width, dtype=np.float32)
        if ids:
            row[ids] = 1.0 / len(ids)
        rows.append(row)
    return rows


def _group_sentiment(groups: LabelledSplit) -> tuple[list[np.ndarray], list[float]]:
    """GoEmotions sentiment groups as (negative, neutral, positive) targets; ambiguous: none."""
    index = {
        name: SENTIMENT_LABELS.index(GROUP_TO_SENTIMENT[name])
        for name in groups.label_names
        if name in GROUP_TO_SENTIMENT
    }
    mapped = [[index[groups.label_names[i]] for i in ids if groups.label_names[i] in index] for ids in groups.labels]
    return soft_targets(mapped, 3), [1.0 if ids else 0.0 for ids in mapped]


def load_training_data(folders: DataFolders, config: TrainConfig) -> tuple[list[str], TrainingRows, list[DevSet]]:
    """Emotion labels, training rows of every source and the dev sets, per ``folders``."""
    limit = config.limit
    dev_limit = limit and max(limit // 4, 50)
    train = read_split(folders.ekman, "train", limit=limit)
    dev = read_split(folders.ekman, "dev", limit=dev_limit)
    labels = train.label_names
    rows = TrainingRows()
    dev_sets = [DevSet("goemotions_dev", "emotion", dev.texts, dev.labels)]
    _add_goemotions(rows, train, folders, config)
    if folders.tweet_sentiment is not None:
        dev_sets.append(_add_tweet_sentiment(rows, folders.tweet_sentiment, len(labels), config, dev_limit))
    if folders.tweet_emotion is not None:
        dev_sets.append(_add_tweet_emotion(rows, folders, labels, config, dev_limit))
    return labels, rows, dev_sets


def _add_goemotions(rows: TrainingRows, train: LabelledSplit, folders: DataFolders, config: TrainConfig) -> None:
    """GoEmotions/Ekman emotion targets, with its sentiment groups' weaker targets when present
    (``derived_sentiment_weight``); ``goemotions_fraction`` keeps a seeded sample of the rows."""
    width = len(train.label_names)
    zeros3 = [np.zeros(3, dtype=np.float32)] * len(train)
    sentiment, sentiment_weight = zeros3, [0.0] * len(train)
    if folders.groups is not None:
        groups = read_split(folders.groups, "train", limit=config.limit)
        if groups.texts != train.texts:
            raise DatasetError(f"{folders.groups}/train.tsv: rows differ from {folders.ekman}/train.tsv")
        sentiment, present = _group_sentiment(groups)
        sentiment_weight = [w * config.derived_sentiment_weight for w in present]
    keep = list(range(len(train)))
    if config.goemotions_fraction < 1.0:
        keep = sorted(random.Random(config.seed).sample(keep, max(1, int(len(keep) * config.goemotions_fraction))))
    emotion = soft_targets(train.labels, width)
    rows.add(
        "goemotions",
        [train.texts[i] for i in keep],
        [emotion[i] for i in keep],
        [1.0] * len(keep),
        [sentiment[i] for i in keep],
        [sentiment_weight[i] for i in keep],
    )


def _add_tweet_sentiment(
    rows: TrainingRows, folder: Path, width: int, config: TrainConfig, dev_limit: int | None
) -> DevSet:
    """TweetEval sentiment: sentiment targets only, trained on ``test``; ``val`` is the dev set."""
    part = read_tweeteval(folder, "test", {}, list(SENTIMENT_LABELS))
    part = _limited(part, config.limit)
    rows.add(
        "tweeteval_sentiment",
        part.texts,
        [np.zeros(width, dtype=np.float32)] * len(part),
        [0.0] * len(part),
        soft_targets(part.labels, 3),
        [config.sentiment_weight] * len(part),
    )
    held = _limited(read_tweeteval(folder, "val", {}, list(SENTIMENT_LABELS)), dev_limit)
    return DevSet("tweeteval_sentiment_val", "sentiment", held.texts, held.labels)


def _add_tweet_emotion(
    rows: TrainingRows, folders: DataFolders, labels: list[str], config: TrainConfig, dev_limit: int | None
) -> DevSet:
    """TweetEval emotion mapped onto Ekman, with derived sentiment targets; trained on
    ``train`` + ``test``, ``val`` is the dev set (scored over the labels it has)."""
    assert folders.tweet_emotion is not None
    missing = sorted(set(TWEET_EMOTION_TO_EKMAN.values()) - set(labels))
    if missing:
        raise DatasetError(f"{folders.ekman}/labels.txt: TweetEval emotion needs the labels {missing}")
    width = len(labels)
    for split in ("train", "test"):
        part = _limited(read_tweeteval(folders.tweet_emotion, split, TWEET_EMOTION_TO_EKMAN, labels), config.limit)
        polarity = read_tweeteval(folders.tweet_emotion, split, TWEET_EMOTION_TO_SENTIMENT, list(SENTIMENT_LABELS))
        rows.add(
            "tweeteval_emotion",
            part.texts,
            soft_targets(part.labels, width),
            [1.0] * len(part),
            soft_targets(polarity.labels[: len(part)], 3),
            [config.derived_sentiment_weight] * len(part),
        )
    held = _limited(read_tweeteval(folders.tweet_emotion, "val", TWEET_EMOTION_TO_EKMAN, labels), dev_limit)
    scored = sorted({ids[0] for ids in held.labels})
    return DevSet("tweeteval_emotion_val", "emotion", held.texts, held.labels, scored)


def _limited(split: LabelledSplit, limit: int | None) -> LabelledSplit:
    if limit is None:
        return split
    return LabelledSplit(texts=split.texts[:limit], labels=split.labels[:limit], label_names=split.label_names)


def check_dev_sets() -> list[DevSet]:
    """Our hand-written sentiment checks (``SENTIMENT_CHECK_FILES``) as sentiment dev sets."""
    from training.quality import CHECKS_DIR, read_labelled

    sets = []
    for name in SENTIMENT_CHECK_FILES:
        texts, gold = read_labelled(CHECKS_DIR / name)
        sets.append(
            DevSet(
                f"check_{name.removesuffix('.tsv')}", "sentiment", texts, [[SENTIMENT_LABELS.index(g)] for g in gold]
            )
        )
    return sets
