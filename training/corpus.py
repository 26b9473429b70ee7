"""Every source split into train, tune and dev parts by the rules of ``training.splits``.

- GoEmotions/Ekman (Reddit): ``train.tsv`` minus the tune carve trains emotion (with the
  sentiment groups' weaker targets); ``dev.tsv`` is dev.
- TweetEval sentiment: ``test`` minus the tune carve trains sentiment; ``val`` is dev.
- SemEval-2018 E-c (tweets, ``training.semeval``): ``train.tsv`` minus the tune carve trains
  emotion (and derived sentiment); ``dev.tsv`` is dev, scored over anger, fear, joy, sadness
  and surprise (any other prediction is a miss).
- TweetEval emotion: ``train`` + ``test`` train, except tweets that SemEval also holds (its
  richer labels win) and the tune carve (dropped); ``val`` is dev.
- Our hand-written sentiment checks (``training/checks``) are tune sets: monitored streams are
  far more negative than TweetEval, and the sentiment biases are where that prior lives.

No training or tune row is a dev text (compared by ``text_key``), and no text trains twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.heads import SENTIMENT_LABELS
from training.config import TrainConfig
from training.data import DevSet, TrainingRows, check_dev_sets, group_sentiment, soft_targets
from training.goemotions import DatasetError, LabelledSplit, read_split
from training.semeval import read_semeval
from training.splits import is_tune_row, keys_of, outside, text_key
from training.tweeteval import TWEET_EMOTION_TO_EKMAN, TWEET_EMOTION_TO_SENTIMENT, read_tweeteval

# The out-of-domain tweet emotions analysts chart: the SemEval dev set is scored over these.
TWEET_SCORED_EMOTIONS = ("anger", "fear", "joy", "sadness", "surprise")


@dataclass(frozen=True)
class CorpusFolders:
    """Where each source lives; ``None`` when it was not given."""

    goemotions: Path
    tweeteval: Path | None = None
    semeval: Path | None = None

    @property
    def ekman(self) -> Path:
        root = self.goemotions / "ekman"
        return root if (root / "labels.txt").is_file() else self.goemotions

    @property
    def groups(self) -> Path | None:
        folder = self.goemotions / "group"
        return folder if (folder / "labels.txt").is_file() else None

    @property
    def has_sentiment(self) -> bool:
        """Whether any source gives sentiment targets (else the model has no sentiment head)."""
        return self.tweeteval is not None or self.semeval is not None or self.groups is not None

    def check(self) -> None:
        """Every folder given exists, and TweetEval's has both task folders."""
        for name, folder in (("GoEmotions", self.goemotions), ("TweetEval", self.tweeteval), ("SemEval", self.semeval)):
            if folder is not None and not folder.is_dir():
                raise DatasetError(f"{folder}: not a folder (the {name} data)")
        if self.tweeteval is not None:
            tasks = [self.tweeteval / "sentiment", self.tweeteval / "emotion"]
            missing = [str(p) for p in tasks if not (p / "mapping.txt").is_file()]
            if missing:
                raise DatasetError(f"{', '.join(missing)}: missing TweetEval task folder (mapping.txt)")


@dataclass
class Corpus:
    """The rows that train, the sets that tune and the sets that only report."""

    labels: list[str]
    train: TrainingRows = field(default_factory=TrainingRows)
    tune: list[DevSet] = field(default_factory=list)
    dev: list[DevSet] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)  # keys of every row that trains or tunes

    def drop(self, reason: str, count: int) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count


def load_corpus(folders: CorpusFolders, config: TrainConfig) -> Corpus:
    """Read every source given in ``folders`` and split it (see the module docstring)."""
    folders.check()
    train = _limited(read_split(folders.ekman, "train"), config.limit)
    corpus = Corpus(labels=list(train.label_names))
    corpus.dev = dev_sets(folders, corpus.labels, config)
    held_out = keys_of([text for dev in corpus.dev for text in dev.texts])
    _add_goemotions(corpus, train, folders, config, held_out)
    if folders.semeval is not None:
        _add_semeval(corpus, folders.semeval, config, held_out)
    if folders.tweeteval is not None:
        _add_tweet_sentiment(corpus, folders.tweeteval / "sentiment", config, held_out)
        _add_tweet_emotion(corpus, folders.tweeteval / "emotion", config, held_out)
    if folders.has_sentiment:
        corpus.tune += [dev for dev in check_dev_sets() if not keys_of(dev.texts) & held_out]
    return corpus


