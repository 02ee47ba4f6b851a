"""The main window: settings on the left (Data, Model, Presets), results in the centre
(Training, Attention), run controls on top, messages in the status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QMainWindow, QMessageBox, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)

from ..core.training.events import FitEnded
from .panels.data_panel import DataPanel
from .panels.model_panel import ModelPanel
from .panels.presets_panel import PresetsPanel
from .plots.attention_view import AttentionView
from .plots.training_view import TrainingView
from .session import Session
from .training_bar import TrainingBar
from .worker import TrainingController


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Multimodal Workbench")
        self.session = session or Session()
        self.controller = TrainingController(self)

        self.data_panel = DataPanel(self.session)
        self.model_panel = ModelPanel(self.session)
        self.presets_panel = PresetsPanel(self.session)
        self.settings = QTabWidget()
        self.settings.addTab(self.data_panel, "Data")
        self.settings.addTab(self.model_panel, "Model")
        self.settings.addTab(self.presets_panel, "Presets")

        self.training_view = TrainingView()
        self.training_view.connect_controller(self.controller)
        self.attention_view = AttentionView()
        self.attention_view.connect_controller(self.controller)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.training_view, "Training")
        self.tabs.addTab(self.attention_view, "Attention")

        self.training_bar = TrainingBar(self.controller)
        self.training_bar.start_requested.connect(self.start_training)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.settings)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 1000])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.training_bar)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)
        self.resize(1400, 860)

        self.controller.running_changed.connect(self._on_running_changed)
        self.controller.finished.connect(self._on_run_finished)
        self.controller.stopped.connect(self._on_run_stopped)
        self.controller.failed.connect(self._on_run_failed)
        self.session.preset_changed.connect(self._on_preset_changed)
        self._on_preset_changed(self.session.preset_name, self.session.modified)
        self.statusBar().showMessage("Ready: pick data and a method, then press Train.")
        self._error_box: QMessageBox | None = None

    def select_tab(self, name: str) -> None:
        """Show the centre tab called ``name`` (case-insensitive)."""
        titles = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        for i, title in enumerate(titles):
            if title.lower() == name.lower():
                self.tabs.setCurrentIndex(i)
                return
        raise ValueError(f"no tab {name!r}; tabs: {', '.join(titles)}")

    # -- training ----------------------------------------------------------------------
    @Slot()
    def start_training(self) -> None:
        """Start a run with the session's config and data (the config is copied: editing
        settings during the run does not change it)."""
        if self.controller.running:
            return
        from ..core.runs import new_run_dir
        cfg = self.session.config
        name = self.session.preset_name or f"{cfg.algorithm.name}-{cfg.fusion.name}"
        run_dir = new_run_dir(name)
        self.controller.start(cfg, self.session.table, run_dir=run_dir, preset=name)
        self.tabs.setCurrentWidget(self.training_view)
        self.statusBar().showMessage(f"Training {cfg.algorithm.name} + {cfg.fusion.name}; "
                                     f"run folder {run_dir}")

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        # Settings are locked during a run so what is shown is what is training.
        self.settings.setEnabled(not running)

    @Slot(object)
    def _on_run_finished(self, end: FitEnded) -> None:
        self.statusBar().showMessage(f"Finished: {end.reason}; run folder {end.run_dir}")

    @Slot(object)
    def _on_run_stopped(self, end: FitEnded) -> None:
        self.statusBar().showMessage(f"Stopped at epoch {end.epoch}, step {end.step}; "
                                     f"run folder {end.run_dir}")

    @Slot(object)
    def _on_run_failed(self, end: FitEnded) -> None:
        self.statusBar().showMessage("Training failed: " + end.reason.splitlines()[0])
        self.show_error("Training failed", end.reason)

    def show_error(self, title: str, text: str) -> QMessageBox:
        """A non-blocking error box (so the window stays responsive and tests can close it)."""
        box = QMessageBox(QMessageBox.Icon.Critical, title, text.splitlines()[0][:300],
                          QMessageBox.StandardButton.Ok, self)
        if "\n" in text or len(text) > 300:
            box.setDetailedText(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self._error_box = box
        return box

    @Slot(str, bool)
    def _on_preset_changed(self, name: str, modified: bool) -> None:
        title = "Multimodal Workbench"
        if name:
            title += f" — {name}{' *' if modified else ''}"
        self.setWindowTitle(title)

    def closeEvent(self, event: QCloseEvent) -> None:
        # A run in progress is stopped and its thread joined before the window goes: no
        # "QThread: Destroyed while thread is still running", and its checkpoint is written.
        if self.controller.running:
            self.statusBar().showMessage("Stopping the run…")
            self.controller.shutdown()
        self.data_panel.shutdown()
        super().closeEvent(event)
