"""The Runs tab: every training run (GUI or CLI), their curves overlaid, and what to do next.

A table of the run folders (:mod:`workbench.core.runs.store` reads them); selecting several
overlays their validation loss and one chosen metric per epoch, one colour per run. Open,
Continue training, Delete and Export act on the selection; every question to the user goes
through one small method (``_ask_epochs``, ``_confirm``, ``_ask_dir``, ``_show_error``) so
tests can answer it.

Listing is synchronous: it reads one small run.json per run (200 runs take about 30 ms), and
the curves of the selected runs only.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import (QAbstractTableModel, QItemSelection, QModelIndex,
                            QSortFilterProxyModel, Qt, Signal)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout,
                               QHeaderView, QInputDialog, QLabel, QMessageBox, QPushButton,
                               QSplitter, QTableView, QVBoxLayout, QWidget)

from ...core.errors import WorkbenchError
from ...core.evaluation.names import short_title, title
from ...core.paths import runs_dir
from ...core.runs.store import (RunInfo, delete_run, export_run, format_duration, list_runs,
                               read_metrics)
from ..compact import ElidedLabel, elide_headers, scrolled
from ..plots.loss_plot import PALETTE, style_plot
from .param_form import HINT_STYLE

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
# Status colours: a run that did not end well stands out.
STATUS_COLOURS = {"failed": "#c62828", "damaged": "#c62828", "interrupted": "#e65100",
                  "incomplete": "#e65100", "stopped": "#8d6e63", "running": "#1565c0",
                  "continuing": "#1565c0"}
# The metric overlaid first, when the selected runs have it: the primary metrics first.
PREFERRED_METRICS = ("macro_f1", "mean_recall", "accuracy", "t2i_r10", "i2t_r10", "t2i_r1",
                     "recon_error_image", "d_real")


COLUMN_TIPS = {"Preset": "the preset it was trained from ((changed): with edited settings)",
               "Epochs": "trained, of those planned",
               "Metric": "its algorithm's primary metric (which ranks its runs)",
               "Validation": "the primary metric on the validation split",
               "Test": "the primary metric on the test split, scored once at the end"}
MIN_ROWS = 5  # the table never shows fewer runs than this
MIN_PLOT_HEIGHT = 180  # two plots with their titles and the legend row, readable
DETAIL_LINES = 5  # of the selected run's details shown before they scroll

# A run written before runs had a primary metric shows the first of these it has.
OLD_HEADLINES = ("accuracy", "t2i_r10")


def headline(run: RunInfo) -> str | None:
    """The metric the Runs table shows for ``run``: its primary metric (which ranks runs of
    its algorithm), else, for older runs, accuracy or R@10 text→image."""
    if run.primary and run.primary in run.metrics:
        return run.primary
    return next((k for k in OLD_HEADLINES if k in run.metrics), None)


class RunTableModel(QAbstractTableModel):
    """One row per :class:`RunInfo`: its primary metric on validation and on test."""

    COLUMNS = ("Date", "Preset", "Algorithm", "Fusion", "Data", "Epochs", "Duration",
               "Metric", "Validation", "Test", "Status")
    NUMERIC = frozenset({"Epochs", "Validation", "Test", "Duration"})

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list[RunInfo] = []
        self.colours: dict[Path, str] = {}  # the curve colour of each overlaid run

    def set_colours(self, colours: dict[Path, str]) -> None:
        """Mark overlaid runs with their curve's colour (a swatch in the first column)."""
        self.colours = dict(colours)
        if self.runs:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.runs) - 1, 0),
                                  [Qt.ItemDataRole.DecorationRole])

    def set_runs(self, runs: list[RunInfo]) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            column = self.COLUMNS[section]
            return f"{column}: {COLUMN_TIPS[column]}" if column in COLUMN_TIPS else column
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        run, column = self.runs[index.row()], self.COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(run, column)
        if role == SORT_ROLE:
            return self._sort_key(run, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, column)
        if role == Qt.ItemDataRole.DecorationRole and column == "Date":
            colour = self.colours.get(run.path)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.ForegroundRole and column == "Status":
            colour = STATUS_COLOURS.get(run.status)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self.NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(run: RunInfo, column: str) -> str:
        if column == "Date":
            return run.created.strftime("%Y-%m-%d %H:%M") if run.created else ""
        if column == "Data":
            return Path(run.data).name if "/" in run.data or "\\" in run.data else run.data
        if column == "Epochs":
            done, planned = run.epochs_done, run.epochs
            if done is None:
                return "" if planned is None else f"?/{planned}"
            return str(done) if planned in (None, done) else f"{done}/{planned}"
        if column == "Metric":
            return short_title(headline(run)) if headline(run) else ""
        if column in ("Validation", "Test"):
            value = RunTableModel._value(run, column)
            if value is None and column == "Test" and run.test_size == 0:
                return "no test split"
            return "" if value is None else f"{value:.3f}"
        if column == "Duration":
            return format_duration(run.seconds) if run.seconds is not None else ""
        return {"Preset": run.preset, "Algorithm": run.algorithm, "Fusion": run.fusion,
                "Status": run.status}[column]

    @staticmethod
    def _value(run: RunInfo, column: str) -> float | None:
        name = headline(run)
        values = run.metrics if column == "Validation" else run.test_metrics
        return values.get(name) if name else None

    @staticmethod
    def _sort_key(run: RunInfo, column: str):
        if column == "Date":
            return run.created.timestamp() if run.created else 0.0
        if column in ("Validation", "Test"):
            value = RunTableModel._value(run, column)
            return -1.0 if value is None else value
        if column == "Epochs":
            return run.epochs_done or 0
        if column == "Duration":
            return run.seconds or 0.0
        return RunTableModel._text(run, column).lower()

    @staticmethod
    def _tooltip(run: RunInfo, column: str) -> str:
        if column == "Status":
            return f"{run.status}: {run.reason}" if run.reason else run.status
        if column == "Data":
            return run.data
        if column in ("Metric", "Validation", "Test"):
            return _score_tip(run, column)
        return f"{run.id}\n{run.path}"


