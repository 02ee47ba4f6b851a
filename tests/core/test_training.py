"""The Trainer and every algorithm x valid fusion on tiny data."""

from __future__ import annotations

import threading

import pytest
import torch

from fixtures import make_npz, resave_checkpoint, tiny_config
from workbench.core.algorithms import ALGORITHMS, valid_fusions
from workbench.core.data import load_dataset
from workbench.core.errors import ConfigError, WorkbenchError
from workbench.core.training import (AttentionSnapshot, Callback, CheckpointWritten,
                                     EmbeddingSnapshot, EpochEnded, EventRecorder, FitEnded,
                                     FitStarted, StepLogged, Trainer, build_algorithm)
from workbench.core.training.checkpoint import load_checkpoint
from workbench.core.training.optim import Optimizers

PAIRS = [(a, f) for a in ALGORITHMS for f in valid_fusions(a)]




@pytest.mark.parametrize("algorithm, fusion", PAIRS, ids=[f"{a}-{f}" for a, f in PAIRS])
def test_two_steps_finite_and_gradients_reach_both_encoders(folder, algorithm, fusion):
    cfg = tiny_config(folder, f"algorithm.name={algorithm}", f"fusion.name={fusion}")
    ds = load_dataset(cfg)
    torch.manual_seed(0)
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    model.train()
    optim = Optimizers(model.optimizer_groups(), cfg.optimizer, 1)
    before = {k: [p.detach().clone() for p in ps] for k, ps in model.modality_parameters().items()}
    batches = model.train_batches(ds, 8, torch.Generator().manual_seed(0))
    for _, batch in zip(range(2), batches):
        losses = model.training_step(batch, optim)
        assert losses and all(torch.isfinite(v).all() for v in losses.values()), losses
    for name, params in model.modality_parameters().items():
        moved = any(not torch.equal(a, b) for a, b in zip(before[name], params))
        assert moved, f"{algorithm}+{fusion}: nothing that reads the {name} learned"
    metrics = model.evaluate(ds, "val", 16)
    assert metrics and all(v == v for v in metrics.values())  # no NaN


def test_features_data_trains(tmp_path):
    cfg = tiny_config(make_npz(tmp_path / "f.npz"), "algorithm.name=classifier",
                      "fusion.name=gated", "training.epochs=2")
    end = Trainer(cfg, load_dataset(cfg)).fit()
    assert end.status == "finished", end.reason
    assert "accuracy_text_only" in end.metrics


def test_invalid_pair_and_missing_labels_are_refused(folder, tmp_path):
    cfg = tiny_config(folder)
    ds = load_dataset(cfg)
    cfg.fusion.name = "coattention"  # bypasses config checks, as a buggy caller might
    with pytest.raises(ConfigError, match="trivial"):
        build_algorithm(cfg, ds.info())
    npz = tiny_config(make_npz(tmp_path / "u.npz", labels=False), "algorithm.name=classifier",
                      "fusion.name=attention")
    with pytest.raises(WorkbenchError, match="needs labels"):
        build_algorithm(npz, load_dataset(npz).info())
    co = tiny_config(make_npz(tmp_path / "c.npz"), "algorithm.name=classifier",
                     "fusion.name=coattention")
    with pytest.raises(WorkbenchError, match="co-attention needs"):
        build_algorithm(co, load_dataset(co).info())


def run(cfg, ds, *callbacks, **kw):
    rec = EventRecorder()
    end = Trainer(cfg, ds, callbacks=[rec, *callbacks], **kw).fit()
    return end, rec


def test_same_seed_same_losses(folder, dataset):
    cfg = tiny_config(folder, "training.epochs=2", "seed=3")
    _, a = run(cfg, dataset)
    _, b = run(cfg, dataset)
    la = [e.losses for e in a.of(StepLogged)]
    assert la == [e.losses for e in b.of(StepLogged)]
    cfg.seed = 4
    _, c = run(cfg, dataset)
    assert la != [e.losses for e in c.of(StepLogged)]


def test_callbacks_fire_in_order(folder, dataset, tmp_path):
    cfg = tiny_config(folder, "training.epochs=2", "training.checkpoint_every=1",
                      "algorithm.name=classifier", "fusion.name=attention")
    end, rec = run(cfg, dataset, run_dir=tmp_path / "run")
    kinds = [type(e) for e in rec.events]
    assert kinds[0] is FitStarted and kinds[-1] is FitEnded and kinds.count(FitEnded) == 1
    steps = rec.of(StepLogged)
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    per_epoch = rec.events.index(rec.of(EpochEnded)[0])
    assert all(isinstance(e, (StepLogged, AttentionSnapshot)) for e in rec.events[1:per_epoch])
    after = kinds[per_epoch:]
    assert after.index(EpochEnded) < after.index(EmbeddingSnapshot) < after.index(
        CheckpointWritten)
    assert end.status == "finished" and end.epoch == 2
    epoch = rec.of(EpochEnded)[-1]
    assert "loss" in epoch.train and {"loss", "accuracy", "macro_f1"} <= epoch.val.keys()
    snap = rec.of(AttentionSnapshot)[-1]
    assert snap.maps["modality_weights"].shape == (len(snap.probes), 2)
    assert snap.probes[0].tokens and snap.probes[0].image.shape == (3, 16, 16)


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, event):
        if event.step == self.step:
            trainer.stop()


