"""The Embeddings tab: planted clusters and planted pairs go in, and the scatter, the figures,
hovering, clicking (nearest neighbours in the other modality), the box and the epoch slider
must show them; projections run off the GUI thread; a real run's snapshots load."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, Qt, Signal

from fixtures import make_image_folder, tiny_config
from workbench.core.data import load_dataset
from workbench.core.data.loader import PairTable
from workbench.core.evaluation.projection import available_methods, project_modalities
from workbench.core.training.events import EmbeddingSnapshot
from workbench.ui.plots import embedding_view as EV
from workbench.ui.plots.embedding_view import EmbeddingView
from workbench.ui.session import Session

N, D, K = 60, 16, 3  # samples, width, planted clusters
WAIT_MS = 20_000


def planted(epoch: int = 1, seed: int = 0, spread: float = 6.0) -> EmbeddingSnapshot:
    """K label clusters; each image is its caption plus a little noise (its planted
    partner), fused is their mean."""
    rng = np.random.default_rng(seed)
    labels = np.arange(N) % K
    centres = rng.normal(size=(K, D)) * spread
    text = centres[labels] + rng.normal(size=(N, D))
    image = text + rng.normal(size=(N, D)) * 0.05
    return EmbeddingSnapshot(epoch, 10 * epoch, np.arange(N), text.astype(np.float32),
                             image.astype(np.float32), ((text + image) / 2).astype(np.float32),
                             labels, ["red", "green", "blue"])


def table() -> PairTable:
    images = np.zeros((N, 3, 8, 8), np.uint8)
    images[:, 0] = np.arange(N)[:, None, None] * 4
    labels = np.arange(N) % K
    return PairTable(source="test", kind="test", file="test", rows=list(range(N)),
                     captions=[f"caption {i}" for i in range(N)], tokens=None, images=images,
                     image_index=np.arange(N), image_paths=None, original_sizes=None,
                     text_features=None, image_features=None, labels=labels,
                     label_names=["red", "green", "blue"], label_column="label")


@pytest.fixture
def view(qtbot):
    session = Session()
    session.set_table(table())
    v = EmbeddingView(session)
    qtbot.addWidget(v)
    v.resize(1000, 700)
    v.show()
    qtbot.waitExposed(v)
    yield v
    assert v.shutdown()


def fed(qtbot, view, snap=None):
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.add_snapshot(snap or planted())
    settled(qtbot, view)
    return view


def settled(qtbot, view):
    """Wait until the view box has fitted the new points: it does so lazily, over a paint or
    two (the symbols' pixel padding), so scene positions read earlier go stale."""
    ranges = []

    def unchanged() -> bool:
        view.canvas.repaint()
        ranges.append(view.plot.vb.viewRange())
        return len(ranges) > 1 and ranges[-1] == ranges[-2]
    qtbot.waitUntil(unchanged, timeout=WAIT_MS)


def viewport_pos(view, modality, j) -> QPoint:
    return view.canvas.mapFromScene(view.scene_pos_of(modality, j))


def loneliest(view, modality="text") -> int:
    """The point of ``modality`` farthest (in pixels) from any other drawn point, so a mouse
    put on it cannot hit a neighbour instead."""
    scene = {m: np.array([[q.x(), q.y()] for q in
                          (view.scene_pos_of(m, j) for j in range(len(p)))])
             for m, p in view.points().items()}
    own, everything = scene[modality], np.concatenate(list(scene.values()))
    d = np.sqrt(((own[:, None] - everything[None]) ** 2).sum(-1))
    d[d == 0] = np.inf  # the point itself
    return int(d.min(1).argmax())


def test_points_figures_and_legend(qtbot, view):
    fed(qtbot, view)
    pts = view.points()
    assert set(pts) == {"text", "image"}  # fused is off by default
    assert pts["text"].shape == (N, 2) and pts["image"].shape == (N, 2)
    snap = planted()
    expected = project_modalities({"text": snap.text, "image": snap.image}, "pca")
    np.testing.assert_allclose(pts["text"], expected["text"], atol=1e-4)
    assert view.last_thread is not None and view.last_thread != threading.get_ident()
    stats = view.stats()
    assert set(stats) >= {"gap", "alignment", "uniformity_text", "uniformity_image"}
    assert stats["gap"] < 0.05 and stats["alignment"] < 0.05  # images sit on their captions
    assert "modality gap" in view.figures.text() and "alignment" in view.figures.text()
    for name in ("red", "green", "blue", "text", "image"):
        assert name in view.legend.text()
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.modality_checks["fused"].setChecked(True)
    assert view.points()["fused"].shape == (N, 2)


def test_join_pairs_draws_one_line_per_pair(qtbot, view):
    fed(qtbot, view)
    assert view.pair_count == 0
    view.pairs_check.setChecked(True)
    assert view.pair_count == N
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.modality_checks["image"].setChecked(False)
    assert view.pair_count == 0


def _method_index(view, name):
    return view.method_combo.findData(name)


@pytest.mark.skipif(available_methods()["tsne"] is not None, reason="no t-SNE package")
def test_switching_method_projects_off_the_gui_thread_and_drops_stale_results(qtbot, view):
    fed(qtbot, view)
    pca = view.points()
    with qtbot.waitSignal(view.projected, timeout=60_000) as got:
        view.method_combo.setCurrentIndex(_method_index(view, "tsne"))
    assert view.last_thread != threading.get_ident()
    assert not np.allclose(got.args[0]["text"], pca["text"])
    assert view.plot.getAxis("bottom").labelText == "t-SNE 1"
    # A t-SNE of epoch 2 superseded by going back to PCA: PCA is drawn, t-SNE never is.
    shown = []
    view.projected.connect(shown.append)
    view.add_snapshot(planted(epoch=2, seed=1))
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.method_combo.setCurrentIndex(_method_index(view, "pca"))
    assert view.shutdown()
    qtbot.wait(50)  # let any queued result arrive: it must not be drawn
    assert len(shown) == 1
    expected = project_modalities({"text": planted(2, 1).text,
                                   "image": planted(2, 1).image}, "pca")
    np.testing.assert_allclose(view.points()["text"], expected["text"], atol=1e-4)


def test_unavailable_method_is_disabled_with_what_to_install(qtbot, monkeypatch):
    monkeypatch.setattr(EV, "available_methods", lambda: {
        "pca": None, "tsne": "t-SNE needs ... pip install openTSNE", "umap": None})
    v = EmbeddingView()
    qtbot.addWidget(v)
    i = _method_index(v, "tsne")
    assert not v.method_combo.model().item(i).isEnabled()
    assert "pip install openTSNE" in v.method_combo.itemData(i, Qt.ItemDataRole.ToolTipRole)


def test_failed_projection_is_reported(qtbot, view):
    tiny = EmbeddingSnapshot(1, 1, np.arange(3), np.eye(3, dtype=np.float32),
                             np.eye(3, dtype=np.float32), None, None, [])
    fed(qtbot, view, tiny)
    with qtbot.waitSignal(view.projection_failed, timeout=WAIT_MS) as got:
        view.method_combo.setCurrentIndex(_method_index(view, "umap"))
    assert "at least 5 points" in got.args[0] and "at least 5" in view.status.text()


def test_epoch_slider_replays_snapshots(qtbot, view):
    fed(qtbot, view, planted(epoch=1, seed=0))
    fed(qtbot, view, planted(epoch=2, seed=5))
    assert view.epochs == [1, 2] and view.snapshot.epoch == 2  # follows the newest
    second = view.points()["text"]
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.epoch_slider.setValue(0)
    assert view.snapshot.epoch == 1
    assert not np.allclose(view.points()["text"], second)
    assert view.epoch_label.text().startswith("1")
    view.add_snapshot(planted(epoch=3, seed=6))  # the user looks at epoch 1: it stays
    assert view.snapshot.epoch == 1 and view.epoch_slider.maximum() == 2
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.epoch_slider.setValue(1)
    np.testing.assert_allclose(view.points()["text"], second)  # from the cache


def test_hover_and_click_select_the_sample_and_list_its_partner_first(qtbot, view):
    fed(qtbot, view)
    j = loneliest(view, "text")
    pos = viewport_pos(view, "text", j)
    with qtbot.waitSignal(view.hovered, timeout=WAIT_MS,
                          check_params_cb=lambda hit: hit is not None) as got:
        qtbot.mouseMove(view.canvas.viewport(), pos)
    assert got.args[0] == ("text", j)
    assert f"caption {j}" in view.samples.card_text.text()
    assert "red green blue".split()[j % K] in view.samples.card_text.text()
    assert not view.samples.card_image.pixmap().isNull()  # the thumbnail
    with qtbot.waitSignal(view.selection_changed, timeout=WAIT_MS):
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    first = view.neighbours()[0]
    assert first[:2] == ("image", j) and first[2] > 0.99
    assert all(m == "image" for m, _, _ in view.neighbours())
    assert view.samples.entries[0].startswith(f"caption {j}\n")
    assert len(view.samples.entries) == EV.NEIGHBOURS
    # the neighbours are the caption's own cluster
    assert {r % K for _, r, _ in view.neighbours()} == {j % K}


def test_hover_away_from_points_shows_nothing(view, qtbot):
    fed(qtbot, view)
    corner = view.plot.vb.sceneBoundingRect().topLeft()
    assert view.hover_at(corner + type(corner)(1, 1)) is None


def test_image_point_lists_captions(qtbot, view):
    fed(qtbot, view)
    view.select_index(7, "image")
    assert view.neighbours()[0][:2] == ("text", 7)


def test_box_lists_exactly_the_points_inside(qtbot, view):
    fed(qtbot, view)
    pts = view.points()
    x0, x1 = np.percentile(pts["text"][:, 0], [20, 70])
    y0, y1 = np.percentile(pts["text"][:, 1], [10, 90])
    with qtbot.waitSignal(view.selection_changed, timeout=WAIT_MS):
        view.select_box(x0, y0, x1, y1)
    inside = {(m, j) for m, p in pts.items() for j in range(len(p))
              if x0 <= p[j, 0] <= x1 and y0 <= p[j, 1] <= y1}
    assert inside and set(view.selected()) == inside
    assert len(view.samples.entries) == len(inside)
    # dragging the box (the ROI) updates the list
    with qtbot.waitSignal(view.selection_changed, timeout=WAIT_MS):
        view.box.setPos((x0 - 1e6, y0 - 1e6))  # finish=True: as a drag ends
    assert view.selected() == [] and view.samples.entries == []
    view.box_button.setChecked(False)
    assert view.box not in view.plot.items


class FakeController(QObject):
    started = Signal(object)
    embeddings_updated = Signal(object)


def test_live_feed_projects_only_when_visible(qtbot, view):
    controller = FakeController()
    view.connect_controller(controller)
    fed(qtbot, view)
    controller.started.emit(None)
    assert view.epochs == [] and view.points() == {}
    view.hide()
    controller.embeddings_updated.emit(planted(epoch=1))
    assert view.points() == {} and view.epochs == [1]
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.show()
    assert view.points()["text"].shape == (N, 2)


def test_load_snapshots_of_a_real_run(qtbot, tmp_path):
    from workbench.core.runs.writer import RunWriter
    from workbench.core.training import Trainer

    cfg = tiny_config(make_image_folder(tmp_path / "shapes"), "algorithm.name=contrastive",
                      "fusion.name=mean", "training.epochs=2")
    ds = load_dataset(cfg)
    run_dir = tmp_path / "run"
    end = Trainer(cfg, ds, callbacks=[RunWriter(run_dir, cfg)], run_dir=run_dir).fit()
    assert end.status == "finished", end.reason
    session = Session()
    session.set_table(ds.table)
    v = EmbeddingView(session)
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    with qtbot.waitSignal(v.projected, timeout=WAIT_MS):
        assert v.load_snapshots(run_dir) == 2
    assert v.epochs == [1, 2] and v.snapshot.epoch == 2
    n_val = len(ds.indices("val"))
    assert v.points()["text"].shape == (n_val, 2)
    v.select_index(0, "text")
    assert len(v.neighbours()) == min(EV.NEIGHBOURS, n_val)
    row = int(v.snapshot.index[0])
    assert ds.table.caption(row) in v.samples.list_title.text()
    assert v.shutdown()
    with pytest.raises(Exception, match="no embedding snapshots"):
        v.load_snapshots(tmp_path)


def test_a_new_run_clears_the_side_panel_and_the_neighbour_rings(qtbot, view):
    controller = FakeController()
    view.connect_controller(controller)
    fed(qtbot, view)
    j = loneliest(view, "text")
    qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=viewport_pos(view, "text", j))
    assert view.neighbours() and view.samples.entries
    assert f"caption {j}" in view.samples.card_text.text()
    assert len(view.neighbour_marks.data) == EV.NEIGHBOURS
    with qtbot.waitSignal(view.selection_changed, timeout=WAIT_MS):
        controller.started.emit(None)  # a new run: what was picked belongs to the old one
    assert view.neighbours() == [] and view.selected() == []
    assert view.samples.entries == [] and view.samples.list_title.text() == ""
    assert view.samples.card_text.text() == EV.SamplePanel(lambda: None).card_text.text()
    # the new run's first snapshot: no rings of the old selection drawn on it
    fed(qtbot, view, planted(epoch=1, seed=3))
    assert len(view.neighbour_marks.data) == 0 and len(view.selected_mark.data) == 0
    assert view.samples.entries == []


