"""The Attention tab's composite probes: two emoji side by side with one's caption, listed
after the real probes, drawn with the captioned half outlined and the pointing game named."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.evaluation.attention_stats import snapshot_stats
from workbench.core.training.events import AttentionSnapshot, Probe
from workbench.ui.plots.attention_view import AttentionView

S, GRID = 16, (4, 4)
LEFT = [c + 4 * r for r in range(4) for c in (0, 1)]  # patches of columns 0 and 1
RIGHT = [c + 4 * r for r in range(4) for c in (2, 3)]


def looking_at(patches, words=2, length=3) -> np.ndarray:
    """(length, 16): each of ``words`` words spread over ``patches``, then padding rows."""
    m = np.zeros((length, 16), np.float32)
    m[:words, patches] = 1 / len(patches)
    m[words:, :] = 1 / 16  # padding attends somewhere too; it is no word
    return m


def snapshot() -> AttentionSnapshot:
    """Two real probes on white with ink in a corner, and two composites: the first's words
    look at its captioned (left) half, the second's at the half it does not describe."""
    real = []
    for i in range(2):
        image = np.full((3, S, S), 255, np.uint8)
        image[:, :8, :8] = 0
        real.append(Probe(10 + i, f"real {i}", ["real", str(i)], image, "faces"))
    rng = np.random.default_rng(0)
    t2i = rng.uniform(0, 1, (2, 2, 16)).astype(np.float32)
    t2i /= t2i.sum(-1, keepdims=True)
    composites = []
    for k, side in enumerate(("left", "right")):
        image = np.full((3, S, S), 255, np.uint8)
        image[:, 4:12, 1:7] = 40 * k
        image[:, 4:12, 9:15] = 200
        composites.append(Probe(20 + k, f"cat {k}", ["cat", str(k)], image, "animals",
                                captioned=side))
    comp = AttentionSnapshot(1, 5, composites, ["text", "image"],
                             {"text_to_image": np.stack([looking_at(LEFT), looking_at(LEFT)])},
                             GRID)
    return AttentionSnapshot(1, 5, real, ["text", "image"], {"text_to_image": t2i}, GRID,
                             composites=comp)


@pytest.fixture
def view(qtbot):
    v = AttentionView()
    qtbot.addWidget(v)
    v.resize(900, 650)
    return v


def test_composites_follow_the_real_probes_in_the_list(view):
    view.set_snapshot(snapshot())
    items = [view.probe_combo.itemText(i) for i in range(view.probe_combo.count())]
    assert len(items) == 4 and items[0].startswith("real 0")
    assert items[2] == "composite (left): cat 0  [animals]"
    assert items[3] == "composite (right): cat 1  [animals]"
    assert not view.composite_shown and view.overlay.region_rect() is None


def test_a_composite_is_drawn_with_its_captioned_half_outlined(view):
    snap = snapshot()
    view.set_snapshot(snap)
    view.probe_combo.setCurrentIndex(2)
    assert view.composite_shown
    np.testing.assert_allclose(view.coattention.values, looking_at(LEFT)[:2])
    assert view.overlay.image.shape == (S, S, 3)
    # the overlay blends the composite, not a real probe: its grey emoji shows through
    assert view.overlay.image[8, 3].tolist() != view.overlay.image[8, 11].tolist()
    assert view.overlay.region == (0, 2)
    rect = view.overlay.region_rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (0, 0, S / 2, S)
    text = view.uniformity.text()
    assert "describes the left emoji" in text and "100.0% of their attention" in text
    assert "a hit" in text and "over the 2 composites: 1 hit (chance half)" in text
    assert "Over the probes" not in text  # the real probes' figures are not the composites'

    view.probe_combo.setCurrentIndex(3)
    assert view.overlay.region == (2, 4) and "a miss" in view.uniformity.text()
    assert "describes the right emoji" in view.uniformity.text()

    view.probe_combo.setCurrentIndex(0)
    assert not view.composite_shown and view.overlay.region_rect() is None
    stats = snapshot_stats(snap)
    assert f"foreground gain {stats['t2i_foreground_gain']:+.2f}" in view.uniformity.text()


def test_a_new_snapshot_keeps_the_chosen_composite(view):
    view.set_snapshot(snapshot())
    view.probe_combo.setCurrentIndex(3)
    view.set_snapshot(snapshot())
    assert view.probe_combo.currentIndex() == 3 and view.overlay.region == (2, 4)
    plain = snapshot()
    plain.composites = None  # a run without composites: back to the real probes
    view.set_snapshot(plain)
    assert view.probe_combo.count() == 2 and not view.composite_shown


def test_a_real_run_shows_its_composites(view, tmp_path):

    from fixtures import make_colour_shape_folder, tiny_config
    from workbench.core.data import load_dataset
    from workbench.core.training import Trainer
    from workbench.core.training.callbacks import EventRecorder
    folder = make_colour_shape_folder(tmp_path / "shapes")
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=coattention",
                      "data.val_fraction=0.5")
    recorder = EventRecorder()
    assert Trainer(cfg, load_dataset(cfg), callbacks=[recorder]).fit().status == "finished"
    snap = recorder.of(AttentionSnapshot)[-1]
    view.set_snapshot(snap)
    n = len(snap.probes)
    assert view.probe_combo.count() == n + cfg.training.composite_probes
    view.probe_combo.setCurrentIndex(n)
    probe = snap.composites.probes[0]
    assert view.probe_combo.currentText().startswith("composite (")
    assert view.coattention.row_names == probe.tokens
    cols = snap.grid[1]
    assert view.overlay.region == ((0, cols // 2) if probe.captioned == "left" else
                                   (cols - cols // 2, cols))
    assert "Composite: the caption describes" in view.uniformity.text()
