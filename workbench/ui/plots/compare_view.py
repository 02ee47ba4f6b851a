"""The "Compare fusions" tab: one row per fusion, filled in as each run of the sequence ends,
the winner highlighted, and every run's validation headline metric per epoch on one plot.

Fed by a :class:`~workbench.ui.worker.TrainingController` running ``start_many``: it listens
only between a sequence's first ``run_started`` and its final finished/stopped/failed, so
ordinary single runs on the same controller leave it alone. The table's numbers come from
:func:`workbench.core.evaluation.compare.summarize`, the same as ``workbench compare`` prints.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ...core.evaluation import compare
from ...core.fusion import FUSIONS
from ...core.training.events import EpochEnded, FitEnded
from .loss_plot import PALETTE, configure_curve, style_plot

COLUMNS = ("fusion", "status", "metric", "macro-F1", "median rank", "best epoch", "time")
WINNER_BRUSH = QBrush(QColor("#d8f0d2"))  # a light green: the winner's row
INTRO = "Train the current setup once per valid fusion to see which wins on this data."
STATUS_COLOURS = {"failed": "#c62828", "stopped": "#8a6d00", "running": "#1f77b4",
                  "waiting": "#808080", "not run": "#808080"}


def fusion_colour(name: str) -> str:
    """A fusion's colour, the same in every comparison (its place in the registry)."""
    names = list(FUSIONS)
    return PALETTE[names.index(name) % len(PALETTE)] if name in names else PALETTE[-1]