def dev_sets(folders: CorpusFolders, labels: list[str], config: TrainConfig = TrainConfig()) -> list[DevSet]:
    """Each given source's dev split (what only reports): GoEmotions dev, TweetEval sentiment
    val, SemEval dev (scored over ``TWEET_SCORED_EMOTIONS``), TweetEval emotion val."""
    out = [_dev(read_split(folders.ekman, "dev"), "goemotions_dev", "emotion", config)]
    semeval_dev = tweet_emotion_dev = None
    if folders.semeval is not None:
        split, _ = read_semeval(folders.semeval, "dev", labels)
        semeval_dev = _dev(_with_labels(split), "semeval_dev", "emotion", config, TWEET_SCORED_EMOTIONS)
    if folders.tweeteval is not None:
        held = read_tweeteval(folders.tweeteval / "emotion", "val", TWEET_EMOTION_TO_EKMAN, labels)
        tweet_emotion_dev = _dev(held, "tweeteval_emotion_val", "emotion", config, ("anger", "joy", "sadness"))
        sentiment_val = read_tweeteval(folders.tweeteval / "sentiment", "val", {}, list(SENTIMENT_LABELS))
        out.append(_dev(sentiment_val, "tweeteval_sentiment_val", "sentiment", config))
    return out + [dev for dev in (semeval_dev, tweet_emotion_dev) if dev is not None]


