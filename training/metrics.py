"""Quality metrics used to select and report models."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def top1_macro_f1(
    predictions: Sequence[int], gold: Sequence[Collection[int]], num_labels: int
) -> tuple[float, list[float]]:
    """Macro-F1 of a single (top-1) prediction scored against a gold label *set*.

    A prediction counts as a true positive for its label when that label is among the gold
    labels; every gold label the prediction missed is a false negative. This is how
    multi-label gold data (GoEmotions) is scored for a single-label classifier.
    """
    if len(predictions) != len(gold):
        raise ValueError("predictions and gold differ in length")
    tp = [0] * num_labels
    fp = [0] * num_labels
    fn = [0] * num_labels
    for pred, gold_set in zip(predictions, gold, strict=True):
        if pred in gold_set:
            tp[pred] += 1
        else:
            fp[pred] += 1
        for label in gold_set:
            if label != pred:
                fn[label] += 1
    per_label = []
    for i in range(num_labels):
        denom = 2 * tp[i] + fp[i] + fn[i]
        per_label.append(2 * tp[i] / denom if denom else 0.0)
    return sum(per_label) / num_labels, per_label


def macro_f1(predictions: Sequence[int], gold: Sequence[int], num_labels: int) -> float:
    """Plain single-label macro-F1 (sentiment checks)."""
    return top1_macro_f1(predictions, [{g} for g in gold], num_labels)[0]
