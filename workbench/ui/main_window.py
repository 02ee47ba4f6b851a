"""The main window: settings on the left (Data, Model, Presets), results in the centre
(Training, Attention, Embeddings, Retrieval, Compare, Sweep, Runs), run controls on top, exports in
the File menu, messages in the status bar.

The window is the one place that knows which run is "current" (the last one trained, or the
one opened in the Runs tab): it points the inspection views at it and the exports use it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QMainWindow, QMessageBox, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)

from ..core.errors import WorkbenchError
from ..core.training.events import FitEnded, FitStarted
from .deferred_tabs import DeferredTabs
from .compact import scrolled
from .export_actions import ExportActions
from .panels.data_panel import DataPanel
from .panels.model_panel import ModelPanel
from .panels.presets_panel import PresetsPanel
from .panels.runs_view import RunsView
from .plots.attention_view import AttentionView
from .plots.compare_view import CompareView
from .plots.embedding_view import EmbeddingView
from .plots.retrieval_view import RetrievalView
from .plots.sweep_view import SweepView
from .plots.training_view import TrainingView
from .session import Session
from .training_bar import TrainingBar
from .worker import TrainingController

SETTINGS_MIN_WIDTH = 250
DEFAULT_SIZE = (1400, 860)


def settings_width(total: int) -> int:
    """The settings panel's width in a splitter ``total`` pixels wide: its narrowest at
    800 px (the results keep about 540), three tenths of it up to 400 px."""
    return max(SETTINGS_MIN_WIDTH, min(400, round(total * 0.3)))


class SettingsSplitter(QSplitter):
    """The settings beside the results: the settings get ``settings_width`` of any width
    until the user drags the handle; from then on what the window gains or loses goes to
    the results (their stretch)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.dragged = False  # the user moved the handle: the settings keep their width
        self.splitterMoved.connect(self._on_splitter_moved)

    def _on_splitter_moved(self, _pos: int, _index: int) -> None:
        self.dragged = True

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        sizes = self.sizes()
        total = sum(sizes)
        if len(sizes) == 2 and total > 0 and not self.dragged:
            settings = settings_width(total)
            self.setSizes([settings, total - settings])


