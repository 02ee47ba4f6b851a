"""Training off the GUI thread (DESIGN.md, "Threading").

- :class:`EventBuffer` is a Trainer callback: on the training thread it appends plain events
  (numbers, numpy arrays) to lists under a lock; snapshots replace the previous one (the
  latest wins). It never touches Qt.
- :class:`TrainingWorker` is a QObject moved to a QThread; its ``run`` builds the dataset and
  runs ``Trainer.fit``. Stop and pause are the Trainer's ``threading.Event`` flags, set
  directly from the GUI thread: the worker thread has no event loop while it trains.
- :class:`TrainingController` (GUI thread) owns the thread, drains the buffer on a QTimer
  (25 Hz, or less often when drawing gets costly: ``frame_pacer``) and re-emits what it
  found as a few signals per tick, however fast training runs.
  Exactly one of ``finished``/``failed``/``stopped`` arrives, last.

``TrainingController.start_many`` runs a sequence of configs (Compare fusions) one after the
other on the same thread. Run boundaries travel through the buffer too, as segments, so
``run_started`` comes before a run's first event and ``run_ended`` after its last, whatever
the timer's phase.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from ..core.training.callbacks import Callback
from ..core.training.events import (AttentionSnapshot, CheckpointWritten, EmbeddingSnapshot,
                                    EpochEnded, FitEnded, FitStarted, GeneratedSamples,
                                    StepLogged)
from .frame_pacer import FramePacer
from .thread_priority import lower_current_thread


@dataclass
class Drained:
    """What arrived since the last drain (within one run of a sequence: a segment)."""

    run_start: tuple[int, int, object] | None = None  # (index, total, config), sequences only
    started: FitStarted | None = None
    steps: list[StepLogged] = field(default_factory=list)
    epochs: list[EpochEnded] = field(default_factory=list)
    attention: AttentionSnapshot | None = None
    # Every embedding snapshot, not only the latest: the Embeddings tab replays each epoch
    # (they come every snapshot_every epochs, so there are few).
    embeddings: list[EmbeddingSnapshot] = field(default_factory=list)
    generated: GeneratedSamples | None = None
    checkpoints: list[CheckpointWritten] = field(default_factory=list)
    run_end: FitEnded | None = None  # the run of a sequence that ended with this segment
    # the latest (stage, done, total) of preparing the data (decoding, pretrained features)
    preparing: tuple[str, int, int] | None = None

    def __bool__(self) -> bool:
        return bool(self.preparing or self.run_start or self.started or self.steps or self.epochs
                    or self.attention or self.embeddings or self.generated or self.checkpoints
                    or self.run_end)


class EventBuffer(Callback):
    """Thread-safe hand-over of training events to the GUI."""

    def __init__(self):
        self._lock = threading.Lock()
        self._segments = [Drained()]  # the last one is being filled

    @property
    def _pending(self) -> Drained:
        return self._segments[-1]

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
                self._pending.embeddings.append(event)
            elif isinstance(event, GeneratedSamples):
                self._pending.generated = event

    def on_checkpoint(self, trainer, event):
        with self._lock:
            self._pending.checkpoints.append(event)

    def preparing(self, stage: str, done: int, total: int) -> None:
        """Progress of preparing a run's data, before its trainer exists (latest wins)."""
        with self._lock:
            self._pending.preparing = (stage, done, total)

    def run_started(self, index: int, total: int, cfg) -> None:
        """Run ``index`` of a sequence starts: what follows belongs to a new segment."""
        with self._lock:
            if self._pending:
                self._segments.append(Drained())
            self._pending.run_start = (index, total, cfg)

    def run_ended(self, end: FitEnded) -> None:
        """The current run of a sequence ended: it closes its segment."""
        with self._lock:
            self._pending.run_end = end
            self._segments.append(Drained())

    def drain_segments(self) -> list[Drained]:
        """Everything since the last drain, one non-empty segment per run (in order)."""
        with self._lock:
            out, self._segments = self._segments, [Drained()]
        return [d for d in out if d]

    def drain(self) -> Drained:
        """Everything since the last drain as one batch (for a single run)."""
        segments = self.drain_segments()
        if len(segments) == 1:
            return segments[0]
        out = Drained()
        for d in segments:
            out.preparing = d.preparing or out.preparing
            out.run_start = out.run_start or d.run_start
            out.started = d.started or out.started
            out.steps += d.steps
            out.epochs += d.epochs
            out.checkpoints += d.checkpoints
            out.attention = d.attention or out.attention
            out.embeddings += d.embeddings
            out.generated = d.generated or out.generated
            out.run_end = d.run_end or out.run_end
        return out