def test_stop_flag_stops_within_one_step(folder, dataset):
    cfg = tiny_config(folder, "training.epochs=50")
    end, rec = run(cfg, dataset, StopAt(2))
    assert end.status == "stopped"
    assert len(rec.of(StepLogged)) == 2
    assert "stopped by the user" in end.reason


def test_pause_and_resume_from_another_thread(folder, dataset):
    cfg = tiny_config(folder, "training.epochs=2")
    trainer = Trainer(cfg, dataset)
    trainer.pause()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("end", trainer.fit()))
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and trainer.step == 0  # paused before the first step
    trainer.resume()
    thread.join(60)
    assert result["end"].status == "finished"


class Explode(Callback):
    def on_step_end(self, trainer, event):
        if event.step == 2:
            def broken(batch, optim):
                raise RuntimeError("boom in the step")
            trainer.model.training_step = broken


def test_exception_in_a_step_is_reported(folder, dataset):
    end, rec = run(tiny_config(folder, "training.epochs=3"), dataset, Explode())
    assert end.status == "failed" and "boom in the step" in end.reason
    assert len(rec.exceptions) == 1 and isinstance(rec.of(FitEnded)[0], FitEnded)


class PoisonAfterEpoch(Callback):
    """Makes the loss NaN from epoch 2 on."""

    def on_epoch_end(self, trainer, event):
        original = trainer.model.training_step

        def nan_step(batch, optim):
            losses = original(batch, optim)
            return {**losses, "loss": torch.tensor(float("nan"))}
        trainer.model.training_step = nan_step


def test_nan_loss_stops_and_keeps_last_good_checkpoint(folder, dataset, tmp_path):
    cfg = tiny_config(folder, "training.epochs=5", "training.checkpoint_every=1")
    end, rec = run(cfg, dataset, PoisonAfterEpoch(), run_dir=tmp_path / "run")
    assert end.status == "failed"
    assert "loss = nan" in end.reason and "last good checkpoint" in end.reason
    assert end.checkpoint and len(rec.of(CheckpointWritten)) == 1
    ckpt = load_checkpoint(end.checkpoint)
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_resume_continues_at_the_right_step_with_the_optimiser_state(folder, dataset,
                                                                    tmp_path):
    cfg = tiny_config(folder, "training.epochs=2", "training.checkpoint_every=1")
    end, rec = run(cfg, dataset, run_dir=tmp_path / "a")
    full, full_rec = run(tiny_config(folder, "training.epochs=3"), dataset)
    cfg3 = tiny_config(folder, "training.epochs=3")
    resumed, res_rec = run(cfg3, dataset, run_dir=tmp_path / "b", resume_from=end.checkpoint)
    first = res_rec.of(StepLogged)[0]
    assert first.step == end.step + 1 and first.epoch == 3
    assert res_rec.of(FitStarted)[0].start_epoch == 3
    # same weights, optimiser moments and shuffling: the third epoch is the same as in a
    # straight three-epoch run
    straight = [e.losses for e in full_rec.of(StepLogged) if e.epoch == 3]
    again = [e.losses for e in res_rec.of(StepLogged)]
    assert again == [pytest.approx(s, rel=1e-5) for s in straight]


def test_resuming_from_weights_that_do_not_fit_fails_with_the_reason(folder, dataset,
                                                                     tmp_path):
    end, _ = run(tiny_config(folder), dataset, run_dir=tmp_path / "a")
    old = resave_checkpoint(end.checkpoint, tmp_path / "old.pt", lambda state: state.update(
        an_old_layer_weight=state.pop(sorted(state)[0])))
    resumed, _ = run(tiny_config(folder, "training.epochs=2"), dataset, resume_from=old)
    assert resumed.status == "failed"
    assert resumed.reason.startswith(f"{old}: its weights do not fit the model")
    assert "Traceback" not in resumed.reason


def test_checkpoint_is_plain_data(folder, dataset, tmp_path):
    end, _ = run(tiny_config(folder), dataset, run_dir=tmp_path / "r")
    payload = torch.load(end.checkpoint, weights_only=True)
    assert payload["config"]["algorithm"]["name"] == "contrastive"
    assert payload["vocab"]["words"][:2] == ["<pad>", "<unk>"]