class RunsView(QWidget):
    """The Runs tab. ``base``: the folder of runs (the user runs folder by default)."""

    run_opened = Signal(object)  # RunInfo: show its embeddings and attention
    continue_requested = Signal(object, int)  # RunInfo, extra epochs

    def __init__(self, base: str | Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.base = Path(base) if base is not None else None
        self.model = RunTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().setVisible(False)
        # Rows a line of text tall (the style's are taller): more runs in view.
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().lineSpacing() + 8)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        elide_headers(self.table)  # the model gives each header its tooltip

        self.buttons: dict[str, QPushButton] = {}
        actions = {"Refresh": (self.refresh, "Read the runs folder again"),
                   "Open": (self.open_selected, "Show the run's embeddings and attention"),
                   "Continue training…": (self.continue_selected,
                                          "Train the run further from its last checkpoint"),
                   "Delete": (self.delete_selected, "Delete the selected run folders"),
                   "Export…": (self.export_selected, "Copy the selected run folders into a "
                                                     "folder (to share or archive them)")}
        row = QHBoxLayout()
        for name, (action, tip) in actions.items():
            button = QPushButton(name)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, act=action: act())
            row.addWidget(button)
            self.buttons[name] = button
        row.addStretch(1)
        self.status = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)  # ends in the folder
        self.status.setStyleSheet(HINT_STYLE)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.metric_combo = QComboBox()
        self.metric_combo.setToolTip("The validation metric overlaid on the right")
        self.metric_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.loss_plot = self.graphics.addPlot(row=0, col=0, title="validation loss")
        self.metric_plot = self.graphics.addPlot(row=0, col=1, title="metric")
        for plot in (self.loss_plot, self.metric_plot):
            style_plot(plot, "", bottom="epoch")
            plot.setTitle(plot.titleLabel.text, color="k")
        # Below both plots, where it hides no curve; two columns of run ids.
        self.legend = pg.LegendItem(labelTextColor="k", colCount=2, frame=False)
        self.graphics.addItem(self.legend, row=1, col=0, colspan=2)
        self.loss_curves: dict[str, pg.PlotDataItem] = {}
        self.metric_curves: dict[str, pg.PlotDataItem] = {}
        self._metrics_cache: dict[Path, tuple[int, list[dict]]] = {}
        self._chosen_metric = ""  # the user's choice of metric, not the default

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(row)
        top_layout.addWidget(self.table, 1)
        # The selected run's details (a retrieval run's dozen metrics wrap onto several
        # lines) go with its curves, below the handle: all the top is the table's.
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        chooser = QHBoxLayout()
        hint = ElidedLabel("Select runs to overlay their curves (Ctrl/Shift-click for "
                           "several).")
        hint.setStyleSheet(HINT_STYLE)
        chooser.addWidget(hint, 1)
        chooser.addWidget(QLabel("Metric"))
        chooser.addWidget(self.metric_combo)
        # Scrolled past a few lines: a long description or a dozen metrics do not take the
        # curves' height (or make the window taller).
        details = scrolled(self.details, horizontal=False)
        line = self.details.fontMetrics().lineSpacing()
        details.setMinimumHeight(2 * line + 4)
        details.setMaximumHeight(DETAIL_LINES * line + 4)
        bottom_layout.addWidget(details)
        bottom_layout.addLayout(chooser)
        bottom_layout.addWidget(self.graphics, 1)
        self.graphics.setMinimumHeight(MIN_PLOT_HEIGHT)
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height()
                                    + MIN_ROWS * self.table.verticalHeader().defaultSectionSize()
                                    + 2 * self.table.frameWidth())
        self.splitter = split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([550, 450])  # shares: the runs a little over half the height
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)

        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.metric_combo.currentTextChanged.connect(self._on_metric_changed)
        self.refresh()

    # -- the list -----------------------------------------------------------------------
    def folder(self) -> Path:
        return self.base if self.base is not None else runs_dir()

    def refresh(self) -> None:
        """Read the runs folder again, keeping the selection of runs that still exist."""
        keep = {r.path for r in self.selected_runs()}
        runs = list_runs(self.folder())
        self.model.set_runs(runs)
        self.select([r for r in runs if r.path in keep])
        damaged = sum(not r.readable for r in runs)
        self.status.setText(f"{len(runs)} run{'s' * (len(runs) != 1)} in {self.folder()}"
                            + (f"; {damaged} damaged or incomplete" if damaged else ""))
        self._on_selection_changed()

    def runs(self) -> list[RunInfo]:
        """The runs in table order."""
        return [self._run_at(r) for r in range(self.proxy.rowCount())]

    def selected_runs(self) -> list[RunInfo]:
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [self._run_at(r) for r in rows]

    def select(self, runs) -> None:
        """Select these runs (RunInfo, ids or paths), and only them."""
        wanted = {r.path if isinstance(r, RunInfo) else r for r in runs}
        selection = QItemSelection()
        for row, run in enumerate(self.runs()):
            if run.path in wanted or run.id in wanted or str(run.path) in wanted:
                selection.select(self.proxy.index(row, 0), self.proxy.index(row, 0))
        sel = self.table.selectionModel()  # one change, so one redraw
        sel.select(selection, sel.SelectionFlag.ClearAndSelect | sel.SelectionFlag.Rows)

    def _run_at(self, proxy_row: int) -> RunInfo:
        return self.model.runs[self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()]

    # -- actions ------------------------------------------------------------------------
    def open_selected(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0].readable:
            self.run_opened.emit(runs[0])

    def continue_selected(self) -> None:
        runs = self.selected_runs()
        if len(runs) != 1 or runs[0].checkpoint is None:
            return
        epochs = self._ask_epochs(runs[0])
        if epochs:
            self.continue_requested.emit(runs[0], int(epochs))

    def delete_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        what = runs[0].id if len(runs) == 1 else f"these {len(runs)} runs"
        if not self._confirm(f"Delete {what}? Their folders (checkpoints, curves, embeddings) "
                             "are removed; this cannot be undone."):
            return
        errors = []
        for run in runs:
            try:
                delete_run(run)
            except WorkbenchError as exc:
                errors.append(str(exc))
        self.refresh()
        self.status.setText(f"Deleted {len(runs) - len(errors)} of {len(runs)} runs.")
        if errors:
            self._show_error("Cannot delete", "\n\n".join(errors))

    def export_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        dest = self._ask_dir()
        if not dest:
            return
        done, errors = [], []
        for run in runs:
            try:
                done.append(export_run(run, dest))
            except WorkbenchError as exc:
                errors.append(str(exc))
        self.status.setText(f"Exported {len(done)} run{'s' * (len(done) != 1)} to {dest}.")
        if errors:
            self._show_error("Cannot export", "\n\n".join(errors))

    # -- the overlay --------------------------------------------------------------------
    def _on_selection_changed(self, *_args) -> None:
        runs = self.selected_runs()
        one = runs[0] if len(runs) == 1 else None
        self.buttons["Open"].setEnabled(one is not None and one.readable)
        self.buttons["Continue training…"].setEnabled(
            one is not None and one.checkpoint is not None and one.status != "running")
        for name in ("Delete", "Export…"):
            self.buttons[name].setEnabled(bool(runs))
        self.details.setText(_details(one) if one else
                             f"{len(runs)} runs selected" if runs else "")
        self._update_metric_choices(runs)
        self._draw(runs)

    def _on_metric_changed(self, name: str) -> None:
        self._chosen_metric = name  # kept while the selected runs have it
        self._draw(self.selected_runs())

    def _update_metric_choices(self, runs: list[RunInfo]) -> None:
        names = dict.fromkeys(k for r in runs for e in self._metrics(r)
                              for k in (e.get("val") or {}) if k != "loss")
        ordered = [k for k in PREFERRED_METRICS if k in names]
        ordered += sorted(k for k in names if k not in ordered)
        if ordered == [self.metric_combo.itemText(i) for i in range(self.metric_combo.count())]:
            return
        self.metric_combo.blockSignals(True)  # one redraw, by the caller
        self.metric_combo.clear()
        self.metric_combo.addItems(ordered)
        if self._chosen_metric in ordered:
            self.metric_combo.setCurrentText(self._chosen_metric)
        self.metric_combo.blockSignals(False)

    def _draw(self, runs: list[RunInfo]) -> None:
        for curves, plot in ((self.loss_curves, self.loss_plot),
                             (self.metric_curves, self.metric_plot)):
            for curve in curves.values():
                plot.removeItem(curve)
            curves.clear()
        self.legend.clear()
        metric = self.metric_combo.currentText()
        self.metric_plot.setTitle(metric or "metric", color="k")
        colours: dict[Path, str] = {}
        for i, run in enumerate(runs):
            epochs = self._metrics(run)
            colour = PALETTE[i % len(PALETTE)]
            for key, curves, plot in (("loss", self.loss_curves, self.loss_plot),
                                      (metric, self.metric_curves, self.metric_plot)):
                points = [(e["epoch"], e["val"][key]) for e in epochs
                          if isinstance(e.get("epoch"), int) and isinstance(e.get("val"), dict)
                          and isinstance(e["val"].get(key), (int, float))]
                if not key or not points:
                    continue
                x, y = zip(*points)
                curve = pg.PlotDataItem(x, y, pen=pg.mkPen(colour, width=2), symbol="o",
                                        symbolSize=6, symbolPen=pg.mkPen(colour),
                                        symbolBrush=pg.mkBrush(colour))
                plot.addItem(curve)
                curves[run.id] = curve
            shown = self.loss_curves.get(run.id) or self.metric_curves.get(run.id)
            if shown is not None:
                self.legend.addItem(shown, run.id)
                colours[run.path] = colour
        self.model.set_colours(colours)
        last = max((max(c.xData) for c in self.loss_curves.values()), default=0)
        last = max([last, *(max(c.xData) for c in self.metric_curves.values())])
        for plot in (self.loss_plot, self.metric_plot):
            # whole epochs: 1, 2, 3 rather than 1.0, 1.5, 2.0 when there are few
            plot.getAxis("bottom").setTicks(
                [[(e, str(e)) for e in range(1, int(last) + 1)]] if 0 < last <= 12 else None)
            plot.enableAutoRange()

    def _metrics(self, run: RunInfo) -> list[dict]:
        """metrics.jsonl of ``run``, re-read only when the file changed."""
        try:
            stamp = (run.path / "metrics.jsonl").stat().st_mtime_ns
        except OSError:
            return []
        cached = self._metrics_cache.get(run.path)
        if cached is None or cached[0] != stamp:
            cached = self._metrics_cache[run.path] = (stamp, read_metrics(run))
        return cached[1]

    # -- dialogs (tests replace these) ----------------------------------------------------
    def _ask_epochs(self, run: RunInfo) -> int | None:
        n, ok = QInputDialog.getInt(
            self, "Continue training", f"Train {run.id} for how many more epochs "
            f"(from epoch {run.epochs_done or '?'})?", max(run.epochs or 5, 1), 1, 100_000)
        return n if ok else None

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Runs", text)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_dir(self) -> str | None:
        path = QFileDialog.getExistingDirectory(self, "Export runs into", str(Path.home()))
        return path or None

    def _show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)


