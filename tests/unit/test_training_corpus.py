"""The train/tune/dev rules of every source, SemEval's label mapping and tweet de-duplication:
no model, no torch work."""

from __future__ import annotations

import pytest

from tests.unit.conftest import EKMAN
from tests.unit.test_training_data import write_goemotions
from training.config import TrainConfig
from training.corpus import CorpusFolders, load_corpus
from training.goemotions import DatasetError
from training.semeval import SEMEVAL_EMOTIONS, ekman_labels_of, read_semeval, sentiment_of
from training.splits import is_tune_row, keys_of, outside, text_key

HEADER = "ID\tTweet\t" + "\t".join(SEMEVAL_EMOTIONS) + "\n"


def semeval_row(n: int, text: str, *marked: str) -> str:
    return f"2018-En-{n}\t{text}\t" + "\t".join("1" if e in marked else "0" for e in SEMEVAL_EMOTIONS) + "\n"


def names(ids: list[int]) -> list[str]:
    return [EKMAN[i] for i in ids]


def test_semeval_emotions_map_onto_ekman_direct_labels_first():
    assert names(ekman_labels_of({"fear", "pessimism"}, EKMAN)) == ["fear"]
    assert names(ekman_labels_of({"anger", "disgust", "love"}, EKMAN)) == ["anger", "disgust"]
    assert names(ekman_labels_of({"optimism", "anticipation"}, EKMAN)) == ["joy"]
    assert names(ekman_labels_of({"pessimism"}, EKMAN)) == ["sadness"]
    assert names(ekman_labels_of(set(), EKMAN)) == ["neutral"]
    assert ekman_labels_of({"anticipation", "trust"}, EKMAN) == []  # no Ekman label: no target
    assert sentiment_of({"joy", "optimism"}) == "positive"
    assert sentiment_of({"fear", "pessimism"}) == "negative"
    assert sentiment_of({"joy", "anger"}) is None and sentiment_of({"trust"}) is None
    assert sentiment_of(set()) == "neutral"


def test_a_bad_semeval_file_names_the_line(tmp_path):
    (tmp_path / "train.tsv").write_text(HEADER + semeval_row(1, "ok", "joy").replace("\t1", "\t2", 1), "utf-8")
    with pytest.raises(DatasetError, match=r"train\.tsv:2: emotion columns must be 0 or 1"):
        read_semeval(tmp_path, "train", EKMAN)
    (tmp_path / "dev.tsv").write_text("ID\tTweet\tanger\n", "utf-8")
    with pytest.raises(DatasetError, match=r"dev\.tsv:1: expected the header"):
        read_semeval(tmp_path, "dev", EKMAN)


def test_text_keys_match_copies_of_one_tweet_across_data_sets():
    copy = "@Bob_1  Worry is a  DOWN payment https://t.co/x "
    assert text_key(copy) == text_key("@user worry is a down payment http")
    assert text_key("calm") != text_key("clam")
    assert outside(["a", "b", "A ", "c"], keys_of(["c"])) == [0, 1]


def test_the_tune_carve_is_stable_and_about_its_fraction():
    texts = [f"tweet number {i}" for i in range(4000)]
    carved = [t for t in texts if is_tune_row(t, 0.1, seed=13)]
    assert 320 < len(carved) < 480
    assert carved == [t for t in reversed(texts) if is_tune_row(t, 0.1, seed=13)][::-1]
    assert carved != [t for t in texts if is_tune_row(t, 0.1, seed=14)]


def write_sources(root):
    write_goemotions(root / "go")
    (root / "go" / "ekman" / "dev.tsv").write_text("a reddit dev comment\t3\tid9\n", "utf-8")
    semeval = root / "se"
    semeval.mkdir()
    train_rows = [
        semeval_row(1, "so scared of tomorrow", "fear", "pessimism"),
        semeval_row(2, "what a lovely surprise", "surprise", "joy"),
        semeval_row(3, "The dev tweet", "anger"),  # also a dev text below: must not train
        semeval_row(4, "looking forward to it", "anticipation"),
        semeval_row(5, "shared with tweeteval", "sadness"),
    ]
    (semeval / "train.tsv").write_text(HEADER + "".join(train_rows), "utf-8")
    dev_rows = [semeval_row(6, "the dev tweet", "anger"), semeval_row(7, "nothing to see")]
    (semeval / "dev.tsv").write_text(HEADER + "".join(dev_rows), "utf-8")
    tweeteval = root / "te"
    for task, mapping, rows in (
        ("emotion", ["anger", "joy", "optimism", "sadness"], {"train": [("shared with TweetEval", 3), ("grr", 0)]}),
        ("sentiment", ["negative", "neutral", "positive"], {"test": [("meh", 1), ("great", 2)]}),
    ):
        folder = tweeteval / task
        folder.mkdir(parents=True)
        (folder / "mapping.txt").write_text("".join(f"{i}\t{n}\n" for i, n in enumerate(mapping)), "utf-8")
        for split in ("train", "val", "test"):
            part = rows.get(split, [(f"{task} {split} only", 0)])
            (folder / f"{split}_text.txt").write_text("".join(f"{t}\n" for t, _ in part), "utf-8")
            (folder / f"{split}_labels.txt").write_text("".join(f"{label}\n" for _, label in part), "utf-8")
    return CorpusFolders(root / "go", tweeteval, semeval)


def test_no_dev_text_trains_or_tunes_and_no_tweet_trains_twice(tmp_path):
    corpus = load_corpus(write_sources(tmp_path), TrainConfig(tune_fraction=0.0))
    dev_keys = keys_of(text for dev in corpus.dev for text in dev.texts)
    tune_keys = keys_of(text for tune in corpus.tune for text in tune.texts)
    train_keys = [text_key(t) for t in corpus.train.texts]
    assert not dev_keys & set(train_keys) and not dev_keys & tune_keys
    assert len(train_keys) == len(set(train_keys))  # "shared with tweeteval" trains once, from SemEval
    assert "the dev tweet" not in train_keys and "shared with tweeteval" in train_keys
    index = {t: i for i, t in enumerate(corpus.train.texts)}
    shared = index["shared with tweeteval"]
    assert corpus.train.emotion[shared][EKMAN.index("sadness")] == 1.0
    forward = index["looking forward to it"]
    assert corpus.train.emotion_weight[forward] == 0.0  # anticipation alone: no emotion target
    assert corpus.dropped["tweeteval_emotion: dev text or repeat"] == 1
    by_name = {dev.name: dev for dev in corpus.dev}
    assert names(by_name["semeval_dev"].scored or []) == ["anger", "fear", "joy", "sadness", "surprise"]


def test_the_tune_carve_leaves_training_and_feeds_the_tune_sets(tmp_path):
    corpus = load_corpus(write_sources(tmp_path), TrainConfig(tune_fraction=1.0))
    assert corpus.train.sources.get("goemotions", 0) == 0 and corpus.train.sources.get("semeval", 0) == 0
    tune = {dev.name: dev for dev in corpus.tune}
    assert len(tune["goemotions_tune"].texts) == 3
    assert "looking forward to it" not in tune["semeval_tune"].texts  # no target: nothing to score
    assert {"check_sentiment_service", "tweeteval_sentiment_tune"} <= set(tune)