class TrainingWorker(QObject):
    """Runs one fit, or a sequence of fits (``sequence``), on the thread it is moved to."""

    ended = Signal(object)  # FitEnded (of the whole sequence, for a sequence)

    def __init__(self, cfg, table, buffer: EventBuffer, *, run_dir: Path | None = None,
                 resume_from: str | None = None, preset: str = "",
                 sequence: list[tuple[object, object]] | None = None):
        super().__init__()
        self.cfg, self.table, self.buffer = cfg, table, buffer
        self.run_dir, self.resume_from, self.preset = run_dir, resume_from, preset
        # [(config, run folder or None or (index, config) -> folder)], in order; None: one fit
        self.sequence = sequence
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
        # Before any torch work on this thread, so torch's worker threads inherit it: the
        # run uses every core, below the GUI thread's priority (``thread_priority``). Never
        # on the main thread: that could not be undone. (get_ident, not current_thread():
        # on a thread Python did not start, that registers a dummy Thread that outlives it.)
        if threading.get_ident() != threading.main_thread().ident:
            lower_current_thread()
        if self.sequence is not None:
            end = self._run_sequence()
        else:
            try:
                end = self._fit(self._trainer(self.cfg, self.run_dir, self.resume_from))
            except StoppedWhilePreparing:
                end = FitEnded("stopped", "stopped by the user while preparing the data",
                               0, 0, {}, 0.0, str(self.run_dir) if self.run_dir else None)
            except Exception as exc:  # building the data or the model failed
                end = _failure(exc, self.run_dir)
        self.end = end
        self.ended.emit(end)
        # Leave the thread's event loop so the controller can join it, even while the GUI
        # thread is blocked waiting (closing the window).
        self.thread().quit()

    def _run_sequence(self) -> FitEnded:
        """Each config in turn. A run that fails while training (a NaN loss, a model that
        cannot be built for this data) is reported in its ``run_ended`` and the next one
        starts; failing to prepare the data or the device ends the sequence: every later run
        would fail the same way."""
        t0 = time.perf_counter()
        paused = 0.0  # the runs' pauses: the sequence's duration leaves them out too
        total = len(self.sequence)
        ends: list[FitEnded] = []
        used: list[Path] = []
        fatal = None
        for index, (cfg, run_dir) in enumerate(self.sequence):
            if self._stop.is_set():
                break
            self.buffer.run_started(index, total, cfg)
            try:
                if callable(run_dir):  # made only now: skipped runs leave no empty folder
                    run_dir = run_dir(index, cfg)
                trainer = self._trainer(cfg, run_dir, None)
            except StoppedWhilePreparing:
                break
            except Exception as exc:
                fatal = _failure(exc, run_dir if not callable(run_dir) else None)
                self.buffer.run_ended(fatal)
                ends.append(fatal)
                break
            if run_dir is not None:
                used.append(Path(run_dir))
            end = self._fit(trainer)
            paused += trainer.clock.paused_seconds
            self.buffer.run_ended(end)
            ends.append(end)
        return _sequence_end(ends, total, fatal, self._stop.is_set(),
                             time.perf_counter() - t0 - paused, used)

    def _trainer(self, cfg, run_dir: Path | None, resume_from: str | None):
        from ..core.data import load_pairs
        from ..core.data import dataset_for
        from ..core.data.streamed import load_streamed, wants_streaming
        from ..core.runs.writer import RunWriter
        from ..core.training.trainer import Trainer

        table = self.table
        if wants_streaming(cfg):  # the training split read from the shards every epoch
            dataset = load_streamed(cfg, progress=self._preparing)
        else:
            if table is None or table.source != cfg.data.source or table.sampled_of or (
                    table.images is not None and
                    table.images.shape[-1] != cfg.preprocess.image_size):
                table = load_pairs(cfg.data, cfg.preprocess.image_size,
                                   progress=self._preparing)
                self.table = table  # decoded once for the whole sequence
            # pretrained features are computed here when the Data panel has not cached
            # them: shown in the training bar, and Stop stops it
            dataset = dataset_for(cfg, table, progress=self._preparing)
        # The run folder is written before the window hears of an event, so what the window
        # reads there on hearing it (the Runs tab: "running", then the final status) is there.
        callbacks = [self.buffer]
        if run_dir is not None:
            callbacks.insert(0, RunWriter(run_dir, cfg, preset=self.preset))
        return Trainer(cfg, dataset, callbacks=callbacks, run_dir=run_dir,
                       resume_from=resume_from)

    def _preparing(self, stage: str, done: int, total: int) -> None:
        if self._stop.is_set():
            raise StoppedWhilePreparing()
        self.buffer.preparing(stage, done, total)

    def _fit(self, trainer) -> FitEnded:
        self.trainer = trainer
        # Flags set before the trainer existed still count.
        if self._pause.is_set():
            trainer.pause()
        if self._stop.is_set():
            trainer.stop()
        return trainer.fit()


class StoppedWhilePreparing(Exception):
    """Raised from the data's progress callback when Stop was pressed before training."""


def _failure(exc: Exception, run_dir: Path | None) -> FitEnded:
    from ..core.errors import WorkbenchError
    reason = str(exc) if isinstance(exc, WorkbenchError) else \
        f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
    return FitEnded("failed", reason, 0, 0, {}, 0.0, str(run_dir) if run_dir else None)