def _score_tip(run: RunInfo, column: str) -> str:
    """What the score cells mean, with chance beside them and the run's warnings."""
    name = headline(run)
    if name is None:
        return "this run reported no metric that ranks runs" + (
            f" ({run.algorithm} has no primary metric)" if run.algorithm else "")
    kind = "the primary metric" if name == run.primary else "a headline metric (older run)"
    lines = [f"{title(name)}: {kind} of {run.algorithm or 'this run'}"]
    for split, label in (("val", "validation"), ("test", "test")):
        score = run.scores.get(split) if isinstance(run.scores.get(split), dict) else {}
        if score.get("size") == 0:
            lines.append(f"{label}: no {label} split")
            continue
        chance = (score.get("chance") or {}).get(name)
        value = (run.metrics if split == "val" else run.test_metrics).get(name)
        if value is not None:
            lines.append(f"{label}: {value:.4f}" + (f" (chance {chance:.4f})"
                                                    if chance is not None else ""))
    lines += [f"\u26a0 {w}" for w in run.warnings]
    return "\n".join(lines)


def _details(run: RunInfo) -> str:
    """A few lines about one run, as rich text."""
    from html import escape
    lines = [f"<b>{escape(run.id)}</b> &nbsp; {escape(run.status)}"
             + (f": {escape(run.reason.splitlines()[0])}" if run.reason else "")]
    if run.description:
        lines.append(escape(run.description))
    if run.metrics:
        lines.append("validation: " + " &nbsp; ".join(
            f"{escape(k)} {v:.3g}" for k, v in run.metrics.items()))
    if run.test_metrics:
        lines.append("test: " + " &nbsp; ".join(
            f"{escape(k)} {v:.3g}" for k, v in run.test_metrics.items()))
    elif run.test_size == 0:
        lines.append("test: no test split")
    lines += [f"<span style='color:#a04000'>\u26a0 {escape(w)}</span>" for w in run.warnings]
    extra = [f"continued from {escape(run.continued_from)}"] if run.continued_from else []
    lines.append(" &middot; ".join([f"<span style='color:gray'>{escape(str(run.path))}</span>",
                                    *extra]))
    return "<br>".join(lines)


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    view = RunsView(sys.argv[1] if len(sys.argv) > 1 else None)
    view.resize(1100, 760)
    view.select(view.runs()[:2])
    view.show()
    app.exec()
    view.deleteLater()
    app.processEvents()
