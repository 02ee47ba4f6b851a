"""One trial of a sweep: its settings from the search space, one ordinary run per seed (each
a run folder tagged with the study and the trial), its value the mean of the runs' final
validation values of the study's metric.

The first seed's run reports its validation value after every epoch to the pruner; a trial
the pruner stops ends there (its other seeds are not run). A trial whose settings the config
refuses (a patch size that does not divide the image size), or whose run fails, is marked
failed with the reason, and the study goes on.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import config as C
from ..errors import WorkbenchError
from ..training.callbacks import Callback
from . import space as S
from .study import SweepSpec, mark_trial_owner

COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"


@dataclass
class Controls:
    """Stop and pause for every trial of a sweep: events another thread (the GUI) or process
    (the sweep's parent) sets. ``threading.Event`` and ``multiprocessing.Event`` both fit.
    ``parent``: the pid whose end means the sweep was killed (a worker process's parent)."""

    stop: Any = field(default_factory=threading.Event)
    pause: Any = field(default_factory=threading.Event)
    parent: int | None = None

    def orphaned(self) -> bool:
        return self.parent is not None and os.getppid() != self.parent


@dataclass
class TrialOutcome:
    number: int
    state: str  # COMPLETE, PRUNED or FAILED
    params: dict[str, Any]
    value: float | None = None
    seed_values: list[float] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0
    epochs: int = 0  # epochs trained, all seeds together
    runs: list[str] = field(default_factory=list)
    test_metrics: dict[str, float] = field(default_factory=dict)  # mean over the seeds
    test_chance: dict[str, float] = field(default_factory=dict)  # the same for every seed
    fatal: bool = False  # every trial would fail so: the study should end

    def to_event(self) -> dict:
        return {"event": "ended", "number": self.number, "state": self.state,
                "params": self.params, "value": self.value, "reason": self.reason,
                "seconds": self.seconds, "epochs": self.epochs, "runs": self.runs}


class _Follow(Callback):
    """Reports the first seed's validation values to the pruner and the sweep's events, and
    passes the sweep's stop and pause on to the trainer."""

    def __init__(self, trial, spec: SweepSpec, seed_index: int, controls: Controls,
                 emit: Callable[[dict], None]):
        self.trial, self.spec, self.seed_index = trial, spec, seed_index
        self.controls, self.emit = controls, emit
        self.pruned_at: int | None = None
        self.missing: list[str] | None = None  # the metric is not among these (the names)
        self._watch: threading.Thread | None = None
        self._done = threading.Event()

    def on_fit_start(self, trainer, event):
        def mirror():  # the sweep's controls, checked a few times a second
            while not self._done.wait(0.05):
                if self.controls.orphaned():
                    trainer.stop("the sweep's process ended")
                elif self.controls.stop.is_set():
                    trainer.stop("the sweep was stopped")
                elif self.controls.pause.is_set():
                    trainer.pause()
                else:
                    trainer.resume()
        self._watch = threading.Thread(target=mirror, daemon=True, name="sweep-controls")
        self._watch.start()

    def on_epoch_end(self, trainer, event):
        if self.spec.metric not in event.val:
            if event.val:  # validated, and the metric is not among its values
                self.missing = sorted(event.val)
                trainer.stop(f"the sweep's metric {self.spec.metric!r} is not reported")
            return
        value = float(event.val[self.spec.metric])
        if self.seed_index:
            return
        self.emit({"event": "epoch", "number": self.trial.number, "epoch": event.epoch,
                   "value": value})
        if not math.isfinite(value):
            return
        self.trial.report(value, event.epoch)
        if self.spec.pruner != "none" and self.trial.should_prune():
            self.pruned_at = event.epoch
            trainer.stop(f"pruned by the sweep (trial {self.trial.number})")

    def on_fit_end(self, trainer, event):
        self._done.set()


def run_trial(trial, spec: SweepSpec, *, study_name: str, storage: str = "",
              controls: Controls | None = None, emit: Callable[[dict], None] = lambda e: None,
              runs_base: str | Path | None = None) -> TrialOutcome:
    """Train ``trial``'s settings once per seed; its outcome (never raises for a failed run)."""
    from ..config import split_seed
    from ..data import load_dataset
    from ..runs.writer import RunWriter, new_run_dir
    from ..training import Trainer

    controls = controls or Controls()
    start = time.monotonic()
    mark_trial_owner(trial)
    params = spec.space.suggest(trial)
    out = TrialOutcome(trial.number, FAILED, params)
    emit({"event": "started", "number": trial.number, "params": params})
    base = spec.base_config()
    try:
        cfg = S.apply(base, params)
    except WorkbenchError as exc:  # the settings together are not a valid config
        out.reason = f"invalid settings: {exc}"
        return _finish(out, start)
    tests: list[dict[str, float]] = []
    for index in range(spec.seeds):
        run_cfg = cfg.copy()
        run_cfg.seed = base.seed + index
        run_cfg.data.split_seed = split_seed(base)  # one split for every trial and seed
        if controls.stop.is_set():
            out.reason = "stopped by the user"
            return _finish(out, start)
        try:
            dataset = load_dataset(run_cfg)
        except WorkbenchError as exc:
            out.reason = f"loading the data failed: {exc}"
            return _finish(out, start)
        label = f"{spec.preset} · {study_name} #{trial.number}"
        # unique per trial and seed: workers starting runs in the same second never collide
        run_dir = new_run_dir(f"{study_name}-t{trial.number}-s{run_cfg.seed}",
                              base=runs_base)
        tag = {"study": study_name, "trial": trial.number, "seed": run_cfg.seed,
               "storage": storage}
        follow = _Follow(trial, spec, index, controls, emit)
        trainer = Trainer(run_cfg, dataset, run_dir=run_dir, callbacks=[
            RunWriter(run_dir, run_cfg, preset=label, sweep=tag), follow])
        end = trainer.fit()
        out.epochs += trainer.epochs_completed
        if run_dir.is_dir():
            out.runs.append(str(run_dir))
        if follow.missing is not None:
            out.reason = (f"the run reports no {spec.metric!r} (its validation values: "
                          f"{', '.join(follow.missing)}); choose one with --metric")
            out.fatal = True
            return _finish(out, start)
        if follow.pruned_at is not None:
            out.state = PRUNED
            out.reason = f"pruned after epoch {follow.pruned_at}"
            return _finish(out, start)
        if end.status == "failed":
            out.reason = f"the run failed: {end.reason.splitlines()[0] if end.reason else ''}"
            return _finish(out, start)
        if end.status == "stopped":
            out.reason = ("the sweep's process ended" if controls.orphaned() else
                          "stopped by the user")
            return _finish(out, start)
        value = end.metrics.get(spec.metric)
        if value is None or not math.isfinite(value):
            out.reason = f"the run ended without a finite {spec.metric} ({value})"
            return _finish(out, start)
        out.seed_values.append(float(value))
        tests.append(dict(end.test_metrics))
        out.test_chance = dict(end.scores.get("test", {}).get("chance", {}))
    out.value = sum(out.seed_values) / len(out.seed_values)
    out.test_metrics = _mean_metrics(tests)
    out.state = COMPLETE
    return _finish(out, start)


def _mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = set.intersection(*(set(r) for r in rows)) if rows else set()
    return {k: sum(r[k] for r in rows) / len(rows) for k in sorted(keys)}


def _finish(out: TrialOutcome, start: float) -> TrialOutcome:
    out.seconds = time.monotonic() - start
    return out


def record(study, trial, out: TrialOutcome) -> None:
    """Tell the study how ``trial`` ended, with what the Sweep tab and the summary show."""
    from optuna.trial import TrialState
    for key, value in (("reason", out.reason), ("seconds", round(out.seconds, 3)),
                       ("epochs", out.epochs), ("runs", out.runs),
                       ("seed_values", out.seed_values), ("test", out.test_metrics),
                       ("test_chance", out.test_chance)):
        trial.set_user_attr(key, value)
    if out.state == COMPLETE:
        study.tell(trial, out.value)
    elif out.state == PRUNED:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)


def best_config(spec: SweepSpec, params: dict[str, Any]) -> C.ExperimentConfig:
    """The base config with a trial's settings (its first seed: the base seed)."""
    return S.apply(spec.base_config(), params)
