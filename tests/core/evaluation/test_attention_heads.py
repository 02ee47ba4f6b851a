"""One head's view of an attention snapshot: its map in place of the heads' mean, so every
figure made from the snapshot is that head's."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.evaluation.attention_heads import head_count, head_snapshot
from workbench.core.evaluation.attention_stats import snapshot_stats
from workbench.core.training.events import AttentionSnapshot, Probe


def _snapshot(heads: np.ndarray, null: np.ndarray | None = None) -> AttentionSnapshot:
    """Probes drawn on white with ink on the left half of a 1 x 2 patch grid."""
    image = np.full((3, 4, 4), 255, np.uint8)
    image[:, :, :2] = 0
    probes = [Probe(i, "a b", ["a", "b"], image.copy(), None) for i in range(len(heads))]
    maps = {"text_to_image": heads.mean(1), "text_to_image_heads": heads}
    if null is not None:
        maps["text_to_null"] = null.mean(1)
        maps["text_to_null_heads"] = null
    return AttentionSnapshot(1, 1, probes, ["text", "image"], maps, grid=(1, 2))


def test_a_heads_view_is_its_own_map_and_figures():
    # Head 0 looks only at the drawing (left patch), head 1 only at the background: their
    # mean is uniform, foreground gain 0; head 0's is +1, head 1's -1.
    heads = np.zeros((2, 2, 2, 2), np.float32)  # (probes, heads, words, patches)
    heads[:, 0, :, 0] = 1.0
    heads[:, 1, :, 1] = 1.0
    snap = _snapshot(heads)
    assert head_count(snap) == 2
    assert snapshot_stats(snap)["t2i_foreground_gain"] == pytest.approx(0.0)
    first, second = head_snapshot(snap, 0), head_snapshot(snap, 1)
    np.testing.assert_array_equal(first.maps["text_to_image"], heads[:, 0])
    assert snapshot_stats(first)["t2i_foreground_gain"] == pytest.approx(1.0)
    assert snapshot_stats(second)["t2i_foreground_gain"] == pytest.approx(-1.0)
    assert snapshot_stats(first)["t2i_entropy"] == pytest.approx(0.0)
    assert snap.maps["text_to_image"][0, 0, 0] == 0.5  # the snapshot itself is untouched
    assert head_snapshot(snap, -1) is snap


def test_a_heads_view_takes_its_null_share_and_its_composites_view():
    heads = np.full((1, 2, 2, 2), 0.25, np.float32)
    null = np.array([[[0.5, 0.5], [0.1, 0.1]]], np.float32)  # (probes, heads, words)
    heads[0, 1] = 0.45
    snap = _snapshot(heads, null)
    snap.composites = _snapshot(heads * 0 + 0.5)
    view = head_snapshot(snap, 1)
    np.testing.assert_array_equal(view.maps["text_to_null"], null[:, 1])
    assert snapshot_stats(view)["t2i_null_share"] == pytest.approx(0.1)
    np.testing.assert_array_equal(view.composites.maps["text_to_image"],
                                  snap.composites.maps["text_to_image_heads"][:, 1])


def test_a_head_the_snapshot_lacks_is_refused():
    snap = _snapshot(np.full((1, 2, 2, 2), 0.5, np.float32))
    with pytest.raises(ValueError, match="head 3 asked for; this snapshot has 2"):
        head_snapshot(snap, 2)
    del snap.maps["text_to_image_heads"]
    assert head_count(snap) == 0
    with pytest.raises(ValueError, match="has no heads"):
        head_snapshot(snap, 0)
