"""Running a sweep: trials asked of the study, trained, and told back, in this process or in
``jobs`` worker processes that share the study's storage.

Several trials at once run in separate processes, not threads: training holds the
interpreter lock for much of a step (Python between the kernels), so two training threads
mostly take turns. Each worker process gets cores ÷ jobs torch threads. The workers draw
trials from one shared budget, so ``trials`` more trials run in all, never one too many;
stop and pause reach every worker through shared events; a worker whose parent was killed
stops its trial, records it failed and ends (kill -9 leaves nothing running).

Events (plain dicts, from any thread): ``{"event": "started", number, params}``,
``{"event": "epoch", number, epoch, value}`` (the first seed's validation value),
``{"event": "ended", number, state, value, params, reason, seconds, epochs, runs}``,
``{"event": "lost", numbers}`` (trials of a killed sweep, marked failed at the start) and
``{"event": "error", message}`` (a worker that could not go on).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError
from .study import (SweepSpec, fail_lost_trials, open_storage,
                    open_study, optuna_module)
from .trial import FAILED, Controls, TrialOutcome, record, run_trial


@dataclass
class SweepOptions:
    trials: int  # this many more trials
    timeout: float | None = None  # seconds after which no new trial starts
    jobs: int = 1  # trials at once (processes)
    sampler_seed: int | None = None
    grid: bool = False
    runs_base: str | None = None  # where trials' run folders go (None: the user runs folder)

    def check(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"got {self.trials}, expected at least 1 trial", key="--trials")
        if self.jobs < 1:
            raise ConfigError(f"got {self.jobs}, expected at least 1", key="--jobs")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"got {self.timeout}, expected seconds above 0", key="--timeout")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    return max(1, cores() // max(1, jobs))


def make_sampler(spec: SweepSpec, opts: SweepOptions, worker: int = 0):
    optuna = optuna_module()
    seed = None if opts.sampler_seed is None else opts.sampler_seed + worker
    if opts.grid:
        if not spec.space.is_grid():
            raise ConfigError("--grid needs every --param to be a list (A,B,C); "
                              + ", ".join(d.key for d in spec.space.dimensions
                                          if d.kind != "categorical") + " is a range",
                              key="--grid")
        return _grid_sampler(optuna)(spec.space.grid(), seed=seed)
    # constant_liar: trials running at once are told apart (else parallel workers ask TPE
    # for the same point while neither has a value yet)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=opts.jobs > 1)


def _grid_sampler(optuna):
    class AskTellGrid(optuna.samplers.GridSampler):
        """Optuna's grid sampler, for ask-and-tell: the stock one ends the study from
        ``after_trial`` with ``Study.stop``, which only works inside ``Study.optimize``;
        the trial loop asks ``is_exhausted`` itself before each trial."""

        def after_trial(self, study, trial, state, values) -> None:
            pass

    return AskTellGrid


def make_pruner(spec: SweepSpec):
    optuna = optuna_module()
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=spec.prune_startup_trials,
                                       n_warmup_steps=spec.prune_warmup())


def trial_loop(url: str, study_name: str, spec: SweepSpec, opts: SweepOptions, budget,
               deadline: float | None, controls: Controls, emit: Callable[[dict], None],
               worker: int = 0) -> None:
    """Ask, train and tell trials until the budget, the deadline, the grid or a stop ends
    them (each worker process runs one of these; a one-job sweep runs it in place)."""
    optuna = optuna_module()
    storage = open_storage(url)
    sampler = make_sampler(spec, opts, worker)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler,
                              pruner=make_pruner(spec))
    while True:
        while controls.pause.is_set() and not controls.stop.is_set():
            controls.stop.wait(0.1)
        if controls.stop.is_set() or controls.orphaned():
            return
        if deadline is not None and time.time() >= deadline:
            return
        if opts.grid and sampler.is_exhausted(study):
            return
        with budget.get_lock():
            if budget.value <= 0:
                return
            budget.value -= 1
        trial = study.ask()
        try:
            out = run_trial(trial, spec, study_name=study_name, storage=url,
                            controls=controls, emit=emit, runs_base=opts.runs_base)
        except Exception as exc:  # noqa: BLE001 - a trial's failure must not end the study
            out = TrialOutcome(trial.number, FAILED, dict(trial.params),
                               reason=f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
        record(study, trial, out)
        emit(out.to_event())
        if out.fatal:  # every trial would fail the same way (no such metric): end the study
            emit({"event": "error", "message": out.reason})
            controls.stop.set()
            return


def _worker_main(url, study_name, spec_json, opts, budget, deadline, stop, pause, parent,
                 events, worker) -> None:
    """A worker process: one trial loop with cores ÷ jobs torch threads."""
    import torch
    torch.set_num_threads(threads_per_job(opts.jobs))
    controls = Controls(stop=stop, pause=pause, parent=parent)
    try:
        trial_loop(url, study_name, SweepSpec.from_json(spec_json), opts, budget, deadline,
                   controls, events.put, worker)
    except Exception as exc:  # noqa: BLE001 - said by the parent, which goes on with the rest
        events.put({"event": "error", "message": f"worker {worker}: {exc}"})


class _Budget:
    """The trials left to start, for one process (``multiprocessing.Value``'s interface)."""

    def __init__(self, value: int):
        self.value = value
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


class SweepRunner:
    """Runs ``opts.trials`` more trials of the study ``name`` in the storage ``url``.

    :meth:`run` blocks (call it from a worker thread in the GUI); :meth:`stop`,
    :meth:`pause` and :meth:`resume` may be called from any thread. ``on_event`` gets every
    event (see the module docstring) on the thread that called :meth:`run`, or on the
    training thread for a one-job sweep."""

    def __init__(self, spec: SweepSpec, url: str, name: str, opts: SweepOptions, *,
                 on_event: Callable[[dict], None] | None = None):
        opts.check()
        self.spec, self.url, self.name, self.opts = spec, url, name, opts
        self._on_event = on_event or (lambda e: None)
        self.errors: list[str] = []  # what ended workers or the study early
        self.stopped = False  # stop() was called
        # Several jobs share events and the budget between processes ("spawn": fork would
        # copy torch's threads and locks); one job needs no process machinery (nor its
        # resource tracker, which outlives a killed sweep).
        self._ctx = mp.get_context("spawn") if opts.jobs > 1 else None
        self._stop = self._ctx.Event() if self._ctx else threading.Event()
        self._pause = self._ctx.Event() if self._ctx else threading.Event()
        self.study = None

    def on_event(self, event: dict) -> None:
        if event["event"] == "error":
            self.errors.append(event["message"])
        self._on_event(event)

    def stop(self) -> None:
        """Stop now: running trials end (marked failed, "stopped by the user")."""
        self.stopped = True
        self._stop.set()

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def open(self):
        """The study, opened (or made) and checked, its lost trials marked failed."""
        storage = open_storage(self.url)
        make_sampler(self.spec, self.opts)  # a --grid over ranges, refused before anything
        study = open_study(storage, self.name, self.spec)
        lost = fail_lost_trials(study)
        if lost:
            self.on_event({"event": "lost", "numbers": lost})
        self.study = study
        return study

    def run(self) -> dict:
        """Run the trials; the study's summary (:func:`summarize`)."""
        study = self.study or self.open()
        deadline = time.time() + self.opts.timeout if self.opts.timeout else None
        budget = self._ctx.Value("i", self.opts.trials) if self._ctx else \
            _Budget(self.opts.trials)
        if self._ctx is None:
            trial_loop(self.url, self.name, self.spec, self.opts, budget, deadline,
                       Controls(self._stop, self._pause), self.on_event)
        else:
            self._run_workers(budget, deadline)
        from .analysis import summarize
        return summarize(study, self.spec)

    def _run_workers(self, budget, deadline) -> None:
        events = self._ctx.Queue()
        workers = [self._ctx.Process(
            target=_worker_main, name=f"sweep-worker-{i}", daemon=True,
            args=(self.url, self.name, self.spec.to_json(), self.opts, budget, deadline,
                  self._stop, self._pause, os.getpid(), events, i))
            for i in range(self.opts.jobs)]
        for w in workers:
            w.start()
        try:
            while True:
                try:
                    self.on_event(events.get(timeout=0.1))
                    continue
                except queue_mod.Empty:
                    pass
                if not any(w.is_alive() for w in workers):
                    break
            while True:  # what the workers put just before they ended
                try:
                    self.on_event(events.get_nowait())
                except queue_mod.Empty:
                    break
        finally:
            if any(w.is_alive() for w in workers):  # interrupted here: end the trials too
                self._stop.set()
            for w in workers:
                w.join(timeout=30)
                if w.is_alive():
                    w.kill()