def _dev(
    split: LabelledSplit, name: str, head: str, config: TrainConfig, scored: tuple[str, ...] | None = None
) -> DevSet:
    split = _limited(split, config.limit and max(config.limit // 4, 50))
    columns = None if scored is None else [split.label_names.index(label) for label in scored]
    return DevSet(name, head, split.texts, split.labels, columns)


def _tune_split(
    corpus: Corpus, split: LabelledSplit, name: str, config: TrainConfig, held_out: set[str]
) -> tuple[list[int], list[int]]:
    """Indices of ``split`` that train and that tune; rows whose text is a dev text, or a
    repeat of a row taken before (from any source: SemEval before TweetEval emotion, whose
    copies of its tweets so go), go to neither."""
    kept = outside(split.texts, held_out | corpus.taken)
    corpus.drop(f"{name}: dev text or repeat", len(split) - len(kept))
    corpus.taken |= keys_of(split.texts[i] for i in kept)
    tune = [i for i in kept if is_tune_row(split.texts[i], config.tune_fraction, config.seed)]
    chosen = set(tune)
    return [i for i in kept if i not in chosen], tune


def _add_goemotions(
    corpus: Corpus, train: LabelledSplit, folders: CorpusFolders, config: TrainConfig, held_out: set[str]
) -> None:
    width = len(corpus.labels)
    sentiment = [np.zeros(3, dtype=np.float32)] * len(train)
    sentiment_weight = [0.0] * len(train)
    if folders.groups is not None:
        groups = _limited(read_split(folders.groups, "train"), config.limit)
        if groups.texts != train.texts:
            raise DatasetError(f"{folders.groups}/train.tsv: rows differ from {folders.ekman}/train.tsv")
        sentiment, present = group_sentiment(groups)
        sentiment_weight = [w * config.derived_sentiment_weight for w in present]
    rows, tune = _tune_split(corpus, train, "goemotions", config, held_out)
    emotion = soft_targets(train.labels, width)
    corpus.train.add(
        "goemotions",
        [train.texts[i] for i in rows],
        [emotion[i] for i in rows],
        [1.0] * len(rows),
        [sentiment[i] for i in rows],
        [sentiment_weight[i] for i in rows],
    )
    corpus.tune.append(_subset(train, tune, "goemotions_tune", "emotion"))


def _add_semeval(corpus: Corpus, folder: Path, config: TrainConfig, held_out: set[str]) -> None:
    split, polarity = read_semeval(folder, "train", corpus.labels)
    split = _limited(split, config.limit)
    rows, tune = _tune_split(corpus, split, "semeval", config, held_out)
    no_target = [i for i in rows if not split.labels[i]]
    corpus.drop("semeval: anticipation/trust only (no emotion target)", len(no_target))
    emotion = soft_targets(split.labels, len(corpus.labels))
    sentiment = soft_targets([[] if p is None else [SENTIMENT_LABELS.index(p)] for p in polarity], 3)
    corpus.train.add(
        "semeval",
        [split.texts[i] for i in rows],
        [emotion[i] for i in rows],
        [config.tweet_emotion_weight if split.labels[i] else 0.0 for i in rows],
        [sentiment[i] for i in rows],
        [config.derived_sentiment_weight if polarity[i] is not None else 0.0 for i in rows],
    )
    tune = [i for i in tune if split.labels[i]]
    corpus.tune.append(
        _subset(split, tune, "semeval_tune", "emotion", [corpus.labels.index(label) for label in TWEET_SCORED_EMOTIONS])
    )


def _add_tweet_sentiment(corpus: Corpus, folder: Path, config: TrainConfig, held_out: set[str]) -> None:
    split = _limited(read_tweeteval(folder, "test", {}, list(SENTIMENT_LABELS)), config.limit)
    rows, tune = _tune_split(corpus, split, "tweeteval_sentiment", config, held_out)
    width = len(corpus.labels)
    targets = soft_targets(split.labels, 3)
    corpus.train.add(
        "tweeteval_sentiment",
        [split.texts[i] for i in rows],
        [np.zeros(width, dtype=np.float32)] * len(rows),
        [0.0] * len(rows),
        [targets[i] for i in rows],
        [config.sentiment_weight] * len(rows),
    )
    corpus.tune.append(_subset(split, tune, "tweeteval_sentiment_tune", "sentiment"))


def _add_tweet_emotion(corpus: Corpus, folder: Path, config: TrainConfig, held_out: set[str]) -> None:
    """TweetEval emotion's ``train`` + ``test``; its tune carve is dropped (too small to tune
    on beside SemEval's, and its copies in SemEval are excluded already)."""
    width = len(corpus.labels)
    for part in ("train", "test"):
        split = _limited(read_tweeteval(folder, part, TWEET_EMOTION_TO_EKMAN, corpus.labels), config.limit)
        polarity = read_tweeteval(folder, part, TWEET_EMOTION_TO_SENTIMENT, list(SENTIMENT_LABELS))
        rows, tune = _tune_split(corpus, split, "tweeteval_emotion", config, held_out)
        corpus.drop("tweeteval_emotion: tune carve (not used)", len(tune))
        emotion, sentiment = soft_targets(split.labels, width), soft_targets(polarity.labels, 3)
        corpus.train.add(
            "tweeteval_emotion",
            [split.texts[i] for i in rows],
            [emotion[i] for i in rows],
            [config.tweet_emotion_weight] * len(rows),
            [sentiment[i] for i in rows],
            [config.derived_sentiment_weight] * len(rows),
        )


def _subset(split: LabelledSplit, rows: list[int], name: str, head: str, scored: list[int] | None = None) -> DevSet:
    return DevSet(name, head, [split.texts[i] for i in rows], [split.labels[i] for i in rows], scored)


def _with_labels(split: LabelledSplit) -> LabelledSplit:
    """Only the rows with an emotion target (SemEval tweets marked anticipation/trust alone go)."""
    keep = [i for i, ids in enumerate(split.labels) if ids]
    return LabelledSplit([split.texts[i] for i in keep], [split.labels[i] for i in keep], split.label_names)


def _limited(split: LabelledSplit, limit: int | None) -> LabelledSplit:
    if limit is None:
        return split
    return LabelledSplit(texts=split.texts[:limit], labels=split.labels[:limit], label_names=split.label_names)


__all__ = ["TWEET_SCORED_EMOTIONS", "Corpus", "CorpusFolders", "load_corpus", "text_key"]
