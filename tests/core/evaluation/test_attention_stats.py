"""Normalised entropy of attention maps against values computed by hand on tiny maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.core.evaluation.attention_stats import (describe_entropy, normalised_entropy,
                                                       row_normalised_entropy, token_mask,
                                                       uniform_weight, uniformity_words)


def test_uniform_is_one_and_one_hot_is_zero():
    assert normalised_entropy(np.full((3, 4), 0.25)) == pytest.approx(1.0)
    assert normalised_entropy(np.eye(4)) == pytest.approx(0.0)
    assert uniform_weight(64) == 1 / 64


def test_a_row_by_hand():
    # (1/2, 1/4, 1/4, 0): H = 1/2 ln 2 + 2 * 1/4 ln 4 = 1.5 ln 2; log 4 = 2 ln 2 -> 0.75.
    assert normalised_entropy(np.array([[0.5, 0.25, 0.25, 0.0]])) == pytest.approx(0.75)
    # Half the keys evenly: ln 2 / ln 4 = 0.5; the mean of the two rows: (1 + 0.5) / 2.
    rows = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_allclose(row_normalised_entropy(rows), [1.0, 0.5])
    assert normalised_entropy(rows) == pytest.approx(0.75)


def test_padding_rows_and_empty_rows_do_not_count():
    # A 2-word caption padded to 3 rows: the padding row (one-hot here) is left out.
    t2i = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert normalised_entropy(t2i, row_mask=[True, True, False]) == pytest.approx(0.75)
    # An absent modality's rows are all zero: no distribution, so they do not count either.
    assert normalised_entropy(np.vstack([t2i[:2], np.zeros((2, 4))])) == pytest.approx(0.75)
    assert math.isnan(normalised_entropy(np.zeros((2, 4))))
    assert math.isnan(normalised_entropy(t2i, row_mask=[False] * 3))


def test_masked_keys_shrink_the_uniform():
    # image -> text over a 2-word caption padded to 4: uniform over the 2 real words is 1,
    # whatever sits (as it should not) on the padding; log 2 is the bound, not log 4.
    i2t = np.array([[0.5, 0.5, 0.0, 0.0], [0.4, 0.4, 0.1, 0.1]])
    words = np.array([True, True, False, False])
    np.testing.assert_allclose(row_normalised_entropy(i2t, words), [1.0, 1.0])
    # (0.75, 0.25) over 2 keys: -(0.75 ln 0.75 + 0.25 ln 0.25) / ln 2.
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert normalised_entropy(np.array([[0.75, 0.25, 0.0]]), key_mask=[1, 1, 0]) == \
        pytest.approx(expected)
    # One real key: no uniform to differ from.
    assert math.isnan(normalised_entropy(np.array([[1.0, 0.0]]), key_mask=[True, False]))


def test_batches_of_maps_and_unnormalised_rows():
    maps = np.stack([np.full((2, 4), 0.25), np.eye(4)[:2]])  # (probes, words, patches)
    mask = np.array([[True, True], [True, False]])
    np.testing.assert_allclose(row_normalised_entropy(maps), [[1, 1], [0, 0]], atol=1e-12)
    assert normalised_entropy(maps, row_mask=mask) == pytest.approx(2 / 3)
    # Rows are distributions: a row that sums to 2 (two heads added) reads as its half.
    assert normalised_entropy(np.array([[1.0, 0.5, 0.5, 0.0]])) == pytest.approx(0.75)


def test_probe_maps_with_their_caption_lengths():
    # Two probes, captions of 1 and 2 words padded to 3; 4 patches.
    np.testing.assert_array_equal(token_mask([1, 2], 3), [[1, 0, 0], [1, 1, 0]])
    t2i = np.zeros((2, 3, 4))
    t2i[0, 0] = [0.5, 0.5, 0, 0]  # 0.5; its padding rows (one-hot, say) must not count
    t2i[0, 1:, 0] = 1.0
    t2i[1, 0] = t2i[1, 1] = 0.25  # 1 and 1
    t2i[1, 2, 0] = 1.0
    assert normalised_entropy(t2i, row_mask=token_mask([1, 2], 3)) == pytest.approx(2.5 / 3)
    # image -> text: the second probe's patches over its 2 words, the padding word ignored.
    i2t = np.zeros((1, 4, 3))
    i2t[0, :, :2] = 0.45
    i2t[0, :, 2] = 0.1
    assert normalised_entropy(i2t, key_mask=token_mask([2], 3)[:, None, :]) == \
        pytest.approx(1.0)


def test_words():
    assert describe_entropy(0.98712) == "normalised entropy 0.987: almost uniform"
    assert uniformity_words(0.95) == "close to uniform"
    assert uniformity_words(0.0) == "sharply focused"
    assert uniformity_words(0.5) == "focused"
    assert "no attention" in describe_entropy(float("nan"))