def test_a_saved_picture_carries_the_legend(qtbot, view, tmp_path):
    from PySide6.QtGui import QImage

    from workbench.ui.plot_export import export_plot

    fed(qtbot, view)
    assert view.legend_entries() == [
        ("o", "#555555", "text"), ("s", "#555555", "image"),
        *[("s", EV.label_colour(i, K).name(), name)
          for i, name in enumerate(["red", "green", "blue"])]]
    items = len(view.canvas.scene().items())
    bare = QImage(str(export_plot(view.canvas, tmp_path / "bare.png")))
    with view.export_legend():
        legend = QImage(str(export_plot(view.canvas, tmp_path / "legend.png")))
    assert len(view.canvas.scene().items()) == items  # the legend went again
    assert legend.size() == bare.size() == view.canvas.size() * 2

    def colours(image, x0, x1, y0, y1):
        return {image.pixel(x, y) for x in range(x0, x1, 2) for y in range(y0, y1, 2)}
    # Only the plot's top-right corner changed, and it now shows every label's colour.
    w, h = legend.width(), legend.height()
    assert colours(legend, 0, w // 2, h // 2, h) == colours(bare, 0, w // 2, h // 2, h)
    corner = colours(legend, w // 2, w, 0, h // 2)
    assert corner != colours(bare, w // 2, w, 0, h // 2)
    for i in range(K):
        assert EV.label_colour(i, K).rgb() in corner


def test_the_preview_s_planted_clusters_gather_epoch_by_epoch(qtbot, view):
    """``python -m workbench.ui.plots.embedding_preview`` feeds the tab planted clusters
    whose captions and images move together: the gap between them closes over the epochs."""
    from workbench.ui.plots.embedding_preview import preview_snapshots
    snaps = preview_snapshots(n=60, epochs=3)
    for snap in snaps:
        fed(qtbot, view, snap)
    assert view.epochs == [1, 2, 3]
    last_gap = view.stats()["gap"]
    with qtbot.waitSignal(view.projected, timeout=WAIT_MS):
        view.epoch_slider.setValue(0)
    assert view.stats()["gap"] > 2 * last_gap, (view.stats()["gap"], last_gap)
