"""Adjusted classify-and-count: the per-row contributions, their sums and the fractions read back."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from inference.share_adjustment import (
    LabelAdjustment,
    ShareAdjustment,
    ShareAdjustmentError,
    adjustment_for,
    emotion_source_and_version,
    estimate_shares,
    estimator_name,
)
from storage.rollups import Contribution, RollupDelta
from training.data import DevSet
from training.share_fit import confusion, fit_entry, share_errors

LABELS = ("negative", "neutral", "positive")
# How a model answers given the true label: it calls a fifth of the negatives neutral, etc.
CONFUSION = np.array([[0.7, 0.2, 0.1], [0.15, 0.7, 0.15], [0.05, 0.15, 0.8]])


def _probs_for(true_shares: np.ndarray) -> np.ndarray:
    """What such a model's mean probability vector is for a set with these true shares."""
    return CONFUSION.T @ true_shares


def test_the_adjusted_mean_recovers_the_true_mix_under_a_shifted_mix() -> None:
    adjustment = LabelAdjustment.from_confusion(LABELS, CONFUSION)
    for truth in (np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.2, 0.7])):
        mean_probs = _probs_for(truth)
        contribution = adjustment.contribution(dict(zip(LABELS, mean_probs, strict=True)))
        assert contribution is not None
        assert [contribution[label] for label in LABELS] == pytest.approx(truth.tolist(), abs=1e-9)
        # the plain mean of probabilities is biased towards the middle
        assert np.abs(mean_probs - truth).max() > 0.03


def test_each_contribution_sums_to_one_and_other_models_scores_are_not_adjusted() -> None:
    adjustment = LabelAdjustment.from_confusion(LABELS, CONFUSION)
    contribution = adjustment.contribution({"negative": 0.9, "neutral": 0.05, "positive": 0.05})
    assert contribution is not None
    assert sum(contribution.values()) == pytest.approx(1.0)
    assert contribution["negative"] > 0.9  # a confident negative counts for more than one
    assert adjustment.contribution({"anger": 1.0}) is None
    assert adjustment.contribution({"negative": 0.5, "neutral": 0.5, "positive": 0.0, "other": 0.0}) is None


def test_an_unstable_or_misshapen_confusion_is_refused() -> None:
    with pytest.raises(ShareAdjustmentError, match="ill-conditioned"):
        LabelAdjustment.from_confusion(LABELS, [[0.34, 0.33, 0.33], [0.33, 0.34, 0.33], [0.33, 0.33, 0.34]])
    with pytest.raises(ShareAdjustmentError, match="expected 3x3"):
        LabelAdjustment.from_confusion(LABELS, [[1.0, 0.0], [0.0, 1.0]])
    manifest = {"share_adjustment": {"sentiment": {"labels": list(LABELS), "confusion": [[1, 0], [0, 1]]}}}
    assert ShareAdjustment.from_manifest(manifest) is None


