"""The Attention tab: heatmaps, overlay, modality weights and graph neighbours, fed with
hand-made snapshots (known arrays) and with one real snapshot from the engine."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Signal

from workbench.core.training.events import AttentionSnapshot, EpochEnded, FitStarted, Probe
from workbench.ui.plots.attention_view import WAITING, AttentionView

S = 16  # image side in pixels
GRID = (4, 4)  # patches: 4 x 4 of 4 x 4 pixels
HOT_TOKEN, HOT_PATCH = 1, 6  # patch 6 is row 1, column 2
TOKENS = [["red", "square", "here"], ["a", "blue", "circle", "there"]]


def _probes(order=(0, 1)) -> list[Probe]:
    out = []
    for i in order:
        image = np.full((3, S, S), 200, np.uint8)
        out.append(Probe(10 + i, " ".join(TOKENS[i]), list(TOKENS[i]), image, f"label{i}"))
    return out


def coattention_snapshot(seed: int = 0, order=(0, 1), step: int = 5) -> AttentionSnapshot:
    """Two probes, the first with a caption shorter than the padded length 4; its word 1
    looks hardest at patch 6."""
    rng = np.random.default_rng(seed)
    t2i = rng.uniform(0.0, 0.1, size=(2, 4, 16)).astype(np.float32)
    t2i[:, HOT_TOKEN, HOT_PATCH] = 0.9
    i2t = rng.uniform(0.0, 1.0, size=(2, 16, 4)).astype(np.float32)
    sa = rng.uniform(0.0, 1.0, size=(2, 4, 4)).astype(np.float32)
    maps = {"text_to_image": t2i[list(order)], "image_to_text": i2t[list(order)],
            "self_attention": sa[list(order)]}
    return AttentionSnapshot(epoch=1, step=step, probes=_probes(order),
                             modality_names=["text", "image"], maps=maps, grid=GRID)


def modality_snapshot() -> AttentionSnapshot:
    maps = {"modality_weights": np.array([[0.7, 0.3], [0.2, 0.8]], np.float32)}
    return AttentionSnapshot(epoch=1, step=3, probes=_probes(), modality_names=["text", "image"],
                             maps=maps, grid=GRID)


def epoch(n: int, text: float) -> EpochEnded:
    return EpochEnded(epoch=n, step=10 * n, train={"loss": 1.0},
                      val={"loss": 1.0, "weight_text": text, "weight_image": 1 - text},
                      seconds=float(n))


@pytest.fixture
def view(qtbot):
    v = AttentionView()
    qtbot.addWidget(v)
    v.resize(900, 650)
    return v


def test_coattention_heatmap_shows_the_chosen_probes_matrix(view):
    snap = coattention_snapshot()
    view.set_snapshot(snap)
    assert view.section_visible("coattention") and view.current_section == "coattention"
    # Padding rows beyond the 3-word caption are dropped.
    np.testing.assert_array_equal(view.coattention.values, snap.maps["text_to_image"][0, :3])
    assert view.coattention.row_tick_labels == TOKENS[0]
    assert view.coattention.col_names[:5] == ["0,0", "0,1", "0,2", "0,3", "1,0"]
    np.testing.assert_array_equal(view.self_attention.values,
                                  snap.maps["self_attention"][0, :3, :3])
    assert view.self_attention.col_tick_labels == TOKENS[0]

    view.probe_combo.setCurrentIndex(1)
    np.testing.assert_array_equal(view.coattention.values, snap.maps["text_to_image"][1])
    assert view.coattention.row_tick_labels == TOKENS[1]
    assert "blue circle" in view.probe_combo.currentText()
    assert "label1" in view.probe_combo.currentText()


def test_choosing_a_word_moves_the_overlay_to_its_patch(view):
    snap = coattention_snapshot()
    view.set_snapshot(snap)
    assert view.selected_token == -1  # all words: the mean over the caption's tokens
    mean = snap.maps["text_to_image"][0, :3].mean(0)
    assert view.overlay.weights.shape == (S, S) and view.overlay.image.shape == (S, S, 3)
    assert np.isclose(view.overlay.weights[0, 0], mean[0])
    before = view.overlay.image.copy()

    assert view.coattention.marked_row is None
    view.select_token(HOT_TOKEN)
    assert view.token_combo.currentText() == "2. square"
    assert view.coattention.marked_row == HOT_TOKEN
    w = view.overlay.weights
    r, c = np.unravel_index(np.argmax(w), w.shape)
    assert (r // 4, c // 4) == (1, 2)  # the hot patch, upsampled to its 4 x 4 pixels
    assert np.all(w[4:8, 8:12] == w.max())
    hot = view.overlay.image[5, 9].astype(int)
    cold = view.overlay.image[0, 0].astype(int)
    assert not np.array_equal(hot, cold) and not np.array_equal(view.overlay.image, before)
    # The strongest patch's own word weights (image -> text) are shown as bars.
    np.testing.assert_allclose(view.patch_words, snap.maps["image_to_text"][0, HOT_PATCH, :3])


@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform, on show()
def test_clicking_a_heatmap_cell_picks_its_word_and_patch(view, qtbot):
    snap = coattention_snapshot()
    view.set_snapshot(snap)
    view.show()
    qtbot.waitExposed(view)
    heat = view.coattention
    pos = heat._glw.mapFromScene(heat.scene_pos_of(2, 5))
    qtbot.mouseMove(heat._glw.viewport(), pos)
    value = snap.maps["text_to_image"][0, 2, 5]
    assert heat.readout == f"word here, patch 1,1: attention {value:.4f} " \
        f"({value * 16:.2f}× uniform)"  # 16 patches: uniform is 1/16
    qtbot.mouseClick(heat._glw.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert view.selected_token == 2
    np.testing.assert_allclose(view.patch_words, snap.maps["image_to_text"][0, 5, :3])
    # A click on the image picks the patch under it: pixel (row 13, column 2) is patch 3,0.
    canvas = view.overlay._canvas
    pos = canvas.mapFromScene(view.overlay.scene_pos_of(13.5, 2.5))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    np.testing.assert_allclose(view.patch_words, snap.maps["image_to_text"][0, 12, :3])
    assert "patch 3,0 (clicked)" in view._patch_title.text()


def test_a_new_snapshot_keeps_probe_word_and_patch(view):
    view.set_snapshot(coattention_snapshot(seed=0))
    view.probe_combo.setCurrentIndex(1)
    view.select_token(2)
    view.select_patch(3)
    combo, tokens = view.token_combo, view.coattention
    new = coattention_snapshot(seed=1, step=9)
    view.set_snapshot(new)
    assert view.probe_combo.currentIndex() == 1 and view.selected_token == 2
    assert view.token_combo is combo and view.coattention is tokens  # updated in place
    np.testing.assert_array_equal(view.coattention.values, new.maps["text_to_image"][1])
    np.testing.assert_allclose(view.patch_words, new.maps["image_to_text"][1, 3])
    # The probes come back in another order: the choice follows the probe, not the row.
    swapped = coattention_snapshot(seed=2, order=(1, 0))
    view.set_snapshot(swapped)
    assert view.probe_combo.currentIndex() == 0 and view.selected_token == 2
    np.testing.assert_array_equal(view.coattention.values, swapped.maps["text_to_image"][0])


def test_modality_weights_only(view):
    view.set_snapshot(coattention_snapshot())
    view.set_snapshot(modality_snapshot())
    assert not view.section_visible("coattention")
    assert not view.section_visible("self_attention")
    assert view.section_visible("modality") and view.current_section == "modality"
    np.testing.assert_allclose(view.modality_values, [0.7, 0.3])
    view.probe_combo.setCurrentIndex(1)
    np.testing.assert_allclose(view.modality_values, [0.2, 0.8])


def test_gate_is_shown_with_the_modality_weights(view):
    snap = modality_snapshot()
    snap.maps["gate"] = np.linspace(0, 1, 2 * 8, dtype=np.float32).reshape(2, 8)
    view.set_snapshot(snap)
    assert not view.gate.isHidden()
    np.testing.assert_allclose(view.gate.values, snap.maps["gate"][:1])
    assert view.gate.row_names == ["text share"] and view.gate.levels == (0.0, 1.0)


def test_add_epochs_grows_the_weight_curves(view):
    view.set_snapshot(modality_snapshot())
    view.add_epochs([epoch(1, 0.6)])
    view.add_epochs([epoch(2, 0.7), epoch(3, 0.8)])
    curves = view.weight_curves()
    assert set(curves) == {"text", "image"}
    np.testing.assert_array_equal(curves["text"][0], [1, 2, 3])
    np.testing.assert_allclose(curves["text"][1], [0.6, 0.7, 0.8])
    np.testing.assert_allclose(curves["image"][1], [0.4, 0.3, 0.2])
    view.reset()
    assert all(x is None or len(x) == 0 for x, _ in view.weight_curves().values())


def test_graph_neighbours_sorted_by_weight(view):
    graph = [{"node": "red square", "neighbours": [
        ("red square (itself)", "text", 0.2), ("image: red square", "image", 0.5),
        ("green square", "text", 0.3)]},
        {"node": "a blue circle", "neighbours": [("a blue circle (itself)", "text", 1.0)]}]
    snap = AttentionSnapshot(epoch=1, step=1, probes=_probes(), modality_names=["text", "image"],
                             graph=graph)
    view.set_snapshot(snap)
    assert view.section_visible("graph") and view.current_section == "graph"
    assert not view.section_visible("coattention")
    assert [r[2] for r in view.graph_rows] == [0.5, 0.3, 0.2]
    assert view.graph_rows[0][:2] == ("image: red square", "image")
    assert view._graph_axis.names[0] == "image: red square"
    assert view._graph_axis.names[2] == "itself: red square"
    # 0.5, 0.3, 0.2: entropy 1.0297 nats of log 3 = 1.0986; the other probe has one neighbour
    assert "3 neighbour weights: 0.937" in view.graph_figures.text()
    assert "over the probes: 0.937" in view.graph_figures.text()
    view.probe_combo.setCurrentIndex(1)
    assert view.graph_rows == [("a blue circle (itself)", "text", 1.0)]
    assert "one neighbour" in view.graph_figures.text()


def test_placeholders(view):
    assert view.placeholder_text == WAITING
    assert not view.section_visible("coattention")
    started = FitStarted(algorithm="classifier", fusion="early", epochs=3, start_epoch=1,
                         steps_per_epoch=2, train_size=10, val_size=5, device="cpu",
                         parameters=100)
    view.reset(started)
    assert view.placeholder_text == WAITING
    view.add_epochs([EpochEnded(1, 2, {"loss": 1.0}, {"loss": 1.0}, 1.0)])
    text = view.placeholder_text
    assert "no attention to show" in text and "early" in text and "GAT" in text
    view.set_snapshot(coattention_snapshot())  # attention after all: the heatmaps win
    assert view.placeholder_text is None and view.section_visible("coattention")
    empty = AttentionSnapshot(epoch=1, step=1, probes=_probes(), modality_names=[])
    view.set_snapshot(empty)
    assert "no attention to show" in view.placeholder_text
    view.reset()
    assert view.placeholder_text == WAITING


def nearly_uniform_snapshot() -> AttentionSnapshot:
    """What a co-attention classifier shows after training: weights within a few percent of
    uniform (1/16 here), which a 0..max scale paints as one flat block."""
    snap = coattention_snapshot()
    rng = np.random.default_rng(3)
    t2i = 1 / 16 + rng.uniform(-0.003, 0.003, size=(2, 4, 16))
    snap.maps["text_to_image"] = (t2i / t2i.sum(-1, keepdims=True)).astype(np.float32)
    return snap


def test_heatmap_default_levels_centre_on_uniform(view):
    view.set_snapshot(nearly_uniform_snapshot())
    heat, shown, uniform = view.coattention, view.coattention.values, 1 / 16
    lo, hi = heat.levels
    assert view.colour_mode == "uniform"
    assert (lo + hi) / 2 == pytest.approx(uniform)  # white (the map's middle) is uniform
    # ... and the scale reaches the weight farthest from it, not 0: the deviations fill it.
    assert hi - uniform == pytest.approx(np.abs(shown - uniform).max(), rel=1e-5)
    assert hi - lo < 0.02
    assert heat.colormap == "CET-D1A" and heat.uniform == pytest.approx(uniform)
    assert heat.uniform_mark.value == pytest.approx(uniform)
    ticks = heat.color_bar.getAxis("right")._tickLevels[0]
    assert (pytest.approx(uniform), "uniform") in ticks
    assert tuple(heat.image_item.getLevels()) == pytest.approx((lo, hi))
    # The overlay of the chosen word over the image and the self-attention alike.
    olo, ohi = view.overlay.color_bar.levels()
    assert (olo + ohi) / 2 == pytest.approx(uniform)
    slo, shi = view.self_attention.levels
    assert (slo + shi) / 2 == pytest.approx(1 / 3)  # a 3-word caption


def test_the_uniformity_figure_beside_the_heatmap(view):
    snap = coattention_snapshot()
    view.set_snapshot(snap)
    text = view.uniformity.text()
    assert text.startswith("Words → patches, normalised entropy ")
    assert "1 = uniform over the 16 patches" in text and "over 2 probes" in text
    view.set_snapshot(nearly_uniform_snapshot())
    assert "almost uniform" in view.uniformity.text()
    view.reset()
    assert view.uniformity.text() == ""


def test_colour_modes(view):
    snap = coattention_snapshot()
    view.set_snapshot(snap)
    shown = view.coattention.values
    assert view.coattention.color_bar.getAxis("right").labelText == "attention"
    view.colour_combo.setCurrentIndex(view.colour_combo.findData("zero"))
    lo, hi = view.coattention.levels
    assert lo == 0.0 and np.isclose(hi, shown.max())
    assert view.coattention.colormap == "viridis"
    assert tuple(view.coattention.image_item.getLevels()) == pytest.approx((lo, hi))
    assert view.coattention.uniform_mark.value == pytest.approx(1 / 16)  # still marked
    view.colour_combo.setCurrentIndex(view.colour_combo.findData("stretch"))
    assert view.coattention.levels == pytest.approx((shown.min(), shown.max()))


class FakeController(QObject):
    started = Signal(object)  # FitStarted
    attention_updated = Signal(object)  # AttentionSnapshot
    epochs_ended = Signal(list)  # list[EpochEnded]


def test_connect_controller(view):
    ctl = FakeController()
    view.connect_controller(ctl)
    view.set_snapshot(coattention_snapshot())
    ctl.started.emit(None)  # a new run forgets the old one's pictures
    assert view.placeholder_text == WAITING
    ctl.attention_updated.emit(modality_snapshot())
    assert view.section_visible("modality")
    ctl.epochs_ended.emit([epoch(1, 0.5)])
    np.testing.assert_allclose(view.weight_curves()["text"][1], [0.5])


# -- the engine's own snapshot ----------------------------------------------------------
@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    from fixtures import make_image_folder, tiny_config
    from workbench.core.data import load_dataset
    from workbench.core.training import Trainer
    from workbench.core.training.callbacks import EventRecorder
    folder = make_image_folder(tmp_path_factory.mktemp("shapes"))
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=coattention")
    recorder = EventRecorder()
    end = Trainer(cfg, load_dataset(cfg), callbacks=[recorder]).fit()
    assert end.status == "finished", end.reason
    return recorder


def test_a_real_coattention_snapshot_fits(view, real_run):
    snap = real_run.of(AttentionSnapshot)[-1]
    view.add_epochs(real_run.of(EpochEnded))
    view.set_snapshot(snap)
    probe = snap.probes[0]
    rows, cols = snap.grid
    assert view.section_visible("coattention") and view.section_visible("self_attention")
    assert view.coattention.values.shape == (len(probe.tokens), rows * cols)
    assert view.coattention.row_names == probe.tokens
    assert view.overlay.image.shape == probe.image.shape[1:] + (3,)
    assert view.patch_words.shape == (len(probe.tokens),)
    assert view.self_attention.values.shape == (len(probe.tokens),) * 2
    for token in range(len(probe.tokens)):
        view.select_token(token)
    assert view.selected_token == len(probe.tokens) - 1
    # The engine's co-attention has 4 heads (the default): each has its own map to show.
    assert snap.maps["text_to_image_heads"].shape[:2] == (len(snap.probes), 4)
    assert view.heads.count == 4
    view.heads.select(2)
    np.testing.assert_allclose(view.coattention.values,
                               snap.maps["text_to_image_heads"][0, 2, :len(probe.tokens)])


def test_word_specificity_and_foreground_gain_beside_the_heatmap(view):
    """Drawn on white with ink on patches 5 and 6 (2 of 16), where word 1 looks hardest:
    the words differ and the attention leans to the drawing."""
    snap = coattention_snapshot()
    for probe in snap.probes:
        probe.image = np.full((3, S, S), 255, np.uint8)
        probe.image[:, 4:8, 4:12] = 0  # row 1, columns 1 and 2 of the 4 x 4 grid
    view.set_snapshot(snap)
    text = view.uniformity.text()
    from workbench.core.evaluation.attention_stats import snapshot_stats
    stats = snapshot_stats(snap)
    assert stats["t2i_specificity"] > 0.01 and stats["t2i_foreground_gain"] > 0
    assert f"word specificity {stats['t2i_specificity']:.4f} nats" in text
    assert f"foreground gain {stats['t2i_foreground_gain']:+.2f}" in text
    view.set_snapshot(coattention_snapshot())  # grey everywhere: no background, no figure
    assert "foreground gain" not in view.uniformity.text()
    assert "word specificity" in view.uniformity.text()


def test_the_null_key_share_is_shown_for_the_caption_and_the_chosen_word(view):
    """A model with a null key: the tab says how much of the words' attention went to it,
    for the probe's caption, for the chosen word, and over the probes."""
    snap = coattention_snapshot()
    null = np.zeros((2, 4), np.float32)
    null[0, :2] = [0.2, 0.6]
    snap.maps["text_to_null"] = null
    view.set_snapshot(snap)
    words = len(snap.probes[0].tokens)
    mean = float(null[0, :words].mean())
    assert f"Null key: this caption's words put {mean:.0%}" in view.uniformity.text()
    view.select_token(1)
    word = snap.probes[0].tokens[1]
    assert f"Null key: '{word}' put 60%" in view.uniformity.text()
    from workbench.core.evaluation.attention_stats import snapshot_stats
    share = snapshot_stats(snap)["t2i_null_share"]
    assert f"{share:.0%} of the words' attention went to the null key" in view.uniformity.text()


