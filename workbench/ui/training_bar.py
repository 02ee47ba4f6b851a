"""Start / Pause / Stop, with progress: epoch, step, elapsed time and ETA."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ..core.training.clock import Throughput, eta_seconds, fit_fraction, rate_text
from ..core.training.events import FitEnded, FitStarted, StepLogged
from .compact import ElidedProgressBar
from .worker import TrainingController


PAUSE_KEYS = QKeySequence("Ctrl+P")


def format_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class TrainingBar(QWidget):
    """The run controls. ``start_requested`` asks the window to start a run (it knows the
    config and the data); pause and stop go straight to the controller's flags."""

    start_requested = Signal()  # no payload: the window reads the session
    compare_requested = Signal()  # train once per valid fusion (the window plans the runs)

    def __init__(self, controller: TrainingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.start_button = QPushButton("Train")
        self.start_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.start_button.setToolTip("Start training with the current settings (Ctrl+Enter)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setShortcut(PAUSE_KEYS)
        self.pause_button.setToolTip("Pause or resume between steps (Ctrl+P)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setShortcut(QKeySequence("Ctrl+."))
        self.stop_button.setToolTip("Stop after the current step; a checkpoint is kept (Ctrl+.)")
        self.compare_button = QPushButton("Compare fusions")
        self.compare_button.setToolTip("Train the current setup once per fusion its algorithm "
                                       "accepts, one after the other, and compare them")
        self.progress = ElidedProgressBar()  # "opened <run id>: …" may be longer than it
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("ready")
        self.detail = QLabel("")
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for w in (self.start_button, self.pause_button, self.stop_button, self.compare_button):
            layout.addWidget(w)
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.detail)
        self.start_button.clicked.connect(self.start_requested)
        self.compare_button.clicked.connect(self.compare_requested)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        controller.running_changed.connect(self._on_running_changed)
        controller.preparing.connect(self._on_preparing)
        controller.started.connect(self._on_started)
        controller.steps_logged.connect(self._on_steps_logged)
        for signal in (controller.finished, controller.failed, controller.stopped):
            signal.connect(self._on_ended)
        self._fit: FitStarted | None = None
        self._rate = Throughput()
        self._on_running_changed(False)

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.compare_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self._show_paused(False)
        if running:
            self.progress.setValue(0)
            self.progress.setFormat("preparing data and model…")
            self.detail.setText("")

    @Slot()
    def _on_pause_clicked(self) -> None:
        paused = not self.controller.paused
        self.controller.set_paused(paused)
        self._show_paused(paused)
        if paused:
            self.progress.setFormat("paused — " + self.progress.format())

    def _show_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        # setText replaces a button's shortcut with its text's mnemonic (here none): without
        # this, Ctrl+P paused once and then did nothing.
        self.pause_button.setShortcut(PAUSE_KEYS)

    @Slot()
    def _on_stop_clicked(self) -> None:
        self.stop_button.setEnabled(False)
        self.progress.setFormat("stopping…")
        self.controller.stop()

    @Slot(str, int, int)
    def _on_preparing(self, stage: str, done: int, total: int) -> None:
        """Decoding images or computing pretrained features before the first step."""
        if not self.stop_button.isEnabled():
            return  # a stop is under way: its "stopping…" stays
        self.progress.setValue(int(1000 * done / total) if total else 0)
        self.progress.setFormat(f"preparing: {stage} {done:,}/{total:,}")

    @Slot(object)
    def _on_started(self, event: FitStarted) -> None:
        self._fit = event
        self._rate = Throughput()
        self.progress.setFormat(f"epoch {event.start_epoch}/{event.epochs}")
        note = event.epoch_note()  # training.drop_last's effect on an epoch
        self.progress.setToolTip(f"{event.steps_per_epoch:,} steps per epoch"
                                 + (f"; {note}" if note else ""))

    @Slot(list)
    def _on_steps_logged(self, steps: list[StepLogged]) -> None:
        fit = self._fit
        if fit is None or not steps or self.controller.paused:
            return
        for step in steps:
            self._rate.add(step.seconds, step.samples, step.epoch)
        last = steps[-1]
        # last.seconds is training time: a pause moves neither the elapsed time nor the ETA.
        fraction = fit_fraction(last.epoch, last.epoch_progress, fit.start_epoch, fit.epochs)
        self.progress.setValue(int(1000 * fraction))
        eta = eta_seconds(last.seconds, fraction)
        self.progress.setFormat(f"epoch {last.epoch}/{fit.epochs} · step {last.step}")
        shards = f" · shards {last.shards[0]}/{last.shards[1]}" if last.shards else ""
        self.detail.setText(f"{format_seconds(last.seconds)} elapsed · ETA "
                            + (format_seconds(eta) if eta is not None else "…")
                            + f" · {rate_text(self._rate.rate())}{shards}")

    @Slot(object)
    def _on_ended(self, end: FitEnded) -> None:
        self.progress.setValue(1000 if end.status == "finished" else self.progress.value())
        self.progress.setFormat(f"{end.status} — epoch {end.epoch}, step {end.step}")
        self.detail.setText(f"{format_seconds(end.seconds)}")
        self._fit = None

    def show_run(self, run) -> None:
        """Show ``run`` (a ``RunInfo``), opened from the Runs tab, in place of the last
        run's end: its status, how far it got and how long it trained."""
        done, planned = run.epochs_done or 0, run.epochs or 0
        self.progress.setValue(int(1000 * min(1.0, done / planned)) if planned else 0)
        self.progress.setFormat(f"opened {run.id}: {run.status} — epoch {done}/{planned}"
                                + (f", step {run.steps}" if run.steps else ""))
        self.detail.setText(format_seconds(run.seconds) if run.seconds is not None else "")