def _default_size(window: QWidget) -> QSize:
    """1400 × 860, or less on a smaller screen (nine tenths of what it leaves free)."""
    width, height = DEFAULT_SIZE
    screen = window.screen()
    if screen is not None:
        free = screen.availableGeometry()
        width, height = min(width, free.width() * 9 // 10), min(height, free.height() * 9 // 10)
    return QSize(width, height)


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
        # In scroll areas (the Model panel scrolls itself): the panels' contents do not
        # decide how small the window may get.
        self.settings.addTab(scrolled(self.data_panel), "Data")
        self.settings.addTab(self.model_panel, "Model")
        self.settings.addTab(scrolled(self.presets_panel), "Presets")

        self.training_view = TrainingView()
        self.training_view.connect_controller(self.controller)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.training_view, "Training")
        # The other tabs are hidden at start: built after the first paint (or when needed).
        self.views = DeferredTabs(self.tabs)
        for name, title in (("attention", "Attention"), ("embedding", "Embeddings"),
                            ("retrieval", "Retrieval"), ("compare", "Compare"),
                            ("sweep", "Sweep"), ("runs", "Runs")):
            self.views.add(name, title, getattr(self, f"_make_{name}_view"))
        # Work waiting for the first paint; None once the window has painted.
        self._after_paint: list[Callable[[], None]] | None = []
        self.current_run: Path | None = None  # the run the inspection views and exports use
        self._sequence = False  # the controller runs a Compare-fusions sequence
        self._closing = False

        self.training_bar = TrainingBar(self.controller)
        self.training_bar.start_requested.connect(self.start_training)
        self.training_bar.compare_requested.connect(self.compare_fusions)
        self._build_menus()
        self.splitter = split = SettingsSplitter()
        split.addWidget(self.settings)
        split.addWidget(self.tabs)
        # The settings keep about a third of the width at 800 px and 400 px from about
        # 1,300 px (what a wider window adds goes to the results).
        self.settings.setMinimumWidth(SETTINGS_MIN_WIDTH)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(1, 1)  # the results take what the window gains
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.training_bar)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)
        self.resize(_default_size(self))

        self.controller.running_changed.connect(self._on_running_changed)
        self.controller.started.connect(self._on_fit_started)
        self.controller.finished.connect(self._on_run_finished)
        self.controller.stopped.connect(self._on_run_stopped)
        self.controller.failed.connect(self._on_run_failed)
        self.session.preset_changed.connect(self._on_preset_changed)
        self._on_preset_changed(self.session.preset_name, self.session.modified)
        self.statusBar().showMessage("Ready: pick data and a method, then press Train.")
        self._error_box: QMessageBox | None = None

    # -- the deferred views -------------------------------------------------------------
    attention_view = property(lambda self: self.views.get("attention"))
    embedding_view = property(lambda self: self.views.get("embedding"))
    retrieval_view = property(lambda self: self.views.get("retrieval"))
    compare_view = property(lambda self: self.views.get("compare"))
    sweep_view = property(lambda self: self.views.get("sweep"))
    runs_view = property(lambda self: self.views.get("runs"))

    def _make_attention_view(self) -> AttentionView:
        view = AttentionView()
        view.connect_controller(self.controller)
        return view

    def _make_embedding_view(self) -> EmbeddingView:
        view = EmbeddingView(self.session)
        view.connect_controller(self.controller)
        return view

    def _make_retrieval_view(self) -> RetrievalView:
        view = RetrievalView()
        view.note_running(self.controller.running)  # opened for the first time mid-run
        view.set_config(self.session.config)  # zero-shot CLIP's data before any run
        self.session.config_changed.connect(view.set_config)
        return view

    def _make_compare_view(self) -> CompareView:
        view = CompareView()
        view.connect_controller(self.controller)
        return view

    def _make_sweep_view(self) -> SweepView:
        view = SweepView(self.session)
        view.run_opened.connect(self.open_run)
        return view

    def _make_runs_view(self) -> RunsView:
        view = RunsView()
        view.run_opened.connect(self.open_run)
        view.continue_requested.connect(self.continue_run)
        return view

    def after_first_paint(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once the window has painted for the first time (at once if it has):
        work that can wait for the window to be on screen."""
        if self._after_paint is None:
            QTimer.singleShot(0, fn)
        else:
            self._after_paint.append(fn)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self._after_paint is not None:
            # The hidden views last: what was asked for (a data load, off this thread) starts
            # first, and every view exists before a run (which needs the event loop, so
            # comes after these) can send it anything.
            for fn in [*self._after_paint, self.views.build_all]:
                QTimer.singleShot(0, fn)
            self._after_paint = None

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.exports = ExportActions(self, file_menu)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        # The platform's quit keys; Ctrl+Q where it names none (Windows, offscreen).
        quit_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)
                                 or [QKeySequence("Ctrl+Q")])
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

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
        from ..core.runs.naming import preset_label, run_name
        from ..core.runs.writer import new_run_dir
        cfg = self.session.config
        # Named after what trains: the preset's name only while its settings are unchanged.
        preset, unchanged = self.session.preset_name, not self.session.modified
        try:  # checked writable, not made: the run makes it once data and config are accepted
            run_dir = new_run_dir(run_name(cfg, preset, unchanged=unchanged))
        except WorkbenchError as exc:
            self.show_error("Cannot start training", str(exc))
            return
        self._sequence = False
        self.data_panel.features.hand_over()  # the run computes missing features itself
        self.controller.start(cfg, self.session.table, run_dir=run_dir,
                              preset=preset_label(preset, unchanged=unchanged))
        self.tabs.setCurrentWidget(self.training_view)
        self.statusBar().showMessage(f"Training {cfg.algorithm.name} + {cfg.fusion.name}; "
                                     f"run folder {run_dir}")

    @Slot()
    def compare_fusions(self) -> None:
        """Train the current setup on every valid fusion, each on the Compare tab's number of
        seeds (the split fixed), one after the other, each run into its own folder
        (``<preset>-<fusion>[-seed<S>]`` from an unchanged preset, else
        ``<algorithm>-<fusion>-<data>[-seed<S>]``); the Compare tab fills in as they end."""
        if self.controller.running:
            return
        from ..core.evaluation.compare import fusion_variants
        from ..core.runs.naming import preset_label, run_name
        from ..core.runs.writer import new_run_dir
        cfg = self.session.config
        repeats = self.compare_view.repeats
        try:
            configs = fusion_variants(cfg, repeats=repeats)
        except WorkbenchError as exc:
            self.show_error("Cannot compare fusions", str(exc))
            return
        preset, unchanged = self.session.preset_name, not self.session.modified

        def run_dir(_index, c):  # as each run starts: a stopped sequence leaves no empty ones
            name = f"{preset}-{c.fusion.name}" if preset and unchanged else run_name(c)
            return new_run_dir(name + (f"-seed{c.seed}" if repeats > 1 else ""))

        self.compare_view.reset(configs)
        self._sequence = True
        self.data_panel.features.hand_over()
        self.controller.start_many(configs, self.session.table, run_dirs=run_dir,
                                   preset=preset_label(preset, unchanged=unchanged))
        self.tabs.setCurrentWidget(self.views.page("compare"))
        fusions = list(dict.fromkeys(c.fusion.name for c in configs))
        seeds = f" × {repeats} seeds ({len(configs)} runs)" if repeats > 1 else ""
        plural = "s" if len(fusions) != 1 else ""
        self.statusBar().showMessage(f"Comparing {len(fusions)} fusion{plural}{seeds} of "
                                     f"{cfg.algorithm.name}: " + ", ".join(fusions))

    @Slot(object, int)
    def continue_run(self, run, extra_epochs: int) -> None:
        """Train ``run`` (a RunInfo) ``extra_epochs`` further from its last checkpoint, into
        a copy of its folder (the original stays as it was)."""
        if self.controller.running:
            return
        from ..core.runs.continuation import continue_run
        try:
            plan = continue_run(run, extra_epochs)
            run_dir = plan.prepare()
        except WorkbenchError as exc:
            self.show_error("Cannot continue the run", str(exc))
            return
        self._sequence = False
        self.controller.start(plan.config, self.session.table, run_dir=run_dir,
                              resume_from=str(plan.checkpoint), preset=run.preset)
        self.tabs.setCurrentWidget(self.training_view)
        self.statusBar().showMessage(f"Continuing {run.id} from epoch {plan.from_epoch} to "
                                     f"{plan.epochs}; run folder {run_dir}")

    @Slot(object)
    def open_run(self, run) -> None:
        """Show a finished run (a RunInfo): its curves, attention, embeddings and a retrieval
        index of its model."""
        if self.controller.running:
            self.statusBar().showMessage("Stop the current run before opening another.", 8000)
            return
        from ..core.runs.snapshot_files import latest_attention, logged_events
        path = Path(run.path)
        steps, epochs = logged_events(path)
        first = [s.step for s in steps if s.epoch == steps[0].epoch] if steps else []
        per_epoch = max(first) - min(first) + 1 if first else 0
        val = run.scores.get("val", {})
        started = FitStarted(run.algorithm, run.fusion, run.epochs or len(epochs), 1, per_epoch,
                             0, 0, run.device, run.parameters or 0, str(path),
                             primary=run.primary, chance=val.get("chance", {}),
                             chance_spread=val.get("spread"))
        self.training_view.reset(started)
        self.training_view.add_steps(steps)
        self.training_view.add_epochs(epochs)
        if run.status in ("finished", "stopped"):
            self.training_view.show_result(run.primary, run.scores, run.warnings,
                                           run.summary.get("best_epoch"),
                                           run.summary.get("health"))
        self.attention_view.reset()
        shown = []
        try:
            attention = latest_attention(path)
        except WorkbenchError as exc:
            attention = None
            shown.append(str(exc))
        if attention is not None:
            self.attention_view.add_epochs(epochs)
            self.attention_view.set_snapshot(attention)
        self.embedding_view.reset()
        try:
            count = self.embedding_view.load_snapshots(path)
        except WorkbenchError:
            count = 0  # a run stopped before its first snapshot
        self._set_current_run(path)
        self.training_bar.show_run(run)  # not the last trained run's end any more
        self.tabs.setCurrentWidget(self.views.page("embedding") if count else self.training_view)
        shown.insert(0, f"Opened {run.id}: {_count(len(epochs), 'epoch')}, "
                        f"{_count(count, 'embedding snapshot')}"
                        + (", attention" if attention is not None else ""))
        self.statusBar().showMessage("; ".join(shown))

    def _set_current_run(self, path: Path) -> None:
        from ..core.runs.store import read_run
        self.current_run = path
        checkpoint = read_run(path).model_checkpoint  # the best epoch's with keep_best
        if checkpoint is not None:
            self.retrieval_view.set_checkpoint(checkpoint, self.session.table)

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        # Settings are locked during a run so what is shown is what is training.
        self.settings.setEnabled(not running)
        if not running:  # the run may have computed (and cached) the features: say so
            self.data_panel.features.compute()
        view = self.views.built("retrieval")  # not built for this: a tab built later asks
        if view is not None:
            view.note_running(running)

    @Slot(object)
    def _on_fit_started(self, _started) -> None:
        # The run folder exists now (its run.json says "running"): list it in a Runs tab
        # already built (one built later reads the folder then).
        view = self.views.built("runs")
        if view is not None:
            view.refresh()

    @Slot(object)
    def _on_run_finished(self, end: FitEnded) -> None:
        self._after_run(end)
        self.statusBar().showMessage(f"Finished: {end.reason}; run folder {end.run_dir}")

    @Slot(object)
    def _on_run_stopped(self, end: FitEnded) -> None:
        self._after_run(end)
        self.statusBar().showMessage(f"Stopped at epoch {end.epoch}, step {end.step}; "
                                     f"run folder {end.run_dir}")

    def _after_run(self, end: FitEnded) -> None:
        if self._closing:
            return  # no new background work (a retrieval index) for a window that is going
        if not self._sequence:
            self.training_view.show_result(end.primary, end.scores, end.warnings,
                                           end.best_epoch, end.health)
        self.runs_view.refresh()
        # A sequence's end names the folder holding its runs, not a run.
        if end.run_dir and not self._sequence:
            self._set_current_run(Path(end.run_dir))

    @Slot(object)
    def _on_run_failed(self, end: FitEnded) -> None:
        self.runs_view.refresh()
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

    def _may_close(self) -> bool:
        """Ask before closing over unsaved settings or a run in progress: save the settings
        (as the loaded user preset, else under a name asked for), discard them, or cancel.
        A run is stopped either way (cleanly, after its step, its checkpoint kept)."""
        dirty, running = self.session.modified, self.controller.running
        if not (dirty or running):
            return True
        answer = self._ask_close(dirty, running)
        if answer == "save" and dirty:
            self.presets_panel.save()
            return not self.session.modified  # a cancelled or refused save: stay open
        return answer in ("save", "discard")

    def _ask_close(self, dirty: bool, running: bool) -> str:
        """"save", "discard" or "cancel" (tests replace this)."""
        from ..core.presets import is_builtin
        name = self.session.preset_name
        parts = []
        if dirty:
            parts.append(f"Your changes to {name} are not saved." if name else
                         "Your settings are not saved as a preset.")
        if running:
            parts.append("A run is training: closing stops it after its current step; its "
                         "last checkpoint is kept, so it can be continued from the Runs tab.")
        box = QMessageBox(QMessageBox.Icon.Question, "Close Multimodal Workbench",
                          "\n\n".join(parts), QMessageBox.StandardButton.Cancel, self)
        buttons = {}
        if dirty:
            asks_name = not name or is_builtin(name)
            buttons["save"] = box.addButton("Save as… and close" if asks_name else
                                            "Save and close",
                                            QMessageBox.ButtonRole.AcceptRole)
            buttons["discard"] = box.addButton("Close without saving",
                                               QMessageBox.ButtonRole.DestructiveRole)
            box.setDefaultButton(buttons["save"])
        else:
            buttons["discard"] = box.addButton("Stop the run and close",
                                               QMessageBox.ButtonRole.DestructiveRole)
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return next((k for k, b in buttons.items() if b is clicked), "cancel")

    @Slot(str, bool)
    def _on_preset_changed(self, name: str, modified: bool) -> None:
        title = "Multimodal Workbench"
        if name:
            title += f" — {name}{' *' if modified else ''}"
        self.setWindowTitle(title)

    #: whether closing asks first over unsaved settings or a run in progress (off for a
    #: scripted window: ``workbench gui --screenshot``)
    confirm_close = True

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing and self.confirm_close and not self._may_close():
            event.ignore()
            return
        # A run in progress is stopped and its thread joined before the window goes: no
        # "QThread: Destroyed while thread is still running", and its checkpoint is written.
        self._closing = True
        if self.controller.running:
            self.statusBar().showMessage("Stopping the run…")
            self.controller.shutdown()
        self.data_panel.shutdown()
        # views' background tasks (a sweep's trials stop, their thread is joined)
        for name in ("embedding", "retrieval", "compare", "sweep"):
            view = self.views.built(name)
            if view is not None:
                view.shutdown()
        super().closeEvent(event)


def _count(n: int, noun: str) -> str:
    """``1 epoch``, ``3 epochs``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
