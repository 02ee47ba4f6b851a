"""Writing a run folder while it trains (:class:`RunWriter`, a Trainer callback); the
folder's layout is in :mod:`workbench.core.runs`.

Every whole-file write is atomic; the JSON-lines files are appended and flushed per epoch, so
a crash loses at most the steps of the current epoch. When the run ends, run.json records
how the model it hands over scored (:func:`final_summary`).

Reading, listing, deleting and copying run folders is :mod:`.store`; continuing a run from
its checkpoint is :mod:`.continuation`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .. import config as C
from ..atomic import atomic_write, atomic_write_bytes
from ..errors import WorkbenchError
from ..paths import runs_dir
from ..training.callbacks import Callback
from .ownership import RunLock, cut_back
from ..evaluation.attention_stats import snapshot_stats
from .snapshot_files import attention_arrays
from ..training.events import (AttentionSnapshot, EmbeddingSnapshot, EpochEnded, FitEnded,
                              FitStarted, GeneratedSamples, StepLogged)


def new_run_dir(name: str, base: str | Path | None = None) -> Path:
    """A fresh, unused path ``<base>/<date>-<time>-<name>`` (base: the user runs folder),
    checked writable but not created: :class:`RunWriter` makes the folder when the fit
    starts, once the data and the config have been accepted, so a run refused before
    training leaves no folder behind."""
    base = check_writable(Path(base) if base is not None else runs_dir())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = base / (f"{stamp}-{slug}" + (f"-{n}" if n else ""))
        if not path.exists():
            return path
    raise RuntimeError(f"cannot find a free run folder name under {base}")


def check_writable(folder: str | Path) -> Path:
    """``folder``, when a run folder can be written there (it, or the nearest folder above
    it that exists, is a writable folder); else a :class:`WorkbenchError` saying why. Creates
    nothing."""
    folder = Path(folder).expanduser()
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise WorkbenchError(f"cannot write a run folder at {folder}: {existing} is a file, "
                             "not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise WorkbenchError(f"cannot write a run folder at {folder}: {existing} is not "
                             "writable")
    return folder


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
                 data_summary: dict | None = None, sweep: dict | None = None):
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
                        **({"data_summary": data_summary} if data_summary else {}),
                        # a sweep's trial: {"study", "trial", "seed", "storage"}
                        **({"sweep": sweep} if sweep else {})}
        self._steps = None
        self._metrics = None
        # A folder that exists (a continuation's, an --out folder) is written to whatever
        # happens; a new one only once the fit starts, and run.json records the end only
        # where it was made: a fit refused before it starts leaves nothing.
        self._existed = self.dir.is_dir()
        self._writing = self._existed
        self.lock = RunLock(self.dir)

    def on_fit_start(self, trainer, event: FitStarted) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=self._existed)
        except FileExistsError:  # another run took the name since it was chosen
            raise WorkbenchError(f"{self.dir}: another run made this folder since its name "
                                 "was chosen; start again") from None
        try:
            self.lock.acquire()  # before anything is written: the folder is this run's
        except WorkbenchError:
            self._writing = False  # another run's folder: not a byte of it is touched
            raise
        self._writing = True
        if trainer.resume_from is not None and not self.continuation:
            # Resumed into a folder that may have logged past its checkpoint (killed after
            # it): cut back to the checkpoint, so no epoch is logged twice. (A continuation
            # was cut back when it was prepared.)
            cut_back(self.dir, event.start_epoch - 1, trainer.step)
        C.save(self.cfg, self.dir / "config.toml")
        self.summary.update(epochs=event.epochs, device=event.device,
                            parameters=event.parameters, train_size=event.train_size,
                            val_size=event.val_size, start_epoch=event.start_epoch,
                            epoch_pairs=event.epoch_pairs,
                            # how the data was split and sampled (streamed: from which shards,
                            # the vocabulary's sample, not stratified), as the run's start said
                            data_notes=list(event.split_notes))
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
            self._attention_stats(event)
        elif isinstance(event, GeneratedSamples) and (event.images is not None
                                                      or event.captions):
            arrays = {"images": event.images} if event.images is not None else {}
            if event.captions:  # feature space: each sample's nearest real caption
                arrays["nearest_captions"] = np.array(event.captions, dtype=str)
            if event.nearest:
                arrays["images_are_nearest_real"] = np.array(True)
            _write_npz(folder / f"generated-e{event.epoch:04d}.npz", arrays)

    def _attention_stats(self, event: AttentionSnapshot) -> None:
        """How far the probes' attention is from uniform (``attention_stats.snapshot_stats``):
        a line per snapshot in ``attention_stats.jsonl``, the latest in run.json."""
        stats = snapshot_stats(event)
        if not stats:
            return
        line = {"epoch": event.epoch, "step": event.step, "probes": len(event.probes), **stats}
        with open(self.dir / "attention_stats.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        self.summary["attention_stats"] = line

    def on_fit_end(self, trainer, event: FitEnded) -> None:
        try:
            self._end(trainer, event)
        finally:
            self.lock.release()

    def _end(self, trainer, event: FitEnded) -> None:
        if not self._writing or (not self.lock.held and self.lock.holder() is not None):
            return  # refused before it started (no folder was made), or another run's folder
        for fh in (self._steps, self._metrics):
            if fh is not None:
                fh.close()
        c = self.continuation
        done = trainer.epochs_completed
        if c and event.step < c.get("step", 0):
            # failed before the checkpoint was loaded: the folder still holds what it held,
            # scores included
            event = FitEnded(event.status, event.reason, c.get("epoch", 0), c["step"],
                             event.metrics or self.summary.get("metrics") or {},
                             event.seconds, event.run_dir,
                             event.checkpoint or self.summary.get("checkpoint"))
            done = event.epoch
        else:
            self.summary.update(final_summary(event))
        self.summary.update(status=event.status, reason=event.reason,
                            epochs_done=done, steps=event.step,
                            seconds=round(self._offset + event.seconds, 3),
                            metrics=event.metrics, checkpoint=event.checkpoint)
        self._write_summary()

    def _write_summary(self) -> None:
        write_json(self.dir / "run.json", self.summary)


def final_summary(end: FitEnded) -> dict:
    """What run.json keeps of how the handed-over model scored: ``test_metrics``, every
    split's ``scores`` (with chance levels), ``health``, ``warnings``, ``primary`` and, with
    ``training.keep_best``, ``best_epoch`` and ``best_checkpoint``."""
    return {"primary": end.primary, "test_metrics": end.test_metrics, "scores": end.scores,
            "health": end.health, "warnings": end.warnings, "best_epoch": end.best_epoch,
            "best_checkpoint": end.best_checkpoint}


def _write_npz(path: Path, arrays: dict) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    atomic_write(path, write)


def _continuing_summary(folder: Path) -> dict:
    """The run.json that :meth:`Continuation.prepare` left in ``folder``, else {}."""
    try:
        raw = json.loads((folder / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    ok = isinstance(raw, dict) and raw.get("status") == "continuing" \
        and isinstance(raw.get("continuation"), dict)
    return raw if ok else {}
