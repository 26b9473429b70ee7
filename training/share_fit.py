"""Recording a model's confusion for share adjustment, and checking the adjusted shares.

``inference.share_adjustment`` corrects reported shares with the mean probabilities the model
gives each true label. Those are measured here on tune sets (rows the model never trained on
and that are no dev set), with exactly the probabilities the product stores, and written to
the artifact manifest under ``share_adjustment``. ``share_errors`` then scores the shares on
a dev set: the true mix, the counted top labels and the adjusted estimate, as the whole set
and under shifted mixes (the dev set resampled to lean on each label in turn), which is the
case the adjustment exists for.

    python -m training.share_fit --artifact DIR --data GOEMOTIONS --tweeteval T --semeval S

re-measures an artifact's confusion from the tune sets of ``training.corpus`` (what
``moodwire train-emotion`` does at its end).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inference.heads import SENTIMENT_LABELS, OutputLayout
from inference.share_adjustment import MANIFEST_FILE, MANIFEST_KEY, LabelAdjustment, ShareAdjustmentError
from training.data import DevSet

SHIFT_LEAN = 0.6  # a shifted mix puts this share on one label, the rest in the dev set's proportions
SHIFT_ROWS = 2000
SHIFT_SEED = 7


def gold_matrix(gold: Sequence[Sequence[int]], width: int) -> np.ndarray:
    """Soft gold rows: a text's gold labels share 1 evenly (none: a zero row, left out)."""
    out = np.zeros((len(gold), width), dtype=np.float64)
    for i, ids in enumerate(gold):
        if ids:
            out[i, list(ids)] = 1.0 / len(ids)
    return out


