"""``workbench train PRESET``: train from the command line, with the GUI's engine."""

from __future__ import annotations

import json
import os
import sys
import time

from ..core.training.callbacks import Callback
from ..core.training.clock import EpochPace, Throughput, eta_seconds, fit_fraction, rate_text
from .common import (StageProgress, StopOnInterrupt, add_config_arguments,
                     config_from_arguments, fail, skipped_lines)

# The metrics shown on each epoch line, when the run has them.
SKIPPED_SHOWN = 20  # skipped rows listed before the run starts; data inspect lists all
HEADLINE = ("accuracy", "macro_f1", "mean_recall", "t2i_r1", "t2i_r10", "i2t_r10",
            "t2i_median_rank", "i2t_median_rank", "recon_error_image", "d_real", "d_fake")


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a preset from the command line",
                       description="Train PRESET (a built-in or user preset name, or a TOML "
                       "file). Progress and one line per epoch go to stderr; the run folder "
                       "(config, metrics, checkpoints, embeddings) is written under the user "
                       "data folder or --out. Started by torchrun (e.g. torchrun "
                       "--nproc_per_node=2 -m workbench train PRESET), it trains data-parallel "
                       "across the processes; batch_size is then the global batch, split "
                       "between them, and only rank 0 prints and writes the run folder.")
    add_config_arguments(p)
    p.add_argument("--out", metavar="DIR", help="write the run folder here")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue from a checkpoint (a run's checkpoints/last.pt); with --out "
                   "its own run folder, that folder's curves are cut back to the checkpoint "
                   "and go on from there")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run folder at --out (refused for a folder that is not a "
                   "run folder); without it a non-empty --out is refused")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the final metrics on stdout")
    p.set_defaults(run=run_train)


def run_train(args) -> int:
    from ..core.errors import WorkbenchError
    from ..core.training import distributed

    main = distributed.env_rank() == 0  # under torchrun, only rank 0 reports
    try:
        cfg = config_from_arguments(args)
        if distributed.launched():
            # Refused before any process loads data or joins the group.
            problem = distributed.refusal(cfg.algorithm.name)
            if problem:
                raise WorkbenchError(problem)
        ctx = distributed.setup(cfg.device, cfg.training.dist_timeout)
        try:
            code = _train(cfg, args, ctx)
        finally:
            distributed.teardown()
        if ctx is not None:
            _exit_now(code)
        return code
    except WorkbenchError as exc:
        return fail(exc) if main else 1


def _exit_now(code: int) -> None:
    """End a torchrun process without the interpreter's shutdown. Everything is written and
    the group is gone, but gloo's threads can still hold tensors whose release at shutdown
    aborts the process ("terminate called without an active exception", exit -6) about one
    run in ten here, and torchrun then fails the whole run."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _train(cfg, args, ctx=None) -> int:
    """Train; ``ctx`` is this process's place in a torchrun group (None: one process)."""
    from pathlib import Path

    from ..core.data import load_dataset
    from ..core.presets import load_preset
    from ..core.runs.naming import preset_label, run_name, same_config
    from ..core.paths import runs_dir
    from ..core.runs.ownership import check_out_folder
    from ..core.runs.writer import RunWriter, check_writable, new_run_dir
    from ..core.training import Trainer
    from ..core.training.distributed import main_first

    main = ctx is None or ctx.is_main
    if main:  # refused before the data loads; the run folder itself is made when training starts
        check_writable(Path(args.out) if args.out else runs_dir())
        if args.out:  # a run folder belongs to one run
            check_out_folder(args.out, resume_from=args.resume, overwrite=args.overwrite)
    if args.resume:  # a missing or damaged checkpoint, said before minutes of data loading
        from ..core.training.checkpoint import load_checkpoint
        load_checkpoint(args.resume)
    with main_first():  # rank 0 fills the image cache, the others then read it
        dataset = load_dataset(cfg, progress=StageProgress() if main else None)
    skipped = dataset.table.skipped
    if main and skipped:  # data.on_error = skip: say what training goes ahead without
        print(f"skipped {len(skipped)} row{'s' if len(skipped) != 1 else ''} of "
              f"{cfg.data.source}:", file=sys.stderr)
        for line in skipped_lines([p.to_dict() for p in skipped], SKIPPED_SHOWN):
            print(line, file=sys.stderr)
    if not main:
        # Same steps as rank 0, nothing written or printed: rank 0 reports for the group.
        trainer = Trainer(cfg, dataset, resume_from=args.resume)
        with StopOnInterrupt(trainer, quiet=True, escalate=False):
            end = trainer.fit()
        if end.status == "failed":  # a failure of this rank alone would otherwise be silent
            print(f"error (rank {ctx.rank}): {end.reason}", file=sys.stderr)
            return 1
        return 0 if end.status == "finished" else 130
    name = Path(args.preset).stem if args.preset.endswith(".toml") else args.preset
    # Named after what trains: the preset's name only when no option changed its settings.
    unchanged = same_config(cfg, load_preset(args.preset))
    run_dir = Path(args.out) if args.out else \
        new_run_dir(run_name(cfg, name, unchanged=unchanged))
    callbacks = [RunWriter(run_dir, cfg, preset=preset_label(name, unchanged=unchanged)),
                 ProgressPrinter()]
    trainer = Trainer(cfg, dataset, callbacks=callbacks, run_dir=run_dir,
                      resume_from=args.resume)
    with StopOnInterrupt(trainer, escalate=ctx is None):
        end = trainer.fit()
    if args.json:
        result = {"algorithm": cfg.algorithm.name, "fusion": cfg.fusion.name,
                  "epochs": end.epoch, "status": end.status,
                  # None: refused before training, so no folder was made
                  "run_dir": str(run_dir) if run_dir.is_dir() else None,
                  "seconds": round(end.seconds, 3), "metrics": end.metrics,
                  **scores_json(end), "processes": ctx.world_size if ctx else 1,
                  # the last attention snapshot's figures ({} without attention maps)
                  "attention_stats": callbacks[0].summary.get("attention_stats", {})}
        if trainer.grad_sync is not None:
            result["gradient_sync"] = trainer.grad_sync.name
        if trainer.model is not None and end.status != "failed":
            cm = trainer.model.confusion_matrix(dataset, "val", device=trainer.device)
            if cm is not None:
                result["confusion_matrix"] = {"labels": dataset.label_names, "matrix": cm}
        print(json.dumps(result))
    if end.status == "failed":
        print(f"error: {end.reason}", file=sys.stderr)
        return 1
    for line in score_lines(end):
        print(line, file=sys.stderr)
    print(f"{end.status}: {end.reason}; run folder: {run_dir}", file=sys.stderr)
    return 0 if end.status == "finished" else 130


