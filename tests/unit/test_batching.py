import itertools

import numpy as np
import pytest

from inference.batching import (
    MAX_PADDING_RATIO,
    Segments,
    mean_by_owner,
    run_segments,
    segment_texts,
    token_budget_batches,
    window_spans,
)


@pytest.mark.parametrize(("length", "window", "overlap"), [(10, 10, 2), (11, 10, 2), (100, 10, 3), (1, 5, 1)])
def test_window_spans_cover_everything_with_overlap(length, window, overlap):
    spans = window_spans(length, window, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    for (s1, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 - s2 == overlap  # consecutive windows share exactly `overlap` positions
        assert e1 - s1 == window
    assert all(e - s <= window for s, e in spans)


def test_token_budget_batches_respect_budget_and_cover_every_index_once():
    lengths = [5, 300, 7, 12, 250, 6, 9, 40, 41, 3] * 5
    batches = token_budget_batches(lengths, token_budget=600, max_batch_size=8)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 8
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 600
    # short texts are not batched with long ones: padding waste stays small
    short_batch = next(b for b in batches if 3 in [lengths[i] for i in b])
    assert max(lengths[i] for i in short_batch) < 40


def test_batches_of_mixed_lengths_keep_padding_under_the_ratio():
    """60 posts and 4 paragraphs: within the budget, but one batch would pad posts sixfold."""
    lengths = [20] * 60 + [120] * 4
    batches = token_budget_batches(lengths, token_budget=8192, max_batch_size=64)
    assert len(batches) == 2 and sorted(len(b) for b in batches) == [4, 60]
    for batch in batches:
        real = sum(lengths[i] for i in batch)
        assert len(batch) * max(lengths[i] for i in batch) <= MAX_PADDING_RATIO * real


def test_segment_texts_splits_long_text_into_model_sized_windows(minilm_tokenizer):
    long_text = " ".join(f"word{i}" for i in range(400))
    segments = segment_texts(minilm_tokenizer, ["short text", long_text], max_tokens=64, overlap=8)
    assert segments.owners[0] == 0 and set(segments.owners[1:]) == {1}
    assert len(segments.owners) > 5
    assert all(len(ids) <= 64 for ids in segments.input_ids)
    cls, sep = minilm_tokenizer.cls_token_id, minilm_tokenizer.sep_token_id
    assert all(ids[0] == cls and ids[-1] == sep for ids in segments.input_ids)
    # all content tokens of the long text appear, in order, across the windows
    full = minilm_tokenizer(long_text, add_special_tokens=False)["input_ids"]
    first, second = segments.input_ids[1][1:-1], segments.input_ids[2][1:-1]
    assert first == full[: len(first)]
    assert second[:8] == first[-8:]


def test_run_segments_returns_rows_in_window_order():
    segments = Segments(input_ids=[[1] * n for n in (9, 2, 30, 2, 5)], owners=[0, 1, 2, 3, 4], num_texts=5)

    def forward(input_ids, attention_mask):
        return attention_mask.sum(dim=1, keepdim=True).float()  # the true length of each row

    out = run_segments(segments, forward, pad_id=0, token_budget=40, max_batch_size=2)
    assert out[:, 0].tolist() == [9, 2, 30, 2, 5]


def test_mean_by_owner_averages_windows_per_text():
    values = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]], dtype=np.float32)
    pooled = mean_by_owner(values, [0, 0, 1], 2)
    np.testing.assert_allclose(pooled, [[2.0, 1.0], [5.0, 5.0]])