def test_estimate_clips_negative_sums_and_renormalises() -> None:
    found = estimate_shares({"a": 7.5, "b": 3.0, "c": -0.5}, {"a": 9.0, "b": 3.0, "c": 0.5}, 10)
    assert found is not None
    assert found.shares == {"a": pytest.approx(0.7143, abs=1e-4), "b": pytest.approx(0.2857, abs=1e-4), "c": 0.0}
    assert sum(found.shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert found.standard_errors is not None and found.standard_errors["a"] > 0
    assert estimate_shares({}, {}, 0) is None
    single = estimate_shares({"a": 1.0}, {"a": 1.0}, 1, labels=LABELS)
    assert single is not None and single.standard_errors is None
    assert single.shares == {"a": 1.0, "negative": 0.0, "neutral": 0.0, "positive": 0.0}


def test_standard_error_of_counted_labels_is_the_binomial_one() -> None:
    # 100 mentions, 30 of them 'a' (one-hot contributions): se = sqrt(p (1 - p) / (n - 1))
    found = estimate_shares({"a": 30.0, "b": 70.0}, {"a": 30.0, "b": 70.0}, 100)
    assert found is not None and found.standard_errors is not None
    assert found.standard_errors["a"] == pytest.approx(np.sqrt(0.3 * 0.7 / 99), abs=1e-4)


def test_estimator_names() -> None:
    assert estimator_name(0) == "counts"
    assert estimator_name(10, 0, 0) == "counts"
    assert estimator_name(10, 10, 10) == "adjusted"
    assert estimator_name(10, 10, 0) == "mixed"
    assert estimator_name(10, 4, 10) == "mixed"


def test_a_stored_version_names_its_artifact() -> None:
    stored = "builtin:ekman-tower@20261207-tower2:ort-int8+packaged:all-MiniLM-L6-v2+lang:py3langid:r1"
    assert emotion_source_and_version(stored) == ("builtin:ekman-tower", "20261207-tower2")
    assert emotion_source_and_version("fake-emotion-v1+fake-embedding") is None
    assert emotion_source_and_version(None) is None


def test_the_manifest_of_a_local_artifact_is_found_by_version(tmp_path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    entry = {"labels": list(LABELS), "confusion": CONFUSION.tolist()}
    (folder / "moodwire_artifact.json").write_text(
        json.dumps({"version": "v7", "labels": [], "share_adjustment": {"sentiment": entry}})
    )
    found = adjustment_for(f"{folder}@v7+emb")
    assert found is not None and found.sentiment is not None and found.emotion is None
    assert adjustment_for(f"{folder}@v6+emb") is None  # another version of the folder: not this matrix
    assert adjustment_for(f"{tmp_path / 'gone'}@v7+emb") is None


def _lookup(adjustment: ShareAdjustment | None):
    return lambda version: adjustment if version == "adjusted-model" else None


def test_rollup_delta_sums_adjusted_and_counted_rows_and_a_delete_takes_them_back() -> None:
    adjustment = ShareAdjustment(sentiment=LabelAdjustment.from_confusion(LABELS, CONFUSION))
    hour = datetime(2026, 12, 1, 10, 15)
    adjusted = Contribution(
        created_at=hour,
        topics=("econ",),
        sentiment_score=-0.8,
        sentiment_label="negative",
        emotion_label="anger",
        model_version="adjusted-model",
        emotion_scores={"anger": 0.9, "joy": 0.1},
        sentiment_scores={"negative": 0.85, "neutral": 0.1, "positive": 0.05},
    )
    counted = Contribution(
        created_at=hour,
        topics=("econ",),
        sentiment_score=0.5,
        sentiment_label="positive",
        emotion_label="joy",
        model_version="old-model",
        emotion_scores={"anger": 0.2, "joy": 0.8},
        sentiment_scores={"negative": 0.1, "neutral": 0.2, "positive": 0.7},
    )
    delta = RollupDelta(adjustments=_lookup(adjustment))
    delta.add(adjusted)
    delta.add(counted)
    (rollup,) = delta.rollup_rows()
    assert rollup["count"] == 2
    assert rollup["sentiment_adjusted_count"] == 1 and rollup["emotion_adjusted_count"] == 0
    shares = {(r["output"], r["label"]): r["share_sum"] for r in delta.share_rows()}
    expected = np.linalg.inv(CONFUSION.T) @ np.array([0.85, 0.1, 0.05])
    assert shares[("sentiment", "negative")] == pytest.approx(expected[0])
    assert shares[("sentiment", "positive")] == pytest.approx(expected[2] + 1.0)  # the counted row's one
    assert shares[("emotion", "anger")] == 1.0 and shares[("emotion", "joy")] == 1.0  # no emotion matrix
    assert sum(v for (output, _), v in shares.items() if output == "sentiment") == pytest.approx(2.0)

    delta.add(adjusted, sign=-1)
    delta.add(counted, sign=-1)
    assert delta.rollup_rows() == []
    assert all(abs(r["share_sum"]) < 1e-12 and abs(r["share_sq_sum"]) < 1e-12 for r in delta.share_rows())


def test_a_valence_rule_row_counts_its_label() -> None:
    adjustment = ShareAdjustment(sentiment=LabelAdjustment.from_confusion(LABELS, CONFUSION))
    delta = RollupDelta(adjustments=_lookup(adjustment))
    delta.add(
        Contribution(
            created_at=datetime(2026, 12, 1, 10),
            topics=("econ",),
            sentiment_score=0.1,
            sentiment_label="neutral",
            emotion_label="joy",
            model_version="adjusted-model",
            sentiment_scores=None,
        )
    )
    (rollup,) = delta.rollup_rows()
    assert rollup["sentiment_adjusted_count"] == 0
    assert {(r["output"], r["label"]): r["share_sum"] for r in delta.share_rows()}[("sentiment", "neutral")] == 1.0


def test_fit_entry_measures_mean_probabilities_per_gold_label_and_share_errors_score_it() -> None:
    rng = np.random.default_rng(0)
    gold = [[int(t)] for t in rng.integers(0, 3, size=3000)]
    probs = np.array([rng.dirichlet(CONFUSION[g[0]] * 3) for g in gold])
    matrix, per_label = confusion(probs, gold)
    assert matrix == pytest.approx(CONFUSION, abs=0.03)
    assert per_label.sum() == 3000
    entry = fit_entry(LABELS, [(DevSet("tune", "sentiment", [""] * 3000, gold), probs)])
    assert entry is not None and entry["labels"] == list(LABELS)
    adjustment = LabelAdjustment.from_confusion(LABELS, entry["confusion"])
    report = share_errors(adjustment, probs, gold, LABELS)
    # under a mix leaning on one label, counting is off and the adjustment is not
    assert report["shifted_mean_points"]["adjusted"] < 1.5 < report["shifted_mean_points"]["counts"]


class _FakeEmotion:
    """An emotion model whose sentiment head answers from a fixed probability row per text."""

    def __init__(self, version: str, rows: dict[str, list[float]]) -> None:
        self.labels = ["anger", "joy", "sentiment:negative", "sentiment:neutral", "sentiment:positive"]
        self.version, self.rows = version, rows

    def predict_proba(self, texts):
        return np.array([self.rows[t] for t in texts])


def test_quality_reports_counted_and_adjusted_share_errors(tmp_path) -> None:
    from training.share_fit import quality_shares

    folder = tmp_path / "artifact"
    folder.mkdir()
    entry = {"labels": list(LABELS), "confusion": CONFUSION.tolist()}
    (folder / "moodwire_artifact.json").write_text(
        json.dumps({"version": "q1", "labels": [], "share_adjustment": {"sentiment": entry}})
    )
    texts = [f"t{i}" for i in range(30)]
    gold = [[0]] * 10 + [[1]] * 10 + [[2]] * 10
    # every text answered with its gold label's mean row: counts are exact here, the
    # adjustment of the mean rows is exact too
    rows = {t: [0.5, 0.5, *CONFUSION[g[0]]] for t, g in zip(texts, gold, strict=True)}
    dev = DevSet("val", "sentiment", texts, gold)
    adjusted = quality_shares(_FakeEmotion(f"{folder}@q1+emb", rows), [dev], sentiment_head=True)
    assert adjusted["val"]["estimator"] == "adjusted"
    assert adjusted["val"]["adjusted"]["mean_points"] == pytest.approx(0.0, abs=0.01)
    counted = quality_shares(_FakeEmotion("other@v+emb", rows), [dev], sentiment_head=True)
    assert counted["val"] == {"estimator": "counts", "counts": adjusted["val"]["counts"]}
    assert quality_shares(_FakeEmotion("other@v+emb", rows), [dev], sentiment_head=False) == {}


def test_share_fit_names_a_folder_that_is_not_an_artifact(tmp_path, capsys) -> None:
    from training.share_fit import main

    assert main(["--artifact", str(tmp_path), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: not an artifact folder (no moodwire_artifact.json)" in err and "Traceback" not in err
