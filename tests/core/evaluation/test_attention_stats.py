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


# -- word specificity and foreground gain ------------------------------------------------

def test_word_specificity_by_hand():
    from workbench.core.evaluation.attention_stats import js_divergence, word_specificity
    same = np.array([[[0.7, 0.3], [0.7, 0.3]]])  # two words looking at the same patches
    assert word_specificity(same) == pytest.approx(0.0)
    apart = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])  # the third row is padding
    # mean map (0.5, 0.5); M = (0.75, 0.25); JS = 0.5 KL(p||M) + 0.5 KL(mean||M)
    kl_p = math.log(1 / 0.75)
    kl_mean = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert word_specificity(apart, row_mask=[[True, True, False]]) == \
        pytest.approx(0.5 * kl_p + 0.5 * kl_mean)
    assert 0.5 * kl_p + 0.5 * kl_mean == pytest.approx(0.215762, abs=1e-6)
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == \
        pytest.approx(math.log(2))  # its largest value
    assert math.isnan(word_specificity(np.array([[[1.0, 0.0], [0, 0]]])))  # one real word


def _half_inked(n=1, size=4):
    """Images (n, 3, size, size), their left half black on white: grid (2, 2) has its two
    left patches foreground."""
    images = np.full((n, 3, size, size), 255, dtype=np.uint8)
    images[:, :, :, : size // 2] = 0
    return images


def test_foreground_patches_need_half_their_pixels_inked():
    from workbench.core.evaluation.attention_stats import foreground_patches
    fg = foreground_patches(_half_inked(), (2, 2))
    np.testing.assert_array_equal(fg, [[True, False, True, False]])
    light = np.full((1, 3, 4, 4), 250, dtype=np.uint8)
    light[0, 1, 0, 0] = 239  # one pixel of one channel below 240: a quarter of the patch
    np.testing.assert_array_equal(foreground_patches(light, (2, 2)), [[False] * 4])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        foreground_patches(np.zeros((4, 4)), (2, 2))


def test_foreground_gain_by_hand():
    from workbench.core.evaluation.attention_stats import foreground_gain
    fg = np.array([[True, False, True, False]])  # s = 0.5
    on_ink = np.array([[[0.5, 0.0, 0.5, 0.0]]])
    uniform = np.full((1, 1, 4), 0.25)
    on_white = np.array([[[0.0, 0.5, 0.0, 0.5]]])
    assert foreground_gain(on_ink, fg) == pytest.approx(1.0)
    assert foreground_gain(uniform, fg) == pytest.approx(0.0)
    assert foreground_gain(on_white, fg) == pytest.approx(-1.0)
    # m = 0.75 with s = 0.5: (0.75 - 0.5) / 0.5; padding rows do not count
    two = np.array([[[0.5, 0.0, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25], [0, 1.0, 0, 0]]])
    assert foreground_gain(two, fg, row_mask=[[True, True, False]]) == pytest.approx(0.5)
    # nothing drawn, or no background: no figure
    assert math.isnan(foreground_gain(uniform, np.zeros((1, 4), dtype=bool)))
    assert math.isnan(foreground_gain(uniform, np.ones((1, 4), dtype=bool)))


def test_snapshot_stats_measure_what_the_snapshot_has():
    from workbench.core.evaluation.attention_stats import snapshot_stats
    from workbench.core.training.events import AttentionSnapshot, Probe
    probes = [Probe(0, "a cat", ["a", "cat"], _half_inked()[0], None)]
    t2i = np.array([[[0.5, 0.0, 0.5, 0.0], [0.5, 0.0, 0.5, 0.0], [0.25] * 4]])  # padded
    snap = AttentionSnapshot(epoch=3, step=9, probes=probes, modality_names=[],
                             maps={"text_to_image": t2i,
                                   "image_to_text": np.full((1, 4, 3), 1 / 3)},
                             grid=(2, 2))
    stats = snapshot_stats(snap)
    assert stats["t2i_entropy"] == pytest.approx(0.5)  # two of four patches, evenly
    assert stats["t2i_specificity"] == pytest.approx(0.0)
    assert stats["t2i_foreground_gain"] == pytest.approx(1.0)
    assert stats["i2t_entropy"] == pytest.approx(1.0)  # the padding word left out
    assert "modality_entropy" not in stats
    snap.probes[0].image = None  # no pixels: no foreground figure, the others stay
    assert set(snapshot_stats(snap)) == {"t2i_entropy", "t2i_specificity", "i2t_entropy"}


def test_with_a_null_key_each_word_counts_by_its_share_on_the_image():
    """Word "a" sends 90% of its attention to the null key and its last 10% to the
    background; "cat" all of its attention to the drawing, one patch of it. Each counts by
    its share on the image: 0.1 and 1.0."""
    from workbench.core.evaluation.attention_stats import snapshot_stats
    from workbench.core.training.events import AttentionSnapshot, Probe
    probes = [Probe(0, "a cat", ["a", "cat"], _half_inked()[0], None)]
    t2i = np.array([[[0.0, 0.05, 0.0, 0.05], [1.0, 0.0, 0.0, 0.0]]])
    null = np.array([[0.9, 0.0]])
    snap = AttentionSnapshot(epoch=1, step=1, probes=probes, modality_names=[],
                             maps={"text_to_image": t2i, "text_to_null": null}, grid=(2, 2))
    stats = snapshot_stats(snap)
    assert stats["t2i_null_share"] == pytest.approx(0.45)
    # m = (0.1 * 0 + 1.0 * 1) / 1.1 with s = 0.5
    m = 1.0 / 1.1
    assert stats["t2i_foreground_gain"] == pytest.approx((m - 0.5) / 0.5)
    # entropies 0.5 ("a": two of four patches evenly) and 0 ("cat"), weighted 0.1 : 1
    assert stats["t2i_entropy"] == pytest.approx(0.05 / 1.1, abs=1e-6)
    # the caption's mean map is mostly "cat"'s: "a" far from it, "cat" close
    del snap.maps["text_to_null"]  # the same maps without a null key: words alike
    plain = snapshot_stats(snap)
    assert plain["t2i_entropy"] == pytest.approx(0.25)
    assert plain["t2i_foreground_gain"] == pytest.approx(0.0)
    assert stats["t2i_specificity"] < plain["t2i_specificity"]


def test_graph_neighbour_weights_by_hand():
    from workbench.core.evaluation.attention_stats import neighbour_entropy, snapshot_stats
    from workbench.core.training.events import AttentionSnapshot
    even = {"node": "a cat", "neighbours": [("x", "image", 0.25)] * 4}
    one = {"node": "a dog", "neighbours": [("x", "image", 1.0), ("y", "text", 0.0)]}
    alone = {"node": "a fox", "neighbours": [("x", "image", 1.0)]}  # no uniform to differ from
    assert neighbour_entropy([even, one, alone]) == pytest.approx(0.5)  # (1 + 0) / 2
    half = {"node": "a hen", "neighbours": [("x", "image", 0.5), ("y", "image", 0.5),
                                            ("z", "image", 0.0), ("w", "image", 0.0)]}
    assert neighbour_entropy([half]) == pytest.approx(0.5)  # log 2 / log 4
    snap = AttentionSnapshot(epoch=1, step=1, probes=[], modality_names=[], maps={},
                             graph=[even])
    assert snapshot_stats(snap) == {"graph_entropy": 1.0}
