"""Training off the GUI thread (DESIGN.md, "Threading").

- :class:`EventBuffer` is a Trainer callback: on the training thread it appends plain events
  (numbers, numpy arrays) to lists under a lock; snapshots replace the previous one (the
  latest wins). It never touches Qt.
- :class:`TrainingWorker` is a QObject moved to a QThread; its ``run`` builds the dataset and
  runs ``Trainer.fit``. Stop and pause are the Trainer's ``threading.Event`` flags, set
  directly from the GUI thread: the worker thread has no event loop while it trains.
- :class:`TrainingController` (GUI thread) owns the thread, drains the buffer on a QTimer
  (25 Hz) and re-emits what it found as a few signals per tick, however fast training runs.
  Exactly one of ``finished``/``failed``/``stopped`` arrives, last.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from ..core.training.callbacks import Callback
from ..core.training.events import (AttentionSnapshot, CheckpointWritten, EmbeddingSnapshot,
                                    EpochEnded, FitEnded, FitStarted, GeneratedSamples,
                                    StepLogged)

DRAIN_INTERVAL_MS = 40  # 25 Hz


@dataclass
class Drained:
    """What arrived since the last drain."""

    started: FitStarted | None = None
    steps: list[StepLogged] = field(default_factory=list)
    epochs: list[EpochEnded] = field(default_factory=list)
    attention: AttentionSnapshot | None = None
    embeddings: EmbeddingSnapshot | None = None
    generated: GeneratedSamples | None = None
    checkpoints: list[CheckpointWritten] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.started or self.steps or self.epochs or self.attention
                    or self.embeddings or self.generated or self.checkpoints)


class EventBuffer(Callback):
    """Thread-safe hand-over of training events to the GUI."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = Drained()

    def on_fit_start(self, trainer, event):
        with self._lock:
            self._pending.started = event

    def on_step_end(self, trainer, event):
        with self._lock:
            self._pending.steps.append(event)

    def on_epoch_end(self, trainer, event):
        with self._lock:
            self._pending.epochs.append(event)

    def on_snapshot(self, trainer, event):
        with self._lock:  # latest wins: the GUI only ever draws the newest snapshot
            if isinstance(event, AttentionSnapshot):
                self._pending.attention = event
            elif isinstance(event, EmbeddingSnapshot):
                self._pending.embeddings = event
            elif isinstance(event, GeneratedSamples):
                self._pending.generated = event

    def on_checkpoint(self, trainer, event):
        with self._lock:
            self._pending.checkpoints.append(event)

    def drain(self) -> Drained:
        with self._lock:
            out, self._pending = self._pending, Drained()
        return out


class TrainingWorker(QObject):
    """Runs one fit on the thread it is moved to."""

    ended = Signal(object)  # FitEnded

    def __init__(self, cfg, table, buffer: EventBuffer, *, run_dir: Path | None = None,
                 resume_from: str | None = None, preset: str = ""):
        super().__init__()
        self.cfg, self.table, self.buffer = cfg, table, buffer
        self.run_dir, self.resume_from, self.preset = run_dir, resume_from, preset
        self.trainer = None
        self.end: FitEnded | None = None
        self._stop = threading.Event()
        self._pause = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        if self.trainer is not None:
            self.trainer.stop()

    def pause(self, paused: bool) -> None:
        (self._pause.set if paused else self._pause.clear)()
        if self.trainer is not None:
            (self.trainer.pause if paused else self.trainer.resume)()

    @Slot()
    def run(self) -> None:
        end = None
        try:
            end = self._fit()
        except Exception as exc:  # building the data or the model failed
            from ..core.errors import WorkbenchError
            reason = str(exc) if isinstance(exc, WorkbenchError) else \
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
            end = FitEnded("failed", reason, 0, 0, {}, 0.0,
                           str(self.run_dir) if self.run_dir else None)
        self.end = end
        self.ended.emit(end)
        # Leave the thread's event loop so the controller can join it, even while the GUI
        # thread is blocked waiting (closing the window).
        self.thread().quit()

    def _fit(self) -> FitEnded:
        from ..core.data import load_pairs
        from ..core.data.dataset import build_dataset
        from ..core.runs import RunWriter
        from ..core.training.trainer import Trainer

        cfg, table = self.cfg, self.table
        if table is None or table.source != cfg.data.source or (
                table.images is not None and table.images.shape[-1] != cfg.preprocess.image_size):
            table = load_pairs(cfg.data, cfg.preprocess.image_size)
        dataset = build_dataset(table, cfg.preprocess, val_fraction=cfg.data.val_fraction,
                                test_fraction=cfg.data.test_fraction, seed=cfg.seed)
        callbacks = [self.buffer]
        if self.run_dir is not None:
            callbacks.append(RunWriter(self.run_dir, cfg, preset=self.preset))
        self.trainer = Trainer(cfg, dataset, callbacks=callbacks, run_dir=self.run_dir,
                               resume_from=self.resume_from)
        # Flags set before the trainer existed still count.
        if self._pause.is_set():
            self.trainer.pause()
        if self._stop.is_set():
            self.trainer.stop()
        return self.trainer.fit()


