"""A sweep off the GUI thread: :class:`SweepController` runs a :class:`SweepRunner` on a
QThread and re-emits its events as Qt signals (queued to the GUI thread).

With one job the trials train on that thread, as a run from the Train button does; with
more they train in worker processes and the thread only relays their events. Pause and stop
are the runner's events, set directly from the GUI thread. After each trial the thread also
reads the study's settings' importances (fANOVA takes a moment; never on the GUI thread).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal, Slot

from .thread_priority import lower_current_thread


@dataclass
class SweepRequest:
    """What the Sweep tab asks for: a new study of ``config`` over ``params`` (``--param``
    items), or, with ``continue_spec``, more trials of an existing study."""

    name: str
    url: str
    trials: int
    jobs: int = 1
    seeds: int = 1
    prune: bool = True
    config: object = None  # ExperimentConfig (a new study)
    params: tuple[str, ...] = ()
    preset: str = ""
    labelled: bool | None = None  # whether the data has labels (None: load it to know)
    continue_spec: object = None  # SweepSpec of the study to continue
    runs_base: str | None = None
    sampler_seed: int | None = None


class _SweepWorker(QObject):
    opened = Signal(object, object)  # SweepSpec, the study's trial rows so far
    event = Signal(object)  # a runner event (dict)
    importances = Signal(object)  # dict: key -> share
    ended = Signal(object)  # summary dict
    failed = Signal(str)

    def __init__(self, request: SweepRequest):
        super().__init__()
        self.request = request
        self.runner = None

    @Slot()
    def run(self) -> None:
        from ..core.errors import WorkbenchError
        lower_current_thread()  # the GUI thread stays responsive when trials train here
        try:
            self._run()
        except WorkbenchError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - said in the window, never a crash
            self.failed.emit(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")

    def _run(self) -> None:
        from ..core import config as C
        from ..core.sweep.analysis import importances, summarize, trial_rows
        from ..core.sweep.runner import SweepOptions, SweepRunner
        from ..core.sweep.space import build_space
        from ..core.sweep.study import SweepSpec

        r = self.request
        spec = r.continue_spec
        if spec is None:
            labelled = r.labelled
            if labelled is None:
                from ..core.data import load_dataset
                labelled = load_dataset(r.config).table.has_labels
            from ..core.sweep.plan import default_metric, direction_for
            metric = default_metric(r.config, labelled)
            spec = SweepSpec(preset=r.preset or "untitled", config=C.to_dict(r.config),
                             space=build_space(list(r.params), r.config), metric=metric,
                             direction=direction_for(metric), seeds=r.seeds,
                             pruner="median" if r.prune else "none")
        opts = SweepOptions(trials=r.trials, jobs=r.jobs, runs_base=r.runs_base,
                            sampler_seed=r.sampler_seed)

        def on_event(event: dict) -> None:
            self.event.emit(event)
            if event["event"] == "ended" and self.runner is not None and \
                    self.runner.study is not None:
                self.importances.emit(importances(self.runner.study))

        self.runner = SweepRunner(spec, r.url, r.name, opts, on_event=on_event)
        study = self.runner.open()
        self.opened.emit(spec, trial_rows(study))
        self.importances.emit(importances(study))
        self.runner.run()
        self.ended.emit(summarize(study, spec))


class SweepController(QObject):
    """Starts, pauses and stops one sweep at a time (GUI thread)."""

    opened = Signal(object, object)
    event = Signal(object)
    importances = Signal(object)
    ended = Signal(object)
    failed = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _SweepWorker | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        runner = self._worker.runner if self._worker else None
        return bool(runner and runner.paused)

    def start(self, request: SweepRequest) -> None:
        if self.running:
            raise RuntimeError("a sweep is running")
        thread = QThread()
        worker = _SweepWorker(request)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        for name in ("opened", "event", "importances", "ended", "failed"):
            getattr(worker, name).connect(getattr(self, name))
        worker.ended.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(self._on_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        if self._worker and self._worker.runner:
            self._worker.runner.pause()

    def resume(self) -> None:
        if self._worker and self._worker.runner:
            self._worker.runner.resume()

    def stop(self) -> None:
        if self._worker and self._worker.runner:
            self._worker.runner.stop()

    def wait(self, ms: int = 60_000) -> bool:
        """Block until the sweep's thread ended (closing the window)."""
        return self._thread.wait(ms) if self._thread is not None else True

    def _on_finished(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.deleteLater()
        self.running_changed.emit(False)