def heads_snapshot() -> AttentionSnapshot:
    """``coattention_snapshot`` with two heads: head 1 puts word 1's weight on patch 6, head
    2 spreads it evenly; their mean is the drawn map."""
    snap = coattention_snapshot()
    t2i = snap.maps["text_to_image"]
    even = np.full_like(t2i, 1.0 / t2i.shape[-1])
    heads = np.stack([2 * t2i - even, even], axis=1)  # mean over the heads: t2i
    snap.maps["text_to_image_heads"] = heads
    return snap


def test_the_head_box_shows_one_heads_map_and_its_figures(view):
    view.set_snapshot(coattention_snapshot())  # no maps per head: no box
    assert view.heads.isHidden() and view.heads.count == 0
    snap = heads_snapshot()
    view.set_snapshot(snap)
    assert not view.heads.isHidden() and view.heads.count == 2
    assert view.heads.combo.currentText() == "all 2 heads (mean)"
    np.testing.assert_allclose(view.coattention.values, snap.maps["text_to_image"][0, :3])
    mean_text = view.uniformity.text()
    assert not mean_text.startswith("Head ")
    view.select_token(HOT_TOKEN)
    view.heads.select(1)  # the even head: its map, its figures
    heads = snap.maps["text_to_image_heads"]
    np.testing.assert_allclose(view.coattention.values, heads[0, 1, :3])
    text = view.uniformity.text()
    assert text.startswith("Head 2 of 2: Words → patches, normalised entropy 1.000")
    from workbench.core.evaluation.attention_heads import head_snapshot
    from workbench.core.evaluation.attention_stats import snapshot_stats
    spec = snapshot_stats(head_snapshot(snap, 1))["t2i_specificity"]
    assert f"word specificity {spec:.4f} nats" in text and spec < 1e-6
    view.heads.select(0)  # the sharp head: word 1's overlay peaks on patch 6 again
    np.testing.assert_allclose(view.coattention.values, heads[0, 0, :3])
    w = view.overlay.weights
    r, c = np.unravel_index(np.argmax(w), w.shape)
    assert (r // 4, c // 4) == divmod(HOT_PATCH, GRID[1])
    view.set_snapshot(heads_snapshot())  # a new snapshot keeps the chosen head
    assert view.heads.head == 0
    view.set_snapshot(coattention_snapshot())  # a model with one head: back to the mean
    assert view.heads.isHidden() and view.heads.head == -1
    np.testing.assert_array_equal(view.coattention.values,
                                  coattention_snapshot().maps["text_to_image"][0, :3])