class TrainingController(QObject):
    """Starts and controls training runs for the GUI and feeds the views."""

    started = Signal(object)  # FitStarted
    steps_logged = Signal(list)  # list[StepLogged] since the last tick
    epochs_ended = Signal(list)  # list[EpochEnded]
    attention_updated = Signal(object)  # AttentionSnapshot (the latest)
    embeddings_updated = Signal(object)  # EmbeddingSnapshot (the latest)
    samples_generated = Signal(object)  # GeneratedSamples (the latest)
    checkpoint_written = Signal(object)  # CheckpointWritten
    finished = Signal(object)  # FitEnded, status "finished"
    failed = Signal(object)  # FitEnded, status "failed"
    stopped = Signal(object)  # FitEnded, status "stopped"
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._buffer: EventBuffer | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self.paused = False

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, cfg, table, *, run_dir: Path | None = None, resume_from: str | None = None,
              preset: str = "") -> None:
        if self.running:
            raise RuntimeError("a run is already in progress")
        self._buffer = EventBuffer()
        self._worker = TrainingWorker(cfg, table, self._buffer, run_dir=run_dir,
                                      resume_from=resume_from, preset=preset)
        self._thread = QThread()
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.ended.connect(self._on_ended)
        self.paused = False
        self._thread.start()
        self._timer.start()
        self.running_changed.emit(True)

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()

    def set_paused(self, paused: bool) -> None:
        if self._worker is not None:
            self.paused = paused
            self._worker.pause(paused)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop any run and join its thread (closing the window). True when it ended."""
        if self._thread is None:
            return True
        self.stop()
        ok = self._thread.wait(timeout_ms)
        if ok and self._worker.end is not None:
            self._on_ended(self._worker.end)
        return ok

    @Slot()
    def _drain(self) -> None:
        if self._buffer is None:
            return
        d = self._buffer.drain()
        if not d:
            return
        if d.started:
            self.started.emit(d.started)
        if d.steps:
            self.steps_logged.emit(d.steps)
        if d.epochs:
            self.epochs_ended.emit(d.epochs)
        if d.attention:
            self.attention_updated.emit(d.attention)
        if d.embeddings:
            self.embeddings_updated.emit(d.embeddings)
        if d.generated:
            self.samples_generated.emit(d.generated)
        for c in d.checkpoints:
            self.checkpoint_written.emit(c)

    @Slot(object)
    def _on_ended(self, end: FitEnded) -> None:
        if self._worker is None or self._worker.end is not end:
            return  # already handled by shutdown()
        self._thread.wait()
        self._drain()  # everything the run reported comes before its end
        self._teardown()
        {"finished": self.finished, "stopped": self.stopped}.get(end.status, self.failed).emit(end)

    def _teardown(self) -> None:
        self._timer.stop()
        self._thread = None
        self._worker = None
        self._buffer = None
        self.paused = False
        self.running_changed.emit(False)
