"""The Embeddings tab [document 2.1, joint embedding]: where the validation set's captions,
images and fused vectors land, projected TOGETHER onto one plane (PCA, t-SNE or UMAP).

Points are coloured by label or by modality, marked by modality; a toggle joins each caption
to its image. Hovering shows the sample (thumbnail, caption, label); a click lists the
point's nearest neighbours in the other modality (cosine, in the model's own space, not in
2-D); a box lists the samples inside it. An epoch slider replays every snapshot of the run,
and the figures beside the plot (modality gap, alignment, uniformity) follow it.

Projections are computed off the GUI thread and cached (:mod:`.embedding_projection`); a
new snapshot is projected only when the tab is visible (or once it becomes visible).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QLabel, QPushButton, QSlider, QSplitter,
                               QVBoxLayout, QWidget)

from ...core.evaluation.embedding_stats import nearest_neighbours
from ...core.errors import WorkbenchError
from ...core.runs.export import load_snapshot, snapshot_files
from ...core.evaluation.projection import METHODS, available_methods
from ...core.training.events import EmbeddingSnapshot
from ..flow_layout import FlowLayout
from ..plot_export import legend_added
from .embedding_projection import Projections
from .embedding_samples import SamplePanel
from .loss_plot import PALETTE

MODALITIES = ("text", "image", "fused")
SYMBOLS = {"text": "o", "image": "s", "fused": "t"}
SYMBOL_CHARS = {"text": "●", "image": "■", "fused": "▲"}
MODALITY_COLOURS = {"text": "#1f77b4", "image": "#ff7f0e", "fused": "#2ca02c"}
NOUNS = {"text": "caption", "image": "image", "fused": "fused vector"}
POINT_SIZE = 8
HOVER_RADIUS_PX = 8
NEIGHBOURS = 8
LISTED_MAX = 500  # box selections list at most this many samples
LEGEND_LABELS_MAX = 20  # a saved plot's legend names at most this many labels
WAITING = "Waiting for the first embedding snapshot (one is taken every snapshot_every epochs)…"


def label_colour(i: int, n: int):
    return pg.mkColor(PALETTE[i]) if n <= len(PALETTE) else pg.intColor(i, hues=n)


class EmbeddingView(QWidget):
    """A 2-D map of the embeddings of every snapshot received (or loaded) in this run."""

    projected = Signal(object)  # dict[str, np.ndarray]: the (N, 2) points drawn, per modality
    projection_failed = Signal(str)  # why
    hovered = Signal(object)  # (modality, position) under the mouse, or None
    selection_changed = Signal()  # the side list changed (neighbours or a box)

    def __init__(self, session=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._snapshots: dict[int, EmbeddingSnapshot] = {}
        self._epoch: int | None = None
        self._points: dict[str, np.ndarray] = {}
        self.projections = Projections(self)
        self.projections.done.connect(self._on_projected)
        self.projections.failed.connect(self._on_projection_failed)
        self._dirty = False
        self._selected: tuple[str, int] | None = None
        self._neighbours: list[tuple[str, int, float]] = []
        self._boxed: list[tuple[str, int]] = []
        self._legend_names: list[str] = []  # the labels the legend shows, when coloured by them
        self.last_thread: int | None = None  # the thread that computed the drawn points

        self._build_controls()
        self._build_plot()
        side = self._build_side()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.canvas)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._controls)
        layout.addWidget(split, 1)
        if session is not None:
            session.table_changed.connect(self._on_table_changed)
        self.reset()

    # -- construction ----------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.method_combo = QComboBox()
        for i, (name, missing) in enumerate(available_methods().items()):
            self.method_combo.addItem(METHODS[name], name)
            if missing:
                self.method_combo.model().item(i).setEnabled(False)
                self.method_combo.setItemData(i, missing, Qt.ItemDataRole.ToolTipRole)
        self.modality_checks = {m: QCheckBox(m.capitalize()) for m in MODALITIES}
        for m, check in self.modality_checks.items():
            check.setChecked(m != "fused")
            check.setToolTip(f"Show the {NOUNS[m]}s ({SYMBOL_CHARS[m]})")
        self.colour_combo = QComboBox()
        self.colour_combo.addItem("Colour by label", "label")
        self.colour_combo.addItem("Colour by modality", "modality")
        self.pairs_check = QCheckBox("Join pairs")
        self.pairs_check.setToolTip("A line from each caption to its image: short lines mean "
                                    "aligned pairs")
        self.box_button = QPushButton("Box select")
        self.box_button.setCheckable(True)
        self.box_button.setToolTip("Drag and resize the box: the samples inside are listed")
        self.epoch_slider = QSlider(Qt.Orientation.Horizontal)
        self.epoch_slider.setMinimumWidth(120)
        self.epoch_label = QLabel("")
        # Wraps onto a second row in a narrow view.
        self._controls = row = FlowLayout()
        for w in (self.method_combo, *self.modality_checks.values(), self.colour_combo,
                  self.pairs_check, self.box_button):
            row.addWidget(w)
        self.epoch_label.setMinimumWidth(self.epoch_label.fontMetrics().horizontalAdvance("000"))
        row.add_widgets(QLabel("  Epoch"), self.epoch_slider, self.epoch_label)
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        for check in self.modality_checks.values():
            check.toggled.connect(self._on_modalities_changed)
        self.colour_combo.currentIndexChanged.connect(self._on_colour_changed)
        self.pairs_check.toggled.connect(self._on_pairs_changed)
        self.box_button.toggled.connect(self._on_box_toggled)
        self.epoch_slider.valueChanged.connect(self._on_epoch_changed)

    def _build_plot(self) -> None:
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        self.plot = self.canvas.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.1)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen("k")
            axis.setTextPen("k")
            axis.enableAutoSIPrefix(False)
        self.pair_lines = pg.PlotDataItem(connect="pairs", pen=pg.mkPen(90, 90, 90, 70, width=1))
        self.pair_lines.setZValue(-1)
        self.plot.addItem(self.pair_lines)
        self.scatters = {m: pg.ScatterPlotItem(symbol=SYMBOLS[m], size=POINT_SIZE, pxMode=True,
                                               pen=pg.mkPen(255, 255, 255, 160, width=0.6))
                         for m in MODALITIES}
        for item in self.scatters.values():
            self.plot.addItem(item)
        self.neighbour_marks = pg.ScatterPlotItem(symbol="o", size=16, brush=None,
                                                  pen=pg.mkPen("#d62728", width=2))
        self.selected_mark = pg.ScatterPlotItem(symbol="o", size=20, brush=None,
                                                pen=pg.mkPen("k", width=2.5))
        for item in (self.neighbour_marks, self.selected_mark):
            item.setZValue(10)
            self.plot.addItem(item)
        self.box = pg.RectROI((0, 0), (1, 1), pen=pg.mkPen("#444", width=1.5, style=Qt.DashLine))
        self.box.setZValue(20)
        self.box.sigRegionChangeFinished.connect(self._on_box_changed)
        self._mouse_proxy = pg.SignalProxy(self.canvas.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_mouse_moved)
        self.canvas.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def _build_side(self) -> QWidget:
        side = QWidget()
        box = QVBoxLayout(side)
        box.setContentsMargins(4, 0, 0, 0)
        self.status = QLabel(WAITING)
        self.status.setWordWrap(True)
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.figures = QLabel("")
        self.figures.setToolTip(
            "Modality gap: distance between the centroids of the unit-length text and image "
            "vectors (Liang et al. 2022).\nAlignment: mean squared distance between a "
            "caption's and its image's unit vectors; 0 = every pair coincides (Wang & Isola "
            "2020).\nUniformity: log mean exp(-2 d²) over all pairs of unit vectors; lower = "
            "spread more evenly over the sphere.")
        self.samples = SamplePanel(lambda: getattr(self.session, "table", None))
        self.samples.entry_clicked.connect(self._on_entry_clicked)
        for w in (self.status, self.legend, self.figures):
            box.addWidget(w)
        box.addWidget(self.samples, 1)
        side.setMinimumWidth(260)
        return side

    # -- feeding ---------------------------------------------------------------------------
    def connect_controller(self, controller) -> None:
        controller.started.connect(self.reset)
        controller.embeddings_updated.connect(self.add_snapshot)

    def reset(self, *_args) -> None:
        """Forget every snapshot (a new run starts), and what was selected in them."""
        self.projections.forget_all()
        self._snapshots.clear()
        self._epoch = None
        self._clear_selection()
        self._set_points({})
        with QSignalBlocker(self.epoch_slider):
            self.epoch_slider.setRange(0, 0)
        self.epoch_slider.setEnabled(False)
        self.epoch_label.setText("")
        self.status.setText(WAITING)
        self.figures.setText("")

    def add_snapshot(self, snap: EmbeddingSnapshot) -> None:
        """Keep ``snap``; show it if the slider was on the newest epoch (or nothing)."""
        follow = self._epoch is None or self._epoch == max(self._snapshots, default=None)
        self._snapshots[snap.epoch] = snap
        self.projections.forget_epoch(snap.epoch)
        epochs = self.epochs
        with QSignalBlocker(self.epoch_slider):
            self.epoch_slider.setRange(0, len(epochs) - 1)
            self.epoch_slider.setEnabled(len(epochs) > 1)
            target = snap.epoch if follow else self._epoch
            self.epoch_slider.setValue(epochs.index(target))
        self._show_epoch(target, force=follow)

    def load_snapshots(self, run_dir: str | Path) -> int:
        """Replace what is shown with a finished run's snapshots; returns how many."""
        snaps = [load_snapshot(p) for p in snapshot_files(run_dir)]
        if not snaps:
            raise WorkbenchError(f"{run_dir}: no embedding snapshots "
                                 "(snapshots/embeddings-e*.npz) in this run folder")
        self.reset()
        for snap in snaps:
            self.add_snapshot(snap)
        return len(snaps)

    @property
    def epochs(self) -> list[int]:
        return sorted(self._snapshots)

    @property
    def snapshot(self) -> EmbeddingSnapshot | None:
        return self._snapshots.get(self._epoch) if self._epoch is not None else None

    # -- projecting ------------------------------------------------------------------------
    def _key(self) -> tuple | None:
        snap = self.snapshot
        if snap is None:
            return None
        mods = tuple(m for m in MODALITIES if self.modality_checks[m].isChecked()
                     and getattr(snap, m) is not None)
        return (snap.epoch, self.method_combo.currentData(), mods)

    def _show_epoch(self, epoch: int, force: bool = False) -> None:
        changed = epoch != self._epoch
        self._epoch = epoch
        snap = self._snapshots[epoch]
        self.epoch_label.setText(f"{epoch}" + (f" (step {snap.step})" if snap.step else ""))
        for m, check in self.modality_checks.items():
            check.setEnabled(getattr(snap, m) is not None)
        if changed or force:
            self.refresh()

    def refresh(self) -> None:
        """Draw the current choice: from the cache, or by starting a projection (only while
        visible; otherwise once the tab is shown)."""
        key = self._key()
        if key is None:
            return
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        projections = self.projections
        if projections.ready(key):
            projections.pending = None  # a computation still running is not drawn
            self._apply(key)
            return
        if key == projections.pending:
            return  # already on its way
        if not key[2]:
            projections.cancel()
            self._set_points({})
            return
        snap = self.snapshot
        projections.request(key, snap)
        n = sum(len(getattr(snap, m)) for m in key[2])
        slow = "" if key[1] == "pca" else " (this can take a while)"
        self.status.setText(f"Projecting {n:,} points by {METHODS[key[1]]}…{slow}")

    def _on_projected(self, key: tuple) -> None:
        if key == self._key():  # otherwise stale: kept for later, not drawn
            self.projections.pending = None
            self.last_thread = self.projections.last_thread
            self._apply(key)

    def _on_projection_failed(self, key: tuple, why: str) -> None:
        self.status.setText(f"Projection failed: {why}")
        self.projection_failed.emit(why)

    def _apply(self, key: tuple) -> None:
        snap = self.snapshot
        points = self.projections.points(key)
        self._set_points(points)
        self.status.setText(f"{METHODS[key[1]]} of {len(snap.index):,} samples, epoch "
                            f"{snap.epoch}: " + ", ".join(f"{m} {SYMBOL_CHARS[m]}"
                                                          for m in points))
        name = METHODS[key[1]] if key[1] != "pca" else "PC"
        self.plot.setLabel("bottom", f"{name} 1")
        self.plot.setLabel("left", f"{name} 2")
        self._show_figures(self.projections.stats(key[0]))
        self.projected.emit(dict(points))

    def shutdown(self, ms: int = 30_000) -> bool:
        """Stop projections and wait for their threads (closing); True when all ended."""
        self.projections.cancel()
        return self.projections.wait_all(ms)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def closeEvent(self, event) -> None:
        self.projections.cancel()
        super().closeEvent(event)

    # -- drawing ---------------------------------------------------------------------------
    def _set_points(self, points: dict[str, np.ndarray]) -> None:
        self._points = {m: np.asarray(p, np.float32) for m, p in points.items()}
        by_label = self.colour_combo.currentData() == "label"
        snap = self.snapshot
        labels = snap.labels if snap is not None and by_label else None
        names = snap.label_names if labels is not None else []
        brushes = [pg.mkBrush(label_colour(i, len(names))) for i in range(len(names))]
        for m, item in self.scatters.items():
            pts = self._points.get(m)
            if pts is None:
                item.setData([], [])
                continue
            brush = [brushes[int(c)] for c in labels] if labels is not None else \
                pg.mkBrush(MODALITY_COLOURS[m])
            item.setData(pos=pts, brush=brush, data=np.arange(len(pts)))
        self._draw_pairs()
        self._draw_marks()
        self._show_legend(names if labels is not None else [])
        if self.box_button.isChecked():
            self._on_box_changed()

    def _draw_pairs(self) -> None:
        t, i = self._points.get("text"), self._points.get("image")
        if not self.pairs_check.isChecked() or t is None or i is None:
            self.pair_lines.setData([], [])
            return
        xy = np.empty((2 * len(t), 2), np.float32)
        xy[0::2], xy[1::2] = t, i
        self.pair_lines.setData(xy[:, 0], xy[:, 1], connect="pairs")

    @property
    def pair_count(self) -> int:
        x, _ = self.pair_lines.getData()
        return 0 if x is None else len(x) // 2

    def _draw_marks(self) -> None:
        def at(items):
            return [self._points[m][j] for m, j in items if m in self._points]
        sel = at([self._selected] if self._selected else [])
        self.selected_mark.setData(pos=np.array(sel).reshape(-1, 2))
        self.neighbour_marks.setData(
            pos=np.array(at([(m, j) for m, j, _ in self._neighbours])).reshape(-1, 2))

    def _show_legend(self, names: list[str]) -> None:
        self._legend_names = names
        shown = [m for m in MODALITIES if m in self._points]
        marks = " &nbsp; ".join(
            f"<span style='color:{MODALITY_COLOURS[m] if not names else '#555'}'>"
            f"{SYMBOL_CHARS[m]}</span>&nbsp;{m}" for m in shown)
        swatches = " &nbsp; ".join(
            f"<span style='color:{label_colour(i, len(names)).name()}'>■</span>&nbsp;{n}"
            for i, n in enumerate(names))
        self.legend.setText(marks + (f"<br>{swatches}" if swatches else ""))

    def legend_entries(self) -> list[tuple[str, str, str]]:
        """What the legend beside the plot says, as (symbol, colour, text) rows: the shown
        modalities' marks, then (coloured by label) each label's colour."""
        names = self._legend_names
        rows = [(SYMBOLS[m], MODALITY_COLOURS[m] if not names else "#555555", m)
                for m in MODALITIES if m in self._points]
        rows += [("s", label_colour(i, len(names)).name(), n)
                 for i, n in enumerate(names[:LEGEND_LABELS_MAX])]
        if len(names) > LEGEND_LABELS_MAX:
            rows.append(("s", "#00000000", f"… {len(names) - LEGEND_LABELS_MAX} more labels"))
        return rows

    def export_legend(self):
        """While saving the plot as a picture, the plot carries the legend (a context
        manager): the legend beside it is a widget, which a picture of the plot leaves out."""
        return legend_added(self.plot, self.legend_entries())

    def _show_figures(self, stats: dict[str, float]) -> None:
        rows = [("modality gap", stats.get("gap")), ("alignment", stats.get("alignment"))]
        rows += [(f"uniformity, {m}", stats.get(f"uniformity_{m}")) for m in MODALITIES]
        self.figures.setText("<table>" + "".join(
            f"<tr><td>{k}</td><td align='right'>&nbsp;&nbsp;<b>{v:.3f}</b></td></tr>"
            for k, v in rows if v is not None and np.isfinite(v)) + "</table>")

    def points(self) -> dict[str, np.ndarray]:
        """The 2-D coordinates drawn, per modality (rows follow the snapshot's rows)."""
        return {m: p.copy() for m, p in self._points.items()}

    def stats(self) -> dict[str, float]:
        """The shown epoch's figures: gap, alignment, uniformity_<modality>."""
        return self.projections.stats(self._epoch) if self._epoch is not None else {}

    # -- pointing and selecting ------------------------------------------------------------
    def scene_pos_of(self, modality: str, j: int) -> QPointF:
        """Where point ``j`` of ``modality`` is drawn, in scene coordinates."""
        x, y = self._points[modality][j]
        return self.plot.vb.mapViewToScene(QPointF(float(x), float(y)))

    def point_at(self, scene_pos) -> tuple[str, int] | None:
        """The drawn point nearest ``scene_pos`` within a few pixels: (modality, position)."""
        vb = self.plot.vb
        if not self._points or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        px, py = vb.viewPixelSize()
        best = None
        for m, pts in self._points.items():
            if len(pts):
                d2 = ((pts[:, 0] - p.x()) / px) ** 2 + ((pts[:, 1] - p.y()) / py) ** 2
                j = int(d2.argmin())
                if d2[j] <= HOVER_RADIUS_PX ** 2 and (best is None or d2[j] < best[0]):
                    best = (d2[j], m, j)
        return None if best is None else (best[1], best[2])

    def hover_at(self, scene_pos) -> tuple[str, int] | None:
        """Show the sample under ``scene_pos`` in the card (else the selected one)."""
        hit = self.point_at(scene_pos)
        shown = hit or self._selected
        if shown is not None:
            self._show_card(*shown)
        else:
            self.samples.show_card(None)
        self.hovered.emit(hit)
        return hit

    def select_index(self, j: int, modality: str = "text") -> None:
        """Select point ``j`` (a position in the snapshot) of ``modality`` and list its
        nearest neighbours in the other modality, by cosine in the model's space."""
        snap = self.snapshot
        other = {"text": "image", "image": "text"}.get(modality)
        if other is None or getattr(snap, other) is None:
            other = modality
        gallery = getattr(snap, other)
        rows = np.arange(len(gallery))
        if other == modality:
            rows = rows[rows != j]
        elif other == "image":
            rows = self._distinct_images(snap, rows)
        idx, scores = nearest_neighbours(getattr(snap, modality)[j], gallery[rows], NEIGHBOURS)
        self._selected = (modality, j)
        self._neighbours = [(other, int(rows[i]), float(s)) for i, s in zip(idx, scores)]
        self._draw_marks()
        self._show_card(modality, j)
        caption = self.samples.caption(int(snap.index[j]))
        self.samples.show_list(
            f"Nearest {NOUNS[other]}s to the {NOUNS[modality]} of “{caption}” (cosine):",
            [((other, r), int(snap.index[r]), f"{s:.3f} · {self._label(r)}")
             for other, r, s in self._neighbours])
        self.selection_changed.emit()

    def select_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Put the box over view coordinates x0..x1, y0..y1 and list what is inside."""
        if not self.box_button.isChecked():
            self.box_button.setChecked(True)
        self.box.setPos((min(x0, x1), min(y0, y1)), finish=False)
        self.box.setSize((abs(x1 - x0), abs(y1 - y0)), finish=False)
        self._on_box_changed()

    def neighbours(self) -> list[tuple[str, int, float]]:
        """The selected point's neighbours: (modality, position, cosine), best first."""
        return list(self._neighbours)

    def selected(self) -> list[tuple[str, int]]:
        """The points inside the box: (modality, position)."""
        return list(self._boxed)

    def _clear_selection(self) -> None:
        """Forget the clicked point, its neighbours and the box's list: they belong to the
        vectors of the run shown before."""
        self._selected = None
        self._neighbours = []
        self._boxed = []
        self._draw_marks()
        self.samples.show_card(None)
        self.samples.show_list("", [])
        self.selection_changed.emit()

    def _distinct_images(self, snap: EmbeddingSnapshot, rows: np.ndarray) -> np.ndarray:
        """``rows`` with one pair per distinct image (COCO: several captions per image)."""
        table = getattr(self.session, "table", None)
        if table is None or len(table) <= int(snap.index.max(initial=0)):
            return rows
        _, first = np.unique(table.image_index[snap.index[rows]], return_index=True)
        return rows[np.sort(first)]

    def _label(self, j: int) -> str:
        snap = self.snapshot
        if snap.labels is None or not snap.label_names:
            return ""
        return snap.label_names[int(snap.labels[j])]

    def _show_card(self, modality: str, j: int) -> None:
        snap = self.snapshot
        self.samples.show_card(int(snap.index[j]), f"{NOUNS[modality]}, epoch {snap.epoch}",
                               self._label(j))

    # -- handlers --------------------------------------------------------------------------
    def _on_method_changed(self, _index: int) -> None:
        self.refresh()

    def _on_modalities_changed(self, _checked: bool) -> None:
        self.refresh()

    def _on_colour_changed(self, _index: int) -> None:
        self._set_points(self._points)

    def _on_pairs_changed(self, _checked: bool) -> None:
        self._draw_pairs()

    def _on_epoch_changed(self, value: int) -> None:
        epochs = self.epochs
        if 0 <= value < len(epochs):
            self._show_epoch(epochs[value])

    def _on_table_changed(self, _table) -> None:
        self.samples.forget_images()

    def _on_mouse_moved(self, args) -> None:
        self.hover_at(args[0])

    def _on_mouse_clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.point_at(event.scenePos())
            if hit is not None:
                self.select_index(hit[1], hit[0])

    def _on_entry_clicked(self, key: tuple[str, int]) -> None:
        self._show_card(*key)

    def _on_box_toggled(self, on: bool) -> None:
        if on:
            (x0, x1), (y0, y1) = self.plot.vb.viewRange()
            self.box.setPos((x0 + (x1 - x0) / 4, y0 + (y1 - y0) / 4), finish=False)
            self.box.setSize(((x1 - x0) / 2, (y1 - y0) / 2), finish=False)
            self.plot.addItem(self.box)
            self._on_box_changed()
        else:
            self.plot.removeItem(self.box)
            self._boxed = []

    def _on_box_changed(self, *_args) -> None:
        (x0, y0), (w, h) = tuple(self.box.pos()), tuple(self.box.size())
        self._boxed = [(m, int(j)) for m, pts in self._points.items()
                       for j in np.flatnonzero((pts[:, 0] >= x0) & (pts[:, 0] <= x0 + w)
                                               & (pts[:, 1] >= y0) & (pts[:, 1] <= y0 + h))]
        snap = self.snapshot
        if snap is None:
            return
        samples = len({j for _, j in self._boxed})
        more = f"; the first {LISTED_MAX} listed" if len(self._boxed) > LISTED_MAX else ""
        self.samples.show_list(
            f"{len(self._boxed)} points in the box, {samples} samples{more}:",
            [((m, j), int(snap.index[j]), f"{NOUNS[m]} · {self._label(j)}")
             for m, j in self._boxed[:LISTED_MAX]])
        self.selection_changed.emit()
