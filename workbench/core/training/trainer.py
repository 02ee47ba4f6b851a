"""The training loop. It owns no maths (the algorithm does) and no side effects (callbacks
do): it draws batches, steps, validates, snapshots, checkpoints and reports events.

Stop and pause are ``threading.Event`` flags checked between steps, so another thread (the
GUI) can stop a run at once without a running event loop on the training thread.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from .. import config as C
from ..algorithms import ALGORITHMS
from ..algorithms.base import Algorithm
from ..data.augment import (augment_images, drop_words, shrink_images, tint_images,
                            unknown_words)
from ..data.dataset import PairedDataset, bag_of_words
from ..errors import WorkbenchError
from ..evaluation import report
from ..evaluation.grounding import (GroundingError, composite_problem, composite_snapshot,
                                    make_composites, probe_of)
from . import data_checks, distributed
from .callbacks import Callback
from .checkpoint import (CheckpointError, checkpoint_differences, load_checkpoint,
                         load_model_state, restore_rng,
                         resume_mismatch, rng_state, save_checkpoint)
from .clock import RunClock
from .events import (AttentionSnapshot, CheckpointWritten, EmbeddingSnapshot, EpochEnded,
                     FitEnded, FitStarted, Probe, StepLogged)
from .model_setup import build_algorithm, resolve_device
from .optim import Optimizers
from .samples import describe as describe_samples

# Mid-epoch attention snapshots at most this often, so heatmaps move during long epochs.
ATTENTION_INTERVAL_S = 2.0
# Embedding snapshots cover at most this many validation pairs.
MAX_EMBEDDING_SNAPSHOT = 5000


def trained(epochs: int) -> str:
    """A finished run's reason: "trained 1 epoch", "trained 20 epochs"."""
    return f"trained {epochs} epoch{'' if epochs == 1 else 's'}"


