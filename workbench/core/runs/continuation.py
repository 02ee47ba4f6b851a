"""Continuing a run from its checkpoint: a copy of its folder (or the folder itself) cut back
to the checkpoint, its learning-rate schedule re-planned for the new number of epochs, and a
run.json marked ``continuing`` that :class:`~.writer.RunWriter` picks up."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import config as C
from ..errors import ConfigError
from .ownership import cut_back
from .store import RunError, RunInfo, copy_atomically, load_run, read_run
from .writer import write_json


@dataclass
class Continuation:
    """How to train a run further: ``config`` is its config.toml with ``training.epochs``
    raised to ``from_epoch`` + the extra epochs. Call :meth:`prepare`, then train ``config``
    into ``run_dir`` with ``resume_from=checkpoint``. ``run_dir`` is a new folder
    ``<id>-continued`` by default, so the original stays as it was, or the run's own folder
    when ``in_place``. ``checkpoint`` is the run's; after ``prepare``, the copy in ``run_dir``
    with the learning-rate schedule re-planned for the new number of epochs."""

    source: RunInfo
    config: C.ExperimentConfig
    checkpoint: Path
    from_epoch: int  # epochs the checkpoint has completed
    from_step: int
    run_dir: Path
    in_place: bool

    @property
    def epochs(self) -> int:
        return self.config.training.epochs

    def prepare(self) -> Path:
        """Make ``run_dir``: the run's files as they were at the checkpoint (curves and
        snapshots of later epochs, from a run that failed after it, are dropped) and a
        run.json marked ``continuing`` that :class:`RunWriter` picks up."""
        if self.in_place:
            self._edit(self.run_dir)
        elif self.run_dir.exists():
            raise RunError(f"{self.run_dir} already exists")
        else:
            copy_atomically(self.source.path, self.run_dir, self._edit)
        self.checkpoint = self.run_dir / "checkpoints" / "last.pt"
        return self.run_dir

    def _edit(self, folder: Path) -> None:
        metrics = cut_back(folder, self.from_epoch, self.from_step)
        replan_schedule(folder / "checkpoints" / "last.pt", self.config)
        seconds = float(metrics[-1].get("seconds") or 0.0) if metrics else 0.0
        summary = dict(self.source.summary)
        summary.update(
            id=self.run_dir.name, status="continuing",
            reason=f"continuing from epoch {self.from_epoch} (step {self.from_step})",
            epochs=self.epochs, epochs_done=self.from_epoch, steps=self.from_step,
            seconds=seconds, checkpoint=str(self.run_dir / "checkpoints" / "last.pt"),
            pid=os.getpid(), host=socket.gethostname(),
            continuation={"from": self.source.id, "epoch": self.from_epoch,
                          "step": self.from_step, "seconds": seconds,
                          "in_place": self.in_place})
        if not self.in_place:
            summary["created"] = datetime.now().isoformat(timespec="seconds")
        write_json(folder / "run.json", summary)


def continue_run(run: RunInfo | str | Path, extra_epochs: int, *, in_place: bool = False
                 ) -> Continuation:
    """What continuing ``run`` for ``extra_epochs`` more epochs needs (nothing is written
    until :meth:`Continuation.prepare`). Raises RunError, CheckpointError or ConfigError."""
    from ..training.checkpoint import load_checkpoint

    info = read_run(run.path) if isinstance(run, RunInfo) else load_run(run)
    if isinstance(extra_epochs, bool) or not isinstance(extra_epochs, int) or extra_epochs < 1:
        raise RunError(f"extra epochs: got {extra_epochs!r}, expected a whole number >= 1")
    if info.status == "running":
        raise RunError(f"{info.id} is still training; continue it once it has ended")
    if info.checkpoint is None:
        raise RunError(f"{info.id} has no checkpoint to continue from (checkpoints/last.pt): "
                       "it ended before writing one")
    ckpt = load_checkpoint(info.checkpoint)
    epoch, step = int(ckpt["epoch"]), int(ckpt["step"])
    try:
        cfg = C.load(info.path / "config.toml")
    except ConfigError:
        cfg = C.from_dict(ckpt["config"])  # what trained, as the checkpoint recorded it
    cfg = C.apply_overrides(cfg, [f"training.epochs={epoch + extra_epochs}"])
    return Continuation(info, cfg, info.checkpoint, epoch, step,
                        info.path if in_place else _free_name(info.path), in_place)


def replan_schedule(path: Path, cfg: C.ExperimentConfig) -> bool:
    """Set a checkpoint's learning rates to what ``cfg``'s schedule gives at its epoch.

    A learning-rate schedule spans the planned epochs: at the end of a cosine schedule the
    rate is 0, so continuing without this would train the first extra epoch at rate 0. With
    it, the run goes on as if it had been planned for the new number of epochs. Returns
    whether the file changed (never for a constant schedule).
    """
    from ..training.checkpoint import load_checkpoint, save_checkpoint
    from ..training.optim import lr_factor

    ckpt = load_checkpoint(path)
    changed = False
    for group in ckpt["optim"].values():
        scheduler = group["scheduler"]
        factor = lr_factor(cfg.optimizer, cfg.training.epochs, int(scheduler["last_epoch"]))
        rates = [base * factor for base in scheduler["base_lrs"]]
        for params, rate in zip(group["optimizer"]["param_groups"], rates):
            changed |= params["lr"] != rate
            params["lr"] = rate
        scheduler["_last_lr"] = rates
    if changed:
        save_checkpoint(path, model_state=ckpt["model"], optim_state=ckpt["optim"],
                        epoch=ckpt["epoch"], step=ckpt["step"], config=ckpt["config"],
                        info=ckpt["info"], vocab=ckpt["vocab"], rng=ckpt["rng"],
                        best=ckpt.get("best"))
    return changed


def _free_name(path: Path) -> Path:
    stem = re.sub(r"-continued(-\d+)?$", "", path.name) + "-continued"
    for n in range(1, 1000):
        candidate = path.with_name(stem + (f"-{n}" if n > 1 else ""))
        if not candidate.exists():
            return candidate
    raise RunError(f"cannot find a free folder name beside {path}")
