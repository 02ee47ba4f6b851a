"""The File menu's exports: the shown embeddings (CSV or NPZ, with captions and labels), the
current run's metrics (CSV), the current tab's plot (PNG or SVG) and a TensorBoard log.

The writing is :mod:`workbench.core.runs.export`'s (the same as ``workbench export``); this module
only asks where, with one small method per question (``ask_save``, ``ask_folder``) so tests
can answer it, and reports what happened in the status bar or an error box.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu

from ..core.errors import WorkbenchError
from . import plot_export

EMBEDDING_FILTERS = {"csv": "CSV table (*.csv)", "npz": "NumPy arrays (*.npz)"}
TENSORBOARD_TIP = "Curves and embeddings of the current run as a TensorBoard log"


class ExportActions:
    """The export actions of ``window`` (a MainWindow), added to ``menu``."""

    def __init__(self, window: QMainWindow, menu: QMenu):
        self.window = window
        self.embeddings = self._add(menu, "Export &embeddings…", self.export_embeddings,
                                    "The embeddings shown in the Embeddings tab, with captions "
                                    "and labels, as CSV or NPZ", "Ctrl+E")
        self.metrics = self._add(menu, "Export &metrics (CSV)…", self.export_metrics,
                                 "Every epoch's training and validation values of the current "
                                 "run")
        self.plot = self._add(menu, "Save &plot of this tab…", self.export_plot,
                              "The current tab's plot as PNG or SVG", "Ctrl+Shift+S")
        self.tensorboard = self._add(menu, "Write &TensorBoard log…", self.export_tensorboard,
                                     TENSORBOARD_TIP)
        menu.setToolTipsVisible(True)  # a greyed-out entry's tooltip says what to install
        self.update_availability()
        menu.aboutToShow.connect(self.update_availability)  # installed while the app runs

    def update_availability(self) -> None:
        """Grey out the TensorBoard entry, its tooltip saying what to install, when the
        tensorboard package is missing."""
        from ..core.runs.export import tensorboard_missing
        missing = tensorboard_missing()
        self.tensorboard.setEnabled(missing is None)
        tip = TENSORBOARD_TIP if missing is None else missing[:1].upper() + missing[1:]
        self.tensorboard.setToolTip(tip)
        self.tensorboard.setStatusTip(tip)

    def _add(self, menu: QMenu, text: str, slot, tip: str, shortcut: str = "") -> QAction:
        action = QAction(text, self.window)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    # -- questions (tests replace these) ---------------------------------------------------
    def ask_save(self, title: str, suggested: str, filters: str) -> str:
        name, _ = QFileDialog.getSaveFileName(self.window, title, suggested, filters)
        return name

    def ask_folder(self, title: str) -> str:
        return QFileDialog.getExistingDirectory(self.window, title)

    # -- actions ---------------------------------------------------------------------------
    def export_embeddings(self) -> Path | None:
        from ..core.runs.export import export_embeddings
        snap = self.window.embedding_view.snapshot
        if snap is None:
            return self._nothing("No embeddings yet: train, or open a run in the Runs tab.")
        name = self.ask_save("Export embeddings", f"embeddings-e{snap.epoch:04d}.csv",
                             ";;".join(EMBEDDING_FILTERS.values()))
        if not name:
            return None
        if Path(name).suffix.lower() not in (".csv", ".npz"):
            name += ".csv"
        # The core's "npy" layout writes one .npz when the name ends in .npz.
        fmt = "npy" if Path(name).suffix.lower() == ".npz" else "csv"
        return self._done(lambda: export_embeddings(snap, self.window.session.table, name, fmt),
                          "Embeddings")

    def export_metrics(self) -> Path | None:
        from ..core.runs.export import export_metrics_csv
        run = self.window.current_run
        if run is None:
            return self._nothing("No run yet: train, or open a run in the Runs tab.")
        name = self.ask_save("Export metrics", f"{run.name}-metrics.csv", "CSV table (*.csv)")
        if not name:
            return None
        return self._done(lambda: export_metrics_csv(run, name), "Metrics")

    def export_plot(self) -> Path | None:
        tab = self.window.tabs.currentWidget()
        views = [v for v in tab.findChildren(pg.GraphicsView) if v.isVisible()]
        if not views:
            return self._nothing(f"The {self.window.tabs.tabText(self.window.tabs.currentIndex())}"
                                 " tab has no plot to save.")
        # The largest visible plot: the one the user is looking at.
        view = max(views, key=lambda v: v.width() * v.height())
        title = self.window.tabs.tabText(self.window.tabs.currentIndex()).lower()
        name = self.ask_save("Save plot", f"{title}.png", plot_export.FILE_FILTER)
        if not name:
            return None
        if Path(name).suffix.lower() not in plot_export.FORMATS:
            name += ".png"
        return self._done(lambda: self._save_plot(view, tab, name), "Plot")

    @staticmethod
    def _save_plot(view: pg.GraphicsView, tab, name: str) -> Path:
        """Save ``view``; a view whose legend is a widget beside the plot (it has an
        ``export_legend`` context) puts it in the plot while it is saved."""
        owner = view.parentWidget()
        while owner is not None and owner is not tab and not hasattr(owner, "export_legend"):
            owner = owner.parentWidget()
        legend = owner.export_legend() if hasattr(owner, "export_legend") else nullcontext()
        with legend:
            return plot_export.export_plot(view, name)

    def export_tensorboard(self) -> Path | None:
        from ..core.runs.export import require_tensorboard, write_tensorboard
        run = self.window.current_run
        if run is None:
            return self._nothing("No run yet: train, or open a run in the Runs tab.")
        try:
            require_tensorboard()
        except WorkbenchError as exc:
            self.window.show_error("TensorBoard log", str(exc))
            return None
        folder = self.ask_folder("Write the TensorBoard log into")
        if not folder:
            return None
        return self._done(lambda: write_tensorboard(run, Path(folder) / run.name,
                                                    table=self.window.session.table),
                          "TensorBoard log")

    def _nothing(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 8000)
        return None

    def _done(self, write, what: str) -> Path | None:
        try:
            path = write()
        except (WorkbenchError, OSError, ValueError) as exc:
            self.window.show_error(f"{what} not written", str(exc))
            return None
        self.window.statusBar().showMessage(f"{what} written to {path}", 10_000)
        return Path(path)