def confusion(probs: np.ndarray, gold: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(confusion, rows per label)``: row ``t`` is the mean probability vector of texts whose
    gold label is ``t`` (weighted by their soft gold)."""
    weights = gold_matrix(gold, probs.shape[1])
    per_label = weights.sum(axis=0)
    sums = weights.T @ probs
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = sums / per_label[:, None]
    return matrix, per_label


def head_probs(outputs: np.ndarray, labels: Sequence[str], head: str) -> np.ndarray:
    """The stored probabilities of one head (what ``emotion.scores``/``sentiment.scores`` hold)."""
    layout = OutputLayout.of(labels)
    return layout.sentiment(outputs) if head == "sentiment" else layout.emotion(outputs)


def fit_entry(head_labels: Sequence[str], scored: Sequence[tuple[DevSet, np.ndarray]]) -> dict[str, Any] | None:
    """A manifest entry from the tune sets of one head (their probabilities given), or None
    when a label has no gold row or the matrix cannot adjust (``MAX_CONDITION``)."""
    if not scored:
        return None
    probs = np.concatenate([p for _, p in scored])
    gold = [g for dev, _ in scored for g in dev.gold]
    matrix, per_label = confusion(probs, gold)
    if (per_label <= 0).any():
        return None
    try:
        LabelAdjustment.from_confusion(head_labels, matrix)
    except ShareAdjustmentError:
        return None
    return {
        "labels": list(head_labels),
        "confusion": np.round(matrix, 6).tolist(),
        "rows_per_label": {label: round(float(n), 1) for label, n in zip(head_labels, per_label, strict=True)},
        "sets": [dev.name for dev, _ in scored],
    }


def shares_of(weights: np.ndarray) -> np.ndarray:
    total = weights.sum()
    return weights / total if total > 0 else weights


def estimate(adjustment: LabelAdjustment | None, probs: np.ndarray) -> np.ndarray:
    """Counted top labels (no adjustment) or the clipped, renormalised adjusted shares."""
    if adjustment is None:
        return np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]) / len(probs)
    contributions = (adjustment.inverse @ (probs / probs.sum(axis=1, keepdims=True)).T).T
    return shares_of(np.clip(contributions.sum(axis=0), 0.0, None))


def share_errors(
    adjustment: LabelAdjustment, probs: np.ndarray, gold: Sequence[Sequence[int]], labels: Sequence[str]
) -> dict[str, Any]:
    """Share errors (points) of counts and of the adjusted estimate on a dev set as it is and
    under shifted mixes (each label in turn at ``SHIFT_LEAN``, resampled with a fixed seed)."""
    truth_rows = gold_matrix(gold, len(labels))
    keep = truth_rows.sum(axis=1) > 0
    probs, truth_rows = probs[keep], truth_rows[keep]

    def errors(rows: np.ndarray) -> dict[str, Any]:
        truth = shares_of(truth_rows[rows].sum(axis=0))
        out: dict[str, Any] = {"true": dict(zip(labels, np.round(truth, 4).tolist(), strict=True))}
        for name, adj in (("counts", None), ("adjusted", adjustment)):
            gap = np.abs(estimate(adj, probs[rows]) - truth) * 100
            out[name] = {"mean_points": round(float(gap.mean()), 2), "max_points": round(float(gap.max()), 2)}
        return out

    report: dict[str, Any] = {"rows": len(probs), "as_is": errors(np.arange(len(probs)))}
    rng = np.random.default_rng(SHIFT_SEED)
    top_gold = truth_rows.argmax(axis=1)
    shifted = {"counts": [], "adjusted": []}
    for k, label in enumerate(labels):
        lean, rest = np.flatnonzero(top_gold == k), np.flatnonzero(top_gold != k)
        if len(lean) == 0 or len(rest) == 0:
            continue
        n_lean = int(SHIFT_ROWS * SHIFT_LEAN)
        rows = np.concatenate([rng.choice(lean, n_lean), rng.choice(rest, SHIFT_ROWS - n_lean)])
        found = errors(rows)
        report[f"lean_{label}"] = found
        for name in shifted:
            shifted[name].append(found[name]["mean_points"])
    report["shifted_mean_points"] = {name: round(float(np.mean(v)), 2) for name, v in shifted.items() if v}
    return report


Scored = dict[str, list[tuple[DevSet, np.ndarray]]]  # head -> (set, stored-form probabilities)


def measure(emotion: Any, sets: Sequence[DevSet], labels: Sequence[str]) -> Scored:
    """Each set's stored-form probabilities, by head (``emotion`` is an ``EmotionClassifier``)."""
    out: Scored = {"emotion": [], "sentiment": []}
    for dev in sets:
        outputs = emotion.predict_proba(dev.texts)
        out[dev.head].append((dev, head_probs(outputs, labels, dev.head)))
    return out


def adjustment_entries(tune: Scored, labels: Sequence[str]) -> dict[str, Any]:
    """The manifest's ``share_adjustment``: each head's confusion on the tune sets."""
    layout = OutputLayout.of(labels)
    entries: dict[str, Any] = {}
    emotion_entry = fit_entry(layout.emotion_labels, tune["emotion"])
    if emotion_entry is not None:
        entries["emotion"] = emotion_entry
    if layout.has_sentiment_head:
        sentiment_entry = fit_entry(SENTIMENT_LABELS, tune["sentiment"])
        if sentiment_entry is not None:
            entries["sentiment"] = sentiment_entry
    return entries


def dev_share_report(entries: dict[str, Any], dev: Scored) -> dict[str, Any]:
    """``share_errors`` of every dev set whose head has an adjustment."""
    report = {}
    for head, scored in dev.items():
        if head not in entries:
            continue
        adjustment = LabelAdjustment.from_confusion(entries[head]["labels"], entries[head]["confusion"])
        for dev_set, probs in scored:
            report[dev_set.name] = share_errors(adjustment, probs, dev_set.gold, adjustment.labels)
    return report


def quality_shares(emotion: Any, sets: Sequence[DevSet], *, sentiment_head: bool) -> dict[str, Any]:
    """``moodwire quality``'s share figures: per dev set, the share error of counted labels
    and, where the configured model recorded a correction, of the adjusted estimate (mean and
    largest label error in points, the set as it is and under shifted mixes)."""
    from inference.share_adjustment import adjustment_for

    adjustment = adjustment_for(emotion.version)
    report: dict[str, Any] = {}
    for dev_set in sets:
        if dev_set.head == "sentiment" and not sentiment_head:
            continue  # the valence rule has no probabilities to adjust
        probs = head_probs(emotion.predict_proba(dev_set.texts), emotion.labels, dev_set.head)
        labels = list(OutputLayout.of(emotion.labels).emotion_labels) if dev_set.head == "emotion" else SENTIMENT_LABELS
        head_adjustment = getattr(adjustment, dev_set.head) if adjustment is not None else None
        if head_adjustment is None:  # counts only: the identity adjustment estimates nothing else
            head_adjustment = LabelAdjustment(labels=tuple(labels), inverse=np.eye(len(labels)))
            found = share_errors(head_adjustment, probs, dev_set.gold, labels)
            report[dev_set.name] = {"estimator": "counts", "counts": found["as_is"]["counts"]}
            continue
        found = share_errors(head_adjustment, probs, dev_set.gold, head_adjustment.labels)
        report[dev_set.name] = {
            "estimator": "adjusted",
            "counts": found["as_is"]["counts"],
            "adjusted": found["as_is"]["adjusted"],
            "shifted_mean_points": found["shifted_mean_points"],
        }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: a known error (a missing folder or manifest) is one line, exit 2."""
    from entrypoints.exit_codes import run_command

    return run_command("python -m training.share_fit", lambda: _measure_artifact(argv))


def _measure_artifact(argv: Sequence[str] | None) -> int:
    from inference.emotion import EmotionClassifier
    from inference.settings import ModelSpec
    from training.config import TrainConfig
    from training.corpus import CorpusFolders, load_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tweeteval", type=Path)
    parser.add_argument("--semeval", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from training.goemotions import DatasetError

    manifest_path = args.artifact / MANIFEST_FILE
    if not manifest_path.is_file():
        raise DatasetError(f"{args.artifact}: not an artifact folder (no {MANIFEST_FILE})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    corpus = load_corpus(
        CorpusFolders(goemotions=args.data, tweeteval=args.tweeteval, semeval=args.semeval),
        TrainConfig(tune_fraction=float(manifest.get("training", {}).get("tune_fraction", 0.1))),
    )
    classifier = EmotionClassifier.from_spec(ModelSpec(source=str(args.artifact.resolve()), threads=args.threads))
    labels = manifest["labels"]
    entries = adjustment_entries(measure(classifier, corpus.tune, labels), labels)
    manifest[MANIFEST_KEY] = entries
    manifest.setdefault("report", {})["shares"] = dev_share_report(entries, measure(classifier, corpus.dev, labels))
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    json.dump({MANIFEST_KEY: entries, "shares": manifest["report"]["shares"]}, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
