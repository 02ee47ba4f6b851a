"""Run folders: what a training run leaves behind, written by a callback as it goes.

::

    <run>/config.toml        the resolved config (a preset that reproduces the run)
    <run>/run.json           summary: status, algorithm, fusion, data, metrics, duration
    <run>/metrics.jsonl      one line per epoch: train losses, validation losses and metrics
    <run>/steps.jsonl        one line per step: every loss term
    <run>/checkpoints/last.pt
    <run>/snapshots/embeddings-e0003.npz, attention-e0003.npz, generated-e0003.npz

Every whole-file write is atomic; the JSON-lines files are appended and flushed per epoch, so
a crash loses at most the steps of the current epoch.

Reading, listing, deleting and exporting run folders is :mod:`workbench.core.run_store`
(re-exported here); continuing a run from its checkpoint is :func:`continue_run` below.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from . import config as C
from .atomic import atomic_write, atomic_write_bytes
from .errors import ConfigError
from .paths import runs_dir
from .run_store import (RunError, RunInfo, check_run_folder, copy_atomically,  # noqa: F401
                        delete_run, export_run, list_runs, load_run, read_metrics, read_run,
                        read_steps)
from .snapshot_files import attention_arrays
from .training.callbacks import Callback
from .training.events import (AttentionSnapshot, EmbeddingSnapshot, EpochEnded, FitEnded,
                              FitStarted, GeneratedSamples, StepLogged)


def new_run_dir(name: str, base: str | Path | None = None) -> Path:
    """A fresh, unique folder ``<base>/<date>-<time>-<name>`` (base: the user runs folder)."""
    base = Path(base) if base is not None else runs_dir()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = base / (f"{stamp}-{slug}" + (f"-{n}" if n else ""))
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a run folder under {base}")


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, default=_json_default,
                                        ensure_ascii=False).encode("utf-8"))


class RunWriter(Callback):
    """Writes the run folder for one fit.

    A folder that :meth:`Continuation.prepare` made (run.json status ``continuing``) is
    continued: its summary is kept, and times go on from where the earlier fit left them.
    """

    def __init__(self, run_dir: str | Path, cfg: C.ExperimentConfig, *, preset: str = "",
                 data_summary: dict | None = None):
        self.dir = Path(run_dir)
        self.cfg = cfg
        prior = _continuing_summary(self.dir)
        self.continuation: dict = prior.get("continuation", {})
        self._offset = float(self.continuation.get("seconds", 0.0))
        created = prior.get("created") if self.continuation.get("in_place") else None
        self.summary = {**prior,
                        "id": self.dir.name,
                        "created": created or datetime.now().isoformat(timespec="seconds"),
                        "preset": preset or prior.get("preset", ""),
                        "algorithm": cfg.algorithm.name,
                        "fusion": cfg.fusion.name, "data": cfg.data.source,
                        "description": cfg.description, "status": "running",
                        # who writes it: a "running" run whose process is gone was interrupted
                        "pid": os.getpid(), "host": socket.gethostname(),
                        **({"data_summary": data_summary} if data_summary else {})}
        self._steps = None
        self._metrics = None

    def on_fit_start(self, trainer, event: FitStarted) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        C.save(self.cfg, self.dir / "config.toml")
        self.summary.update(epochs=event.epochs, device=event.device,
                            parameters=event.parameters, train_size=event.train_size,
                            val_size=event.val_size, start_epoch=event.start_epoch)
        self._write_summary()
        self._steps = open(self.dir / "steps.jsonl", "a", encoding="utf-8")
        self._metrics = open(self.dir / "metrics.jsonl", "a", encoding="utf-8")
        self._t0 = time.time()

    def on_step_end(self, trainer, event: StepLogged) -> None:
        self._steps.write(json.dumps({"step": event.step, "epoch": event.epoch,
                                      "losses": event.losses, "lr": event.lr,
                                      "seconds": round(self._offset + event.seconds, 3)})
                          + "\n")

    def on_epoch_end(self, trainer, event: EpochEnded) -> None:
        self._metrics.write(json.dumps({"epoch": event.epoch, "step": event.step,
                                        "seconds": round(self._offset + event.seconds, 3),
                                        "lr": event.lr,
                                        "train": event.train, "val": event.val}) + "\n")
        self._steps.flush()
        self._metrics.flush()

    def on_snapshot(self, trainer, event) -> None:
        folder = self.dir / "snapshots"
        if isinstance(event, EmbeddingSnapshot):
            arrays = {"index": event.index}
            for key in ("text", "image", "fused"):
                if getattr(event, key) is not None:
                    arrays[key] = getattr(event, key)
            if event.labels is not None:
                arrays["labels"] = event.labels
            arrays["label_names"] = np.array(event.label_names, dtype=str)
            _write_npz(folder / f"embeddings-e{event.epoch:04d}.npz", arrays)
        elif isinstance(event, AttentionSnapshot):
            _write_npz(folder / f"attention-e{event.epoch:04d}.npz", attention_arrays(event))
        elif isinstance(event, GeneratedSamples) and event.images is not None:
            _write_npz(folder / f"generated-e{event.epoch:04d}.npz", {"images": event.images})

    def on_fit_end(self, trainer, event: FitEnded) -> None:
        for fh in (self._steps, self._metrics):
            if fh is not None:
                fh.close()
        c = self.continuation
        done = trainer.epochs_completed
        if c and event.step < c.get("step", 0):
            # failed before the checkpoint was loaded: the folder still holds what it held
            event = FitEnded(event.status, event.reason, c.get("epoch", 0), c["step"],
                             event.metrics or self.summary.get("metrics") or {},
                             event.seconds, event.run_dir,
                             event.checkpoint or self.summary.get("checkpoint"))
            done = event.epoch
        self.summary.update(status=event.status, reason=event.reason,
                            epochs_done=done, steps=event.step,
                            seconds=round(self._offset + event.seconds, 3),
                            metrics=event.metrics, checkpoint=event.checkpoint)
        self._write_summary()

    def _write_summary(self) -> None:
        write_json(self.dir / "run.json", self.summary)


def _write_npz(path: Path, arrays: dict) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    atomic_write(path, write)


# ---------------------------------------------------------------- continuing a run

def _continuing_summary(folder: Path) -> dict:
    """The run.json that :meth:`Continuation.prepare` left in ``folder``, else {}."""
    try:
        raw = json.loads((folder / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    ok = isinstance(raw, dict) and raw.get("status") == "continuing" \
        and isinstance(raw.get("continuation"), dict)
    return raw if ok else {}


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
        metrics = [m for m in read_metrics(folder) if _count(m, "epoch") <= self.from_epoch]
        steps = [m for m in read_steps(folder) if _count(m, "step") <= self.from_step]
        for name, lines in (("metrics.jsonl", metrics), ("steps.jsonl", steps)):
            atomic_write_bytes(folder / name, "".join(json.dumps(x) + "\n" for x in lines)
                               .encode("utf-8"))
        for snap in (folder / "snapshots").glob("*-e*.npz"):
            epoch = re.search(r"-e(\d+)\.npz$", snap.name)
            if epoch and int(epoch.group(1)) > self.from_epoch:
                snap.unlink()
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
    from .training.checkpoint import load_checkpoint

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
    from .training.checkpoint import load_checkpoint, save_checkpoint
    from .training.optim import lr_factor

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
                        info=ckpt["info"], vocab=ckpt["vocab"], rng=ckpt["rng"])
    return changed


def _free_name(path: Path) -> Path:
    stem = re.sub(r"-continued(-\d+)?$", "", path.name) + "-continued"
    for n in range(1, 1000):
        candidate = path.with_name(stem + (f"-{n}" if n > 1 else ""))
        if not candidate.exists():
            return candidate
    raise RunError(f"cannot find a free folder name beside {path}")


def _count(line: dict, key: str) -> float:
    """A JSON line's epoch or step; a line without one counts as past the checkpoint."""
    value = line.get(key)
    return value if isinstance(value, int) else float("inf")