class Trainer:
    def __init__(self, cfg: C.ExperimentConfig, dataset: PairedDataset, *,
                 callbacks: Iterable[Callback] = (), run_dir: str | Path | None = None,
                 resume_from: str | Path | None = None, device: str | None = None,
                 algorithm: Algorithm | None = None):
        self.cfg = cfg
        self.dataset = dataset
        self.callbacks = list(callbacks)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.resume_from = resume_from
        # A model built by the caller instead of the one cfg names (scripts, ``workbench
        # bench`` running the source document's own model through this loop).
        self.algorithm = algorithm
        # Under torchrun (a process group joined by the caller, see ``distributed.setup``):
        # this process's rank; None in an ordinary one-process run.
        self.dist = distributed.current()
        self.device = self.dist.device if self.dist else resolve_device(device or cfg.device)
        self.stop_event = threading.Event()
        self.stop_reason: str | None = None  # why stop() was called, when not the user
        self.pause_event = threading.Event()
        # Training time, pauses left out: every event's ``seconds`` and the run's duration.
        self.clock = RunClock()
        self.model: Algorithm | None = None
        self.optim: Optimizers | None = None
        self.epoch = 0
        self.step = 0
        self.last_checkpoint: str | None = None
        self.last_val: dict[str, float] = {}
        self._val_step = -1  # the step the last validation saw (-1: none yet)
        # training.keep_best: (value, epoch, weights, validation metrics) of the best epoch
        self._best: tuple[float, int, dict, dict] | None = None
        self.best_checkpoint: str | None = None
        self._epoch_done = True
        self.grad_sync = None  # multi-process only: how gradients are averaged
        # What makes this data's numbers weak (data_checks.warnings): said at the start and
        # kept among the run's warnings at the end.
        self.data_warnings: list[str] = []
        self._step_taken = False  # an update made whose step is not counted yet

    # -- control from other threads ------------------------------------------------
    def stop(self, reason: str | None = None) -> None:
        """Stop after the current step; ``reason`` says why in the run's end (default:
        the user stopped it), e.g. a sweep's pruner."""
        if reason is not None and self.stop_reason is None:
            self.stop_reason = reason
        self.stop_event.set()

    def pause(self) -> None:
        self.pause_event.set()

    def resume(self) -> None:
        self.pause_event.clear()

    @property
    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    @property
    def epochs_completed(self) -> int:
        """Whole epochs trained so far: a run stopped or failed inside an epoch has not
        completed it (its checkpoint counts the same)."""
        return self.epoch if self._epoch_done else self.epoch - 1

    @property
    def is_main(self) -> bool:
        """Whether this process validates, snapshots and reports (always, unless it is a
        rank other than 0 of a multi-process run)."""
        return self.dist is None or self.dist.is_main

    # -- the loop ----------------------------------------------------------------------
    def fit(self) -> FitEnded:
        """Train; always returns (and reports) exactly one :class:`FitEnded`."""
        self.clock.start()
        status, reason = "finished", trained(self.cfg.training.epochs)
        final: dict = {}
        try:
            self._setup()
            status, reason = self._loop()
        except Exception as exc:  # any failure inside a step: reported, never a crash
            self._emit("on_exception", exc)
            status = "failed"
            lost = distributed.lost_peer(exc) if self.dist is not None else None
            if lost:  # a peer killed, stopped or hung: one line, and the work kept
                reason = lost + self._checkpoint_after_lost_peer()
            else:
                reason = str(exc) if isinstance(exc, WorkbenchError) else \
                    f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
        finally:
            if self.grad_sync is not None:  # the model no longer forwards through DDP
                self.grad_sync.close()
        if status != "failed" and self.is_main and self.model is not None and self.step > 0:
            final = self._final_scores()
        end = FitEnded(status=status, reason=reason, epoch=self.epoch, step=self.step,
                       metrics=dict(final.get("scores", {}).get("val", {}).get("metrics")
                                    or self.last_val),
                       seconds=self._elapsed(),
                       run_dir=str(self.run_dir) if self.run_dir else None,
                       checkpoint=self.last_checkpoint,
                       primary=self.model.primary_metric() if self.model is not None else None,
                       best_checkpoint=self.best_checkpoint, **final)
        self._emit("on_fit_end", end)
        return end

    def _final_scores(self) -> dict:
        """The model the run hands over (the best epoch's with ``training.keep_best``, else
        the last), scored once on the test split, on the validation split (the last
        validation's numbers when they are of this model) and for collapse; the
        ``FitEnded`` fields they fill. A failure here leaves the run's status alone and is
        reported among the warnings."""
        model, ds = self.model, self.dataset
        batch = max(self.cfg.training.batch_size, report.EVAL_BATCH)
        val_metrics: dict | None = None
        best_epoch = None
        try:
            if self._best is not None:
                _, best_epoch, weights, val_metrics = self._best
                model.load_state_dict(weights)
            elif self._val_step == self.step:
                val_metrics = self.last_val
            else:  # stopped (or not validated) since the last validation
                model.fit_score_space(ds, batch, self.device)
            val = report.score_split(model, ds, "val", batch, self.device, metrics=val_metrics)
            test = report.score_split(model, ds, "test", batch, self.device)
            health = report.split_health(model, ds, "val", self.device)
        except Exception as exc:  # the run itself went well: say what failed, keep its status
            return {"warnings": [f"scoring the final model failed: {type(exc).__name__}: "
                                 f"{exc}"]}
        spec = ALGORITHMS[self.cfg.algorithm.name]
        no_primary = spec.no_primary if model.primary_metric() is None else ""
        return {"scores": {"val": val, "test": test}, "health": health,
                "warnings": (self.data_warnings + ds.training_warnings()
                             + report.warnings_of(val, test, health, no_primary)),
                "best_epoch": best_epoch}

    def _setup(self) -> None:
        cfg = self.cfg
        if self.dist is not None:  # before the model (and a graph) is built for nothing
            problem = distributed.refusal(cfg.algorithm.name)
            if problem:
                raise WorkbenchError(problem)
        problem = data_checks.refusal(self.dataset, cfg)
        if problem:  # before minutes of training with nothing to learn or to score
            raise WorkbenchError(problem)
        self.data_warnings = data_checks.warnings(
            self.dataset, cfg, needs_labels=ALGORITHMS[cfg.algorithm.name].needs_labels)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.model = self.algorithm if self.algorithm is not None else \
            build_algorithm(cfg, self.dataset.info())
        self.model.prepare(self.dataset)
        self.model.to(self.device)
        self.optim = Optimizers(self.model.optimizer_groups(), cfg.optimizer,
                                cfg.training.epochs, embeddings=[
                                    m.weight for m in self.model.modules()
                                    if isinstance(m, torch.nn.Embedding)])
        self.start_epoch = 1
        if self.resume_from is not None:
            ckpt = load_checkpoint(self.resume_from, map_location=self.device)
            mismatch = resume_mismatch(ckpt, cfg.model)
            if mismatch:
                raise CheckpointError(f"{self.resume_from}: {mismatch}")
            load_model_state(self.model, ckpt["model"], self.resume_from,
                             differences=checkpoint_differences(
                                 ckpt, C.to_dict(cfg), self.dataset.info().to_dict()))
            self.optim.load_state_dict(ckpt["optim"])
            restore_rng(ckpt["rng"], self.generator, self.resume_from)
            self.epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
            self.start_epoch = self.epoch + 1
            if self.start_epoch > cfg.training.epochs:
                raise CheckpointError(
                    f"{self.resume_from}: nothing left to train: the checkpoint has trained "
                    f"{self.epoch} epoch{'s' if self.epoch != 1 else ''} and training.epochs "
                    f"= {cfg.training.epochs}; give more epochs (--epochs "
                    f"{self.epoch + 1} or more) to train it further")
            self._resume_best(ckpt.get("best"))
        if self.dist is not None:
            self._setup_distributed()
        self.probes = self._probe_indices()
        self.composites = self._composite_probes()
        self._last_attention = 0.0
        primary = self.model.primary_metric()
        chance, spread = report.split_chance_of(self.dataset, "val", primary)
        self._emit("on_fit_start", FitStarted(
            algorithm=cfg.algorithm.name, fusion=cfg.fusion.name, epochs=cfg.training.epochs,
            start_epoch=self.start_epoch,
            steps_per_epoch=self.model.steps_per_epoch(self.dataset, cfg.training.batch_size,
                                                       cfg.training.drop_last),
            epoch_pairs=self.model.epoch_pairs(self.dataset, cfg.training.batch_size,
                                               cfg.training.drop_last),
            train_size=self.dataset.split.sizes()["train"],
            val_size=len(self.dataset.indices("val")), device=str(self.device),
            parameters=sum(p.numel() for p in self.model.parameters()),
            run_dir=str(self.run_dir) if self.run_dir else None, primary=primary,
            chance=chance, chance_spread=spread,
            split_notes=self.dataset.split_notes, warnings=list(self.data_warnings)))

    def _setup_distributed(self) -> None:
        """Hooks for multi-process training: the same weights everywhere, gradients averaged
        across processes before each optimiser step, per-process randomness."""
        distributed.broadcast_module(self.model)
        self.grad_sync = distributed.gradient_sync(self.model, self.optim, self.dist)
        rank = self.dist.rank
        # Dropout, modality dropout, GAN noise and augmentation differ by rank (the same
        # stream on every rank would repeat one mask per row position); the shuffling
        # generator stays shared, so every rank cuts the same global batches.
        torch.manual_seed(self.cfg.seed + 7919 * rank)
        self.aug_generator = torch.Generator().manual_seed(self.cfg.seed + 7919 * (rank + 1))

    def _loop(self) -> tuple[str, str]:
        t = self.cfg.training
        model, ds = self.model, self.dataset
        steps_per_epoch = model.steps_per_epoch(ds, t.batch_size, t.drop_last)
        dist = self.dist
        # Only under torchrun, so an algorithm whose train_batches predates sharding still runs.
        shard = {"shard": (dist.rank, dist.world_size)} if dist else {}
        aug_generator = self.aug_generator if dist else self.generator
        # streamed data: shards read so far this epoch (None for data held in memory)
        stream_shards = getattr(ds, "shards_read", lambda: None)
        for epoch in range(self.start_epoch, t.epochs + 1):
            self.epoch = epoch
            self._epoch_done = False
            model.train()
            sums: dict[str, float] = {}
            n_steps = 0
            for batch in model.train_batches(ds, t.batch_size, self.generator,
                                             drop_last=t.drop_last, **shard):
                # Under torchrun the stop decision is taken together, after the step.
                if dist is None and self._wait_while_paused():
                    return self._stopped()
                batch = batch.to(self.device)
                samples = len(batch)
                if t.augment_scale < 1.0 and batch.images is not None:
                    batch.images = shrink_images(batch.images, aug_generator,
                                                 t.augment_scale)
                if t.augment_images and batch.images is not None:
                    batch.images = augment_images(batch.images, aug_generator)
                if t.augment_tint > 0 and batch.images is not None:
                    batch.images = tint_images(batch.images, aug_generator, t.augment_tint)
                if (t.unknown_words > 0 or t.drop_words > 0) and batch.tokens is not None:
                    batch.tokens = unknown_words(batch.tokens, batch.mask, t.unknown_words,
                                                 aug_generator)
                    batch.tokens, batch.mask = drop_words(batch.tokens, batch.mask,
                                                          t.drop_words, aug_generator)
                    if batch.bow is not None:
                        batch.bow = bag_of_words(batch.tokens, batch.bow.shape[1])
                elif t.drop_words > 0 and batch.piece_ids is not None:  # fine-tuned text
                    batch.piece_ids, batch.mask = drop_words(batch.piece_ids, batch.mask,
                                                             t.drop_words, aug_generator)
                if dist is not None:
                    self.grad_sync.begin_step(samples)
                losses = model.training_step(batch, self.optim)
                self._step_taken = True  # the weights moved: this step counts once agreed
                values = {k: float(v) for k, v in losses.items()}
                # Under torchrun only the agreed decision counts: a signal landing between
                # the all-reduce and the check below would otherwise stop one rank alone and
                # leave the others waiting in the next step's collective.
                agreed_stop = False
                if dist is not None:
                    values, samples, agreed_stop = distributed.reduce_step(
                        values, samples, self.should_stop, self.device)
                    if agreed_stop:
                        self.stop_event.set()
                bad = [k for k, v in values.items() if not math.isfinite(v)]
                self.step += 1
                self._step_taken = False
                n_steps += 1
                if bad:
                    return "failed", self._nan_reason(bad, values)
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                self._emit("on_step_end", StepLogged(
                    step=self.step, epoch=epoch,
                    epoch_progress=min(1.0, n_steps / steps_per_epoch), losses=values,
                    lr=self.optim.lr, samples=samples, seconds=self._elapsed(),
                    shards=stream_shards()))
                if agreed_stop:
                    return self._stopped()
                if self.is_main and \
                        time.perf_counter() - self._last_attention > ATTENTION_INTERVAL_S:
                    self._attention_snapshot()
            self.optim.epoch_end()
            self._epoch_done = True
            last = epoch == t.epochs
            val = {}
            validate = self.is_main and (epoch % t.val_every == 0 or last)
            snapshot = self.is_main and (epoch % t.snapshot_every == 0 or last)
            checkpoint = self.run_dir is not None and (epoch % t.checkpoint_every == 0 or last)
            if validate or snapshot or checkpoint:
                model.fit_score_space(ds, max(t.batch_size, report.EVAL_BATCH), self.device)
            # Rank 0 validates on the whole validation split: the same numbers as one process.
            if validate:
                val = model.evaluate(ds, "val", max(t.batch_size, report.EVAL_BATCH),
                                     self.device)
                self.last_val, self._val_step = val, self.step
                self._keep_if_best(val, epoch)
            self._emit("on_epoch_end", EpochEnded(
                epoch=epoch, step=self.step, train={k: v / max(n_steps, 1)
                                                    for k, v in sums.items()},
                val=val, seconds=self._elapsed(), lr=self.optim.lr))
            if snapshot:
                self._snapshots()
            if checkpoint:
                self._checkpoint(epoch)
            # Under torchrun a stop counts only once the ranks agreed on it (after a step).
            if self.should_stop and dist is None:
                return self._stopped()
        return "finished", trained(t.epochs)

    # -- helpers -----------------------------------------------------------------------
    def _wait_while_paused(self) -> bool:
        """Block while paused, the run's clock stopped; True when the run should stop."""
        if self.pause_event.is_set():
            self.clock.pause()
            while self.pause_event.is_set() and not self.stop_event.is_set():
                self.stop_event.wait(0.05)
            self.clock.resume()
        return self.stop_event.is_set()

    def _keep_if_best(self, val: dict[str, float], epoch: int) -> None:
        """``training.keep_best``: keep this epoch's weights (and write checkpoints/best.pt)
        when its primary metric beats every earlier epoch's. Every primary metric is higher
        is better; an algorithm without one keeps nothing."""
        primary = self.model.primary_metric()
        if not self.cfg.training.keep_best or primary is None or primary not in val or \
                not math.isfinite(val[primary]):
            return
        if self._best is not None and val[primary] <= self._best[0]:
            return
        # kept on the CPU: a second copy of the weights need not take accelerator memory
        weights = {k: v.detach().to("cpu", copy=True) for k, v in
                   self.model.state_dict().items()}
        self._best = (val[primary], epoch, weights, dict(val))
        if self.run_dir is not None:
            self.best_checkpoint = str(self._save(self.run_dir / "checkpoints" / "best.pt",
                                                  epoch))

    def _write_best(self, path: Path) -> None:
        """best.pt of the kept best weights (written where a resumed run now writes)."""
        _, epoch, weights, _ = self._best
        self._save(path, epoch, weights)

    def _best_record(self) -> dict | None:
        if self._best is None:
            return None
        value, epoch, _, metrics = self._best
        return {"value": value, "epoch": epoch,
                "metrics": {k: float(v) for k, v in metrics.items()}}

    def _resume_best(self, best: dict | None) -> None:
        """A resumed ``keep_best`` run goes on comparing against the best epoch before the
        resume: its value and metrics from the checkpoint, its weights from best.pt beside
        it (a best.pt that is missing or does not fit is not trusted: the best starts over)."""
        if not self.cfg.training.keep_best or not best:
            return
        path = Path(self.resume_from).with_name("best.pt")
        try:
            saved = load_checkpoint(path)  # on the CPU, as the kept best weights are
        except WorkbenchError:
            return
        if int(saved["epoch"]) != int(best["epoch"]) or \
                saved["model"].keys() != self.model.state_dict().keys():
            return
        self._best = (float(best["value"]), int(best["epoch"]), saved["model"],
                      dict(best["metrics"]))
        if self.run_dir is not None:
            target = self.run_dir / "checkpoints" / "best.pt"
            self.best_checkpoint = str(target)
            if target.resolve() != path.resolve():  # resumed into another folder
                self._write_best(target)

    def _stopped(self) -> tuple[str, str]:
        if self.run_dir is not None and self.step > 0:
            self._checkpoint_now()
        why = self.stop_reason or "stopped by the user"
        return "stopped", f"{why} at epoch {self.epoch}, step {self.step}"

    def _checkpoint_now(self) -> None:
        """A checkpoint of the weights as they are. Mid-epoch it counts only the epochs
        completed: continuing starts the interrupted epoch afresh (with these weights)."""
        self.model.fit_score_space(self.dataset, max(self.cfg.training.batch_size,
                                                     report.EVAL_BATCH), self.device)
        self._checkpoint(self.epochs_completed)

    def _checkpoint_after_lost_peer(self) -> str:
        """Rank 0's checkpoint of the last completed step once a peer is lost; what became
        of it, to end the run's one line. The weights are those of a step boundary: every
        collective sits before the optimiser's update (the gradients' all-reduce, the
        gathered rows of a batch-coupled loss) or after it (the step's losses), never in it."""
        if self._step_taken:  # updated, then lost while agreeing on the step's losses
            self.step += 1
            self._step_taken = False
        if not self.is_main:
            return "; rank 0 keeps the work done"
        if self.run_dir is None or self.step == 0:
            return "; no step had completed, so no checkpoint was written"
        try:
            self._checkpoint_now()
        except Exception as exc:  # noqa: BLE001 - said in the run's one line
            return f"; the checkpoint of step {self.step} could not be written: {exc}"
        return (f"; rank 0 wrote a checkpoint of step {self.step} ({self.epochs_completed} "
                f"epoch{'' if self.epochs_completed == 1 else 's'} complete): continue with "
                f"--resume {self.last_checkpoint}")

    def _nan_reason(self, bad: list[str], values: dict[str, float]) -> str:
        shown = ", ".join(f"{k} = {values[k]}" for k in bad)
        kept = (f"the last good checkpoint is kept: {self.last_checkpoint}"
                if self.last_checkpoint else "no checkpoint had been written yet")
        return (f"the loss stopped being a finite number at step {self.step} (epoch "
                f"{self.epoch}): {shown}. Training diverged; a lower learning rate "
                f"(optimizer.lr) or gradient clipping (optimizer.grad_clip) usually helps; "
                f"{kept}.")

    def _elapsed(self) -> float:
        """Seconds of training since the fit started, pauses left out."""
        return self.clock.elapsed()

    def _emit(self, hook: str, event) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, event)

    def _probe_indices(self) -> torch.Tensor:
        idx = self.dataset.indices("val")
        if len(idx) == 0:
            idx = self.dataset.indices("train")
        return idx[: self.cfg.training.probe_samples]

    def _composite_probes(self):
        """``training.composite_probes`` composites (``grounding.make_composites``) of the
        probes' split, seeded by the run; None where the data cannot make them."""
        n = self.cfg.training.composite_probes
        if not n or composite_problem(self.dataset) is not None:
            return None
        split = "val" if len(self.dataset.indices("val")) else "train"
        try:
            return make_composites(self.dataset, split, n, seed=self.cfg.seed)
        except GroundingError:  # too few pairs of different labels and words
            return None

    def _probes(self) -> list[Probe]:
        return [probe_of(self.dataset, i) for i in self.probes.tolist()]

    def _attention_snapshot(self) -> None:
        self._last_attention = time.perf_counter()
        if len(self.probes) == 0:
            return
        model = self.model
        was_training = model.training
        model.eval()
        try:
            maps = model.attention(self.dataset.batch(self.probes).to(self.device))
        finally:
            model.train(was_training)
        graph = maps.pop("graph", None)
        arrays = {k: v.detach().float().cpu().numpy() for k, v in maps.items()}
        if not arrays and graph is None:
            return
        grid = getattr(getattr(model, "image_encoder", None), "grid", None)
        composites = None
        if self.composites is not None and "text_to_image" in arrays:
            composites = composite_snapshot(model, self.dataset, self.composites,
                                            epoch=self.epoch, step=self.step)
        self._emit("on_snapshot", AttentionSnapshot(
            epoch=self.epoch, step=self.step, probes=self._probes(),
            modality_names=list(model.modality_names), maps=arrays,
            grid=(grid, grid) if grid else None, graph=graph, composites=composites))

    def _snapshots(self) -> None:
        self._attention_snapshot()
        model, ds = self.model, self.dataset
        idx = ds.indices("val")
        if len(idx) == 0:
            idx = ds.indices("train")
        idx = idx[:MAX_EMBEDDING_SNAPSHOT]
        was_training = model.training
        model.eval()
        try:
            parts: dict[str, list] = {}
            for start in range(0, len(idx), 512):
                b = ds.batch(idx[start:start + 512]).to(self.device)
                for k, v in model.embed(b).items():
                    parts.setdefault(k, []).append(v.float().cpu())
            generated = model.generate(16, torch.Generator().manual_seed(self.cfg.seed))
        finally:
            model.train(was_training)
        vec = {k: torch.cat(v).numpy() for k, v in parts.items()}
        if vec:
            self._emit("on_snapshot", EmbeddingSnapshot(
                epoch=self.epoch, step=self.step, index=idx.numpy(), text=vec.get("text"),
                image=vec.get("image"), fused=vec.get("fused"),
                labels=ds.labels[idx].numpy() if ds.labels is not None else None,
                label_names=list(ds.label_names)))
        if generated is not None:
            self._emit("on_snapshot", describe_samples(generated, ds, self.epoch, self.step))

    def _checkpoint(self, epochs_done: int) -> None:
        path = self.run_dir / "checkpoints" / "last.pt"
        # An update can turn the weights NaN while every loss so far was finite (an inf
        # gradient): writing them would replace the last good checkpoint with a useless one.
        if not all(torch.isfinite(v).all() for v in self.model.state_dict().values()
                   if v.is_floating_point()):
            kept = (f"the last good checkpoint is kept: {self.last_checkpoint}"
                    if self.last_checkpoint else "no checkpoint had been written yet")
            raise WorkbenchError(
                f"the model's weights stopped being finite numbers in epoch {self.epoch} "
                f"(by step {self.step}), though every loss was finite. Training diverged; a "
                "lower learning rate (optimizer.lr) or gradient clipping (optimizer.grad_clip) "
                f"usually helps; {kept}.")
        self._save(path, epochs_done)
        self.last_checkpoint = str(path)
        self._emit("on_checkpoint", CheckpointWritten(epochs_done, self.step, str(path)))

    def _save(self, path: Path, epochs_done: int, weights: dict | None = None) -> Path:
        try:
            return save_checkpoint(
                path, model_state=self.model.state_dict() if weights is None else weights,
                optim_state=self.optim.state_dict(),
                epoch=epochs_done, step=self.step, config=C.to_dict(self.cfg),
                info=self.dataset.info().to_dict(),
                vocab=self.dataset.vocab.to_dict() if self.dataset.vocab else None,
                rng=rng_state(self.generator), best=self._best_record())
        except OSError as exc:  # a full disk, a folder gone or made read-only: say which
            # The write is atomic: whatever checkpoint was there is still whole.
            kept = (f"the last good checkpoint is kept: {self.last_checkpoint}"
                    if self.last_checkpoint else "no checkpoint had been written yet")
            raise WorkbenchError(f"could not write the checkpoint {path} after epoch "
                                 f"{epochs_done}: {exc.strerror or exc}; {kept}") from None
