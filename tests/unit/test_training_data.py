"""How training data of every source becomes targets: no model, no torch work."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.conftest import EKMAN
from training.config import TrainConfig
from training.corpus import CorpusFolders, load_corpus
from training.goemotions import DatasetError
from training.tweeteval import TWEET_EMOTION_TO_EKMAN, read_tweeteval


def write_tweeteval(root, *, emotion_rows, sentiment_rows):
    for task, mapping, rows in (
        ("emotion", ["anger", "joy", "optimism", "sadness"], emotion_rows),
        ("sentiment", ["negative", "neutral", "positive"], sentiment_rows),
    ):
        folder = root / task
        folder.mkdir(parents=True)
        (folder / "mapping.txt").write_text("".join(f"{i}\t{n}\n" for i, n in enumerate(mapping)), encoding="utf-8")
        for split in ("train", "val", "test"):
            (folder / f"{split}_text.txt").write_text("".join(f"{t} \n" for t, _ in rows), encoding="utf-8")
            (folder / f"{split}_labels.txt").write_text("".join(f"{label}\n" for _, label in rows), encoding="utf-8")


def write_goemotions(root):
    for taxonomy, labels, ids in (
        ("ekman", EKMAN, ["3", "0,5", "4"]),
        ("group", ["ambiguous", "negative", "neutral", "positive"], ["3", "1", "0"]),
    ):
        folder = root / taxonomy
        folder.mkdir(parents=True)
        (folder / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
        rows = "".join(
            f"{text}\t{i}\tid{n}\n" for n, (text, i) in enumerate(zip(["yay", "ugh no", "hmm ok"], ids, strict=True))
        )
        (folder / "train.tsv").write_text(rows, encoding="utf-8")
        (folder / "dev.tsv").write_text(rows, encoding="utf-8")


def test_tweet_emotions_map_onto_ekman_with_optimism_as_joy(tmp_path):
    write_tweeteval(
        tmp_path, emotion_rows=[("grr", 0), ("yay", 1), ("soon!", 2), ("sob", 3)], sentiment_rows=[("x", 0)]
    )
    split = read_tweeteval(tmp_path / "emotion", "train", TWEET_EMOTION_TO_EKMAN, EKMAN)
    assert [EKMAN[ids[0]] for ids in split.labels] == ["anger", "joy", "joy", "sadness"]
    assert split.texts == ["grr", "yay", "soon!", "sob"]


def test_a_label_without_a_target_or_a_bad_line_names_the_file(tmp_path):
    write_tweeteval(tmp_path, emotion_rows=[("grr", 0)], sentiment_rows=[("x", 7)])
    with pytest.raises(DatasetError, match=r"mapping\.txt: labels \['optimism'\] have no target"):
        read_tweeteval(tmp_path / "emotion", "train", {}, EKMAN)
    with pytest.raises(DatasetError, match=r"sentiment/train_labels\.txt:1: label '7' outside 0\.\.2"):
        read_tweeteval(tmp_path / "sentiment", "train", {}, ["negative", "neutral", "positive"])


def test_every_source_gets_its_heads_targets(tmp_path):
    write_goemotions(tmp_path / "go")
    (tmp_path / "go" / "ekman" / "dev.tsv").write_text("a held-out comment\t3\tid9\n", encoding="utf-8")
    write_tweeteval(tmp_path / "te", emotion_rows=[("soon!", 2)], sentiment_rows=[("3 hours on hold", 0)])
    for task in ("emotion", "sentiment"):  # val is dev: other texts than train and test
        (tmp_path / "te" / task / "val_text.txt").write_text(f"{task} dev tweet\n", encoding="utf-8")
    folders = CorpusFolders(tmp_path / "go", tmp_path / "te")
    assert folders.groups == tmp_path / "go" / "group" and folders.has_sentiment
    alone = CorpusFolders(tmp_path / "go" / "ekman")  # GoEmotions alone: emotion targets only
    assert alone.groups is None and not alone.has_sentiment
    corpus = load_corpus(folders, TrainConfig(derived_sentiment_weight=0.3, tune_fraction=0.0))
    rows = corpus.train
    assert corpus.labels == EKMAN
    # "soon!" is in TweetEval emotion's train and test: it trains once
    assert rows.sources == {"goemotions": 3, "tweeteval_sentiment": 1, "tweeteval_emotion": 1}
    # GoEmotions: soft emotion targets; sentiment from its groups (ambiguous: no target)
    np.testing.assert_allclose(rows.emotion[1][[0, 5]], [0.5, 0.5])
    np.testing.assert_allclose(rows.sentiment[0], [0, 0, 1])
    assert rows.sentiment_weight[:3] == [0.3, 0.3, 0.0]
    # TweetEval sentiment: a sentiment target only; TweetEval emotion: optimism -> joy and positive
    assert rows.emotion_weight[3] == 0.0 and rows.sentiment_weight[3] == 1.0
    np.testing.assert_allclose(rows.sentiment[3], [1, 0, 0])
    assert EKMAN[int(np.argmax(rows.emotion[4]))] == "joy"
    np.testing.assert_allclose(rows.sentiment[4], [0, 0, 1])
    assert [(d.name, d.head) for d in corpus.dev] == [
        ("goemotions_dev", "emotion"),
        ("tweeteval_sentiment_val", "sentiment"),
        ("tweeteval_emotion_val", "emotion"),
    ]


def test_missing_tweeteval_task_folder_is_named(tmp_path):
    write_goemotions(tmp_path / "go")
    (tmp_path / "te").mkdir()
    with pytest.raises(DatasetError, match=r"te/sentiment.*missing TweetEval task folder"):
        load_corpus(CorpusFolders(tmp_path / "go", tmp_path / "te"), TrainConfig())
