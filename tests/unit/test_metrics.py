import pytest

from training.metrics import macro_f1, top1_macro_f1


def test_top1_against_gold_sets_by_hand():
    # label 0: tp=1 (row0), fp=1 (row2), fn=1 (row3) -> 2/(2+1+1)=0.5
    # label 1: tp=1 (row1), fp=0, fn=1 (row2's gold has 1) -> 2/(2+0+1)=2/3
    # label 2: tp=0, fp=1 (row3), fn=0 -> 0
    predictions = [0, 1, 0, 2]
    gold = [{0}, {1, 2}, {1}, {0}]
    macro, per_label = top1_macro_f1(predictions, gold, 3)
    assert per_label[0] == pytest.approx(0.5)
    assert per_label[1] == pytest.approx(2 / 3)
    # row1 gold {1,2} predicted 1: label 2 is a miss -> fn for label 2
    assert per_label[2] == pytest.approx(0.0)
    assert macro == pytest.approx((0.5 + 2 / 3) / 3)


def test_single_label_macro_f1():
    assert macro_f1([0, 1, 2], [0, 1, 2], 3) == 1.0
    with pytest.raises(ValueError):
        macro_f1([0], [0, 1], 2)