def _sequence_end(ends: list[FitEnded], total: int, fatal: FitEnded | None, stopped: bool,
                  seconds: float, run_dirs: list) -> FitEnded:
    """The one end of a whole sequence: stopped when the user stopped it, failed when it
    could not go on (or every run failed), else finished, even when some run failed."""
    counts = {s: sum(e.status == s for e in ends) for s in ("finished", "failed", "stopped")}
    done = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if stopped:
        status, reason = "stopped", f"stopped by the user after {len(ends)} of {total} runs" \
            + (f" ({done})" if done else "")
    elif fatal is not None:
        status, reason = "failed", fatal.reason
    elif ends and counts["failed"] == len(ends):
        status = "failed"
        reason = f"all {total} runs failed; the first: {ends[0].reason}"
    else:
        status, reason = "finished", f"ran {total} runs ({done})"
    parents = {str(Path(d).parent) for d in run_dirs if d is not None}
    last = ends[-1] if ends else None
    return FitEnded(status, reason, last.epoch if last else 0, last.step if last else 0,
                    {}, seconds, parents.pop() if len(parents) == 1 else None)


class TrainingController(QObject):
    """Starts and controls training runs for the GUI and feeds the views."""

    started = Signal(object)  # FitStarted
    steps_logged = Signal(list)  # list[StepLogged] since the last tick
    epochs_ended = Signal(list)  # list[EpochEnded]
    attention_updated = Signal(object)  # AttentionSnapshot (the latest)
    embeddings_updated = Signal(object)  # EmbeddingSnapshot (each one, in order)
    samples_generated = Signal(object)  # GeneratedSamples (the latest)
    checkpoint_written = Signal(object)  # CheckpointWritten
    finished = Signal(object)  # FitEnded, status "finished"
    failed = Signal(object)  # FitEnded, status "failed"
    stopped = Signal(object)  # FitEnded, status "stopped"
    running_changed = Signal(bool)
    run_started = Signal(int, int, object)  # index, total, ExperimentConfig (start_many only)
    run_ended = Signal(object)  # FitEnded of one run of a start_many sequence
    preparing = Signal(str, int, int)  # stage, done, total: the data before training

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._buffer: EventBuffer | None = None
        self.pacer = FramePacer()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._drain)
        self.paused = False

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, cfg, table, *, run_dir: Path | None = None, resume_from: str | None = None,
              preset: str = "") -> None:
        if self.running:
            raise RuntimeError("a run is already in progress")
        self._launch(TrainingWorker(cfg, table, EventBuffer(), run_dir=run_dir,
                                    resume_from=resume_from, preset=preset))

    def _launch(self, worker: TrainingWorker) -> None:
        self._buffer = worker.buffer
        self._worker = worker
        self._thread = QThread()
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.ended.connect(self._on_ended)
        self.paused = False
        self._thread.start()
        self.pacer.reset()
        self._timer.start(self.pacer.interval_ms)
        self.running_changed.emit(True)

    def start_many(self, configs, table, run_dirs=None, preset: str = "") -> None:
        """Train ``configs`` one after the other on one worker thread (Compare fusions).

        ``run_dirs`` gives each run its folder: a list, None (no run folders), or a function
        ``(index, config) -> Path`` called as each run starts (on the worker thread), so a
        stopped sequence leaves no empty folders for the runs it skipped. Each run reports
        ``run_started``, then the usual ``started``/``steps_logged``/``epochs_ended``/...
        signals, then ``run_ended``; Stop and Pause act on the whole sequence, and one
        ``finished``/``stopped``/``failed`` ends it, last. A run that fails (a NaN loss) is
        reported in its ``run_ended`` and the sequence goes on.
        """
        if self.running:
            raise RuntimeError("a run is already in progress")
        configs = list(configs)
        if not configs:
            raise ValueError("start_many needs at least one config")
        if run_dirs is None or callable(run_dirs):
            run_dirs = [run_dirs] * len(configs)
        run_dirs = list(run_dirs)
        if len(run_dirs) != len(configs):
            raise ValueError(f"{len(run_dirs)} run folders for {len(configs)} configs")
        self._launch(TrainingWorker(None, table, EventBuffer(), preset=preset,
                                    sequence=list(zip(configs, run_dirs))))

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
        for d in self._buffer.drain_segments():
            self._emit_segment(d)
        self._timer.setInterval(self.pacer.next_interval_ms())

    def _emit_segment(self, d: Drained) -> None:
        if d.preparing:
            self.preparing.emit(*d.preparing)
        if d.run_start:
            self.run_started.emit(*d.run_start)
        if d.started:
            self.started.emit(d.started)
        if d.steps:
            self.steps_logged.emit(d.steps)
        if d.epochs:
            self.epochs_ended.emit(d.epochs)
        if d.attention:
            self.attention_updated.emit(d.attention)
        for snap in d.embeddings:
            self.embeddings_updated.emit(snap)
        if d.generated:
            self.samples_generated.emit(d.generated)
        for c in d.checkpoints:
            self.checkpoint_written.emit(c)
        if d.run_end:
            self.run_ended.emit(d.run_end)

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