class CompareView(QWidget):
    """Results of a Compare-fusions sequence: the table and the overlaid validation curves."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("<b>Compare fusions</b>")
        self.status = QLabel(INTRO)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.save_button = QPushButton("Save plot…")
        self.save_button.setToolTip("Save the curves as a PNG or SVG picture")
        self.save_button.clicked.connect(self._on_save_clicked)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addSpacing(12)
        head.addWidget(self.status, 1)
        head.addWidget(self.save_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().lineSpacing() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot = self.graphics.addPlot(row=0, col=0)
        style_plot(self.plot, "accuracy", bottom="epoch")
        self.plot.getAxis("left").setWidth(48)
        self.legend_cell = pg.GraphicsWidget()
        self.graphics.addItem(self.legend_cell, row=0, col=1)
        self.legend = pg.LegendItem(size=(1, 1), verSpacing=-6, labelTextColor="k",
                                    labelTextSize="9pt")
        self.legend.setParentItem(self.legend_cell)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.graphics)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(head)
        layout.addWidget(split, 1)

        self.configs: list = []
        self.total = 0
        self.current: int | None = None
        self.active = False  # between a sequence's first run_started and its end
        self.ended: dict[int, FitEnded] = {}
        self.history: dict[int, list[EpochEnded]] = {}
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.metric_name = compare.HEADLINES[0]
        self._final: FitEnded | None = None
        self._progress = ""  # what is running, while a sequence runs

    # -- feeding ---------------------------------------------------------------------
    def connect_controller(self, controller) -> None:
        """Follow ``controller``'s ``start_many`` sequences (a ``TrainingController``)."""
        controller.run_started.connect(self.start_run)
        controller.epochs_ended.connect(self.add_epochs)
        controller.run_ended.connect(self.end_run)
        for signal in (controller.finished, controller.stopped, controller.failed):
            signal.connect(self.end_sequence)

    def reset(self, configs=()) -> None:
        """Forget the last comparison; ``configs`` (the sequence about to run) fill the
        table with waiting rows."""
        self.configs = list(configs)
        self.total = len(self.configs)
        self.current = None
        self.active = False
        self.ended.clear()
        self.history.clear()
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves.clear()
        self.legend.clear()
        self.legend_cell.setMinimumSize(0, 0)
        self.metric_name = compare.HEADLINES[0]
        self._final = None
        self._progress = f"{self.total} runs to go" if self.total else ""
        self.status.setText(self._progress or INTRO)
        self._refresh()

    def start_run(self, index: int, total: int, cfg) -> None:
        """Run ``index`` of ``total`` starts (``TrainingController.run_started``)."""
        if index == 0 and (self.active or self._final is not None or self.total != total):
            self.reset([cfg] + [None] * (total - 1))  # a sequence the view was not told of
        self.active = True
        self.total = total
        while len(self.configs) < total:
            self.configs.append(None)
        self.configs[index] = cfg
        self.current = index
        self.history[index] = []
        name = cfg.fusion.name
        colour = fusion_colour(name)
        curve = configure_curve(pg.PlotDataItem(
            pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
            symbolPen=pg.mkPen(colour), symbolBrush=pg.mkBrush(colour), name=name))
        self.plot.addItem(curve)
        self.curves[index] = curve
        self._add_to_legend(curve)
        self._progress = f"Training <b>{name}</b> ({index + 1} of {total})…"
        self._refresh()

    def add_epochs(self, epochs: list[EpochEnded]) -> None:
        """Validation values of the running run (``TrainingController.epochs_ended``)."""
        if not self.active or self.current is None:
            return  # an ordinary run, not part of a comparison
        self.history[self.current].extend(epochs)
        self._refresh()

    def end_run(self, end: FitEnded) -> None:
        """The running run ended (``TrainingController.run_ended``)."""
        if not self.active or self.current is None:
            return
        self.ended[self.current] = end
        self.current = None
        self._refresh()

    def end_sequence(self, end: FitEnded) -> None:
        """The whole sequence ended (finished, stopped or failed)."""
        if not self.active:
            return
        self.active = False
        self._final = end
        self._refresh()

    # -- reading ---------------------------------------------------------------------
    def rows(self) -> list[dict]:
        """The table's rows (:func:`workbench.core.evaluation.compare.summarize` for runs that ended;
        ``running``, ``waiting`` or ``not run`` for the others)."""
        self.metric_name = compare.headline_metric(
            [e.metrics for e in self.ended.values()]
            + [e.val for h in self.history.values() for e in h])
        out = []
        for i in range(self.total):
            cfg = self.configs[i] if i < len(self.configs) else None
            if i in self.ended and cfg is not None:
                out.append(compare.summarize([self.ended[i]], [cfg], [self.history.get(i, [])],
                                             metric=self.metric_name)[0])
                continue
            hist = self.history.get(i, [])
            vals = [e for e in hist if e.val]
            status = "running" if i == self.current else (
                "not run" if self._final is not None else "waiting")
            live = compare.summarize(
                [FitEnded(status, "", hist[-1].epoch if hist else 0, 0,
                          vals[-1].val if vals else {}, hist[-1].seconds if hist else 0.0)],
                [cfg], [hist], metric=self.metric_name)[0] if cfg is not None else {
                    "fusion": "?", "status": status, "metric": self.metric_name, "value": None,
                    "macro_f1": None, "median_rank": None, "best_epoch": None,
                    "best_value": None, "epochs": 0, "seconds": 0.0, "run_dir": None,
                    "reason": ""}
            if status == "running" and cfg is not None:
                live["status"] = f"running · epoch {live['epochs']}/{cfg.training.epochs}"
            out.append(live)
        return out

    def winner(self) -> dict | None:
        return compare.winner([r for r in self.rows() if r["status"] == "finished"])

    # -- drawing ---------------------------------------------------------------------
    def _refresh(self) -> None:
        rows = self.rows()
        best = compare.winner(rows)
        title = compare.METRIC_TITLES.get(self.metric_name, self.metric_name)
        self.table.horizontalHeaderItem(2).setText(title)
        self.plot.setLabel("left", f"validation {title}")
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            self._fill_row(r, row, row is best)
        for i, curve in self.curves.items():
            epochs = [e for e in self.history.get(i, []) if self.metric_name in e.val]
            curve.setData(np.array([e.epoch for e in epochs], dtype=np.float64),
                          np.array([e.val[self.metric_name] for e in epochs], dtype=np.float64))
            won = best is not None and rows[i] is best
            curve.setPen(pg.mkPen(fusion_colour(rows[i]["fusion"]), width=3.5 if won else 2))
            curve.setZValue(1 if won else 0)
        self._show_status(rows, best)

    def _fill_row(self, r: int, row: dict, won: bool) -> None:
        cells = [("★ " if won else "") + row["fusion"], row["status"], _fmt(row["value"]),
                 _fmt(row["macro_f1"]), _fmt(row["median_rank"], "{:g}"),
                 "" if row["best_epoch"] is None else str(row["best_epoch"]),
                 f"{row['seconds']:.1f} s" if row["seconds"] else ""]
        font = QFont(self.table.font())
        font.setBold(won)
        for c, text in enumerate(cells):
            item = self.table.item(r, c)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(r, c, item)
            item.setText(text)
            item.setFont(font)
            item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter | (
                Qt.AlignmentFlag.AlignLeft if c < 2 else Qt.AlignmentFlag.AlignRight))
            item.setBackground(WINNER_BRUSH if won else QBrush())
            item.setToolTip(row["reason"] if row["status"] in ("failed", "stopped") else "")
        colour = STATUS_COLOURS.get(row["status"].split(" ")[0])
        self.table.item(r, 0).setForeground(QBrush(QColor(fusion_colour(row["fusion"]))))
        self.table.item(r, 1).setForeground(QBrush(QColor(colour)) if colour else QBrush())

    def _show_status(self, rows: list[dict], best: dict | None) -> None:
        if self._final is None:
            if self._progress:
                lead = f" &nbsp; leading so far: <b>{best['fusion']}</b>" if best else ""
                self.status.setText(self._progress + lead)
            return
        title = compare.METRIC_TITLES.get(self.metric_name, self.metric_name)
        if self._final.status == "failed":
            text = f"<span style='color:#c62828'>Failed:</span> " \
                   f"{self._final.reason.splitlines()[0]}"
        elif best is None:
            text = "No fusion finished."
        else:
            text = f"Winner: <b>{best['fusion']}</b> ({title} {_fmt(best['value'])})"
        if self._final.status == "stopped":
            text = "Stopped. " + text
        self.status.setText(text)

    def _add_to_legend(self, curve: pg.PlotDataItem) -> None:
        # Sized from the rows' preferred heights, as the loss plot's legend (see CurvePanel).
        self.legend.addItem(curve, curve.name())
        size = self.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        self.legend.setGeometry(0, 0, size.width(), size.height())
        self.legend_cell.setMinimumSize(size.width() + 4, size.height())

    def _on_save_clicked(self) -> None:
        from ..plot_export import ask_and_export
        ask_and_export(self, self.plot, "compare-fusions.png")


def _fmt(value: float | None, fmt: str = "{:.3f}") -> str:
    return "" if value is None else fmt.format(value)


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication

    from ...core import config as C
    from .. import worker

    # A real comparison: python -m workbench.ui.plots.compare_view [preset] [key=value ...]
    app = QApplication([])
    args = sys.argv[1:]
    preset = args.pop(0) if args and "=" not in args[0] else \
        "presets/classifier-attention-emoji.toml"
    cfg = C.apply_overrides(C.load(preset), args or ["training.epochs=5"])
    configs = compare.fusion_variants(cfg)
    view = CompareView()
    controller = worker.TrainingController()
    view.connect_controller(controller)
    view.reset(configs)
    view.resize(900, 700)
    view.show()
    controller.start_many(configs, None)
    app.aboutToQuit.connect(controller.shutdown)
    app.exec()
    # Free the Qt objects before Python tears down: PySide6 can crash at exit otherwise.
    view.deleteLater()
    app.processEvents()