def scores_json(end) -> dict:
    """The final scores in ``--json``: ``test_metrics`` ({} when there is no test split),
    ``chance`` per split, ``primary``, ``at_chance`` per split, ``health``, ``warnings``,
    ``best_epoch``."""
    scores = end.scores
    return {"test_metrics": end.test_metrics,
            "test_size": scores.get("test", {}).get("size"),
            "chance": {split: s.get("chance", {}) for split, s in scores.items()},
            "at_chance": {split: s.get("at_chance") for split, s in scores.items()},
            "primary": end.primary, "health": end.health, "warnings": end.warnings,
            "best_epoch": end.best_epoch}


def score_lines(end) -> list[str]:
    """What the end of a run says on stderr: its primary metric on validation and test
    beside chance, and its warnings."""
    lines = []
    primary = end.primary
    if primary is not None:
        parts = []
        for split in ("val", "test"):
            s = end.scores.get(split, {})
            if s.get("size") == 0:
                parts.append(f"{split}: no {split} split")
            elif primary in s.get("metrics", {}):
                parts.append(f"{split} {s['metrics'][primary]:.3f} (chance "
                             f"{s['chance'].get(primary, float('nan')):.3f})")
        if parts:
            best = f", the best epoch ({end.best_epoch})'s model" if end.best_epoch else ""
            lines.append(f"{primary}{best}: " + "; ".join(parts))
    lines += [f"warning: {w}" for w in end.warnings]
    return lines


def format_metrics(values: dict[str, float], keys=HEADLINE) -> str:
    return "  ".join(f"{k} {values[k]:g}" if k.endswith("median_rank") else f"{k} {values[k]:.3f}"
                     for k in keys if k in values)


class ProgressPrinter(Callback):
    """A progress bar (when stderr is a terminal) and one line per epoch on stderr."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.bar = StageProgress(self.stream)
        self.epochs = 0
        self.steps_per_epoch = 1
        self._last_bar = 0.0
        self.rate = Throughput()
        self._epoch = EpochPace()

    def on_fit_start(self, trainer, e):
        self.epochs, self.steps_per_epoch = e.epochs, e.steps_per_epoch
        group = trainer.dist
        where = f"{group.world_size} processes ({group.backend}, gradients averaged by " \
                f"{trainer.grad_sync.name})" if group else e.device
        print(f"training {e.algorithm} + {e.fusion} on {e.train_size} pairs ({e.val_size} "
              f"validation), {e.parameters:,} parameters, {where}", file=self.stream)
        if e.epoch_note():  # training.drop_last's effect, under the line it qualifies
            print(f"  {e.epoch_note()}", file=self.stream)
        for note in e.split_notes:
            print(f"  note: {note}", file=self.stream)
        for warning in e.warnings:
            print(f"warning: {warning}", file=self.stream)

    def on_step_end(self, trainer, e):
        self.rate.add(e.seconds, e.samples, e.epoch)
        self._epoch.add(e.seconds, e.samples)
        if not self.bar.enabled or time.monotonic() - self._last_bar < 0.2:
            return
        self._last_bar = time.monotonic()
        eta = eta_seconds(e.seconds, fit_fraction(e.epoch, e.epoch_progress,
                                                  trainer.start_epoch, self.epochs)) or 0.0
        width = 24
        filled = int(width * e.epoch_progress)
        self.stream.write(f"\repoch {e.epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}]"
                          f" loss {e.losses.get('loss', float('nan')):.4f}  ETA {eta:5.0f} s  "
                          f"{rate_text(self.rate.rate())}"
                          + (f"  shards {e.shards[0]}/{e.shards[1]}" if e.shards else "") + " ")
        self.stream.flush()

    def on_epoch_end(self, trainer, e):
        if self.bar.enabled:
            self.stream.write("\r" + " " * 100 + "\r")  # the whole bar line
        val = f"  val loss {e.val['loss']:.4f}" if "loss" in e.val else ""
        pace = self._epoch.take()
        pace = f", {pace:,.0f} pairs/s" if pace else ""
        print(f"epoch {e.epoch}/{self.epochs}  loss {e.train.get('loss', float('nan')):.4f}"
              f"{val}  {format_metrics(e.val)}  ({e.seconds:.1f} s{pace})".rstrip(),
              file=self.stream)
