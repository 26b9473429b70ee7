"""Temperature calibration of the heads: fitted on tune data, folded into the head, no label moves."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from training.calibration import calibration_error, fit_temperature, fold_into_head, softmax
from training.evaluation import HeadOutputs


def sampled(temperature: float, rows: int = 4000, seed: int = 0) -> tuple[np.ndarray, list[list[int]]]:
    """Logits whose labels are drawn from softmax(logits / temperature): a model that is
    calibrated once divided by ``temperature``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, size=(rows, 3))
    probs = softmax(logits / temperature)
    gold = [[int(rng.choice(3, p=row))] for row in probs]
    return logits, gold


def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with():
    logits, gold = sampled(temperature=1.8)
    fitted = fit_temperature([(logits, gold)])
    assert abs(fitted - 1.8) < 0.15
    before = calibration_error(softmax(logits), gold)
    after = calibration_error(softmax(logits / fitted), gold)
    assert after < 0.03 < before


def test_a_multi_label_row_counts_a_hit_on_any_gold_label():
    logits = np.array([[4.0, 3.9, -5.0]] * 200)
    gold = [[0, 1]] * 200  # the top label is always a gold one
    assert fit_temperature([(logits, gold)]) == 0.5  # the sharpest on the grid: nothing to soften
    # the top label is always right, so a sharper head is the better calibrated one
    assert calibration_error(softmax(logits / 0.5), gold) < calibration_error(softmax(logits), gold)


def test_folding_keeps_every_label_and_divides_each_head_by_its_temperature():
    heads = HeadOutputs.of(["anger", "joy"], has_sentiment=True)  # 2 emotion + 3 sentiment outputs
    torch.manual_seed(0)
    tower = SimpleNamespace(classifier=torch.nn.Linear(4, 5))
    features = torch.randn(50, 4)
    with torch.no_grad():
        before = tower.classifier(features).numpy()
    bias = np.array([0.5, -0.5, 0.0, 0.2, 0.0], dtype=np.float32)
    fold_into_head(tower, bias, {"emotion": 2.0, "sentiment": 0.5}, heads)
    with torch.no_grad():
        after = tower.classifier(features).numpy()
    np.testing.assert_allclose(after[:, :2], (before[:, :2] + bias[:2]) / 2.0, atol=1e-5)
    np.testing.assert_allclose(after[:, 2:], (before[:, 2:] + bias[2:]) / 0.5, atol=1e-5)
    assert (after[:, :2].argmax(1) == (before[:, :2] + bias[:2]).argmax(1)).all()
