"""training.drop_last: the last training batch of an epoch, smaller than the batch size, is
left out (InfoNCE falls with batch size, so that batch drew a sawtooth in the loss curve),
and the step count, the events and the run summary agree with what trains."""

from __future__ import annotations

import json

import pytest

from fixtures import make_npz, tiny_config
from workbench.core import config as C
from workbench.core.data import load_dataset
from workbench.core.runs.writer import RunWriter
from workbench.core.training import EventRecorder, FitStarted, StepLogged, Trainer


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    return make_npz(tmp_path_factory.mktemp("drop") / "f.npz", n=40)  # 30 training pairs


def _fit(npz, *overrides, run_dir=None):
    cfg = tiny_config(npz, "algorithm.name=contrastive", "fusion.name=mean",
                      "training.epochs=2", *overrides)
    recorder = EventRecorder()
    callbacks = [recorder] + ([RunWriter(run_dir, cfg)] if run_dir else [])
    end = Trainer(cfg, load_dataset(cfg), callbacks=callbacks, run_dir=run_dir).fit()
    assert end.status == "finished", end.reason
    return recorder


def test_on_by_default_and_says_why():
    info = C.ExperimentConfig().training
    assert info.drop_last is True
    help_text = C.TrainingConfig.__dataclass_fields__["drop_last"].metadata["help"]
    assert "log B" in help_text and "merging" in help_text and "smaller than one batch" in \
        help_text


def test_every_step_is_a_full_batch(npz, tmp_path):
    rec = _fit(npz, run_dir=tmp_path / "run")
    started = rec.of(FitStarted)[0]
    steps = rec.of(StepLogged)
    assert started.train_size == 30 and started.steps_per_epoch == 3  # 30 // 8
    assert [s.samples for s in steps] == [8] * 6  # 2 epochs of 3 full batches, not 8 8 8 6
    assert [s.epoch_progress for s in steps if s.epoch == 1][-1] == 1.0
    assert started.epoch_pairs == 24
    assert started.epoch_note() == ("each epoch trains on 24 of the 30 training pairs: "
                                    "training.drop_last leaves out a last, smaller batch of 6 "
                                    "(a different 6 each epoch)")
    summary = json.loads((tmp_path / "run" / "run.json").read_text())
    assert summary["epoch_pairs"] == 24 and summary["train_size"] == 30


def test_off_keeps_the_smaller_batch(npz):
    rec = _fit(npz, "training.drop_last=false")
    started = rec.of(FitStarted)[0]
    assert started.steps_per_epoch == 4 and started.epoch_pairs == 30
    assert started.epoch_note() is None
    assert [s.samples for s in rec.of(StepLogged)] == [8, 8, 8, 6] * 2


def test_a_split_smaller_than_one_batch_still_trains(npz):
    rec = _fit(npz, "training.batch_size=64")
    started = rec.of(FitStarted)[0]
    assert started.steps_per_epoch == 1 and started.epoch_pairs == 30
    assert [s.samples for s in rec.of(StepLogged)] == [30, 30]


def test_the_dataset_counts_what_it_yields(npz):
    cfg = tiny_config(npz)
    ds = load_dataset(cfg)
    for size, drop, kept, count in ((8, True, 24, 3), (8, False, 30, 4), (64, True, 30, 1),
                                    (30, True, 30, 1), (7, True, 28, 4), (1, True, 30, 30)):
        batches = list(ds.batches("train", size, drop_last=drop))
        assert ds.kept_pairs("train", size, drop) == kept == sum(len(b) for b in batches)
        assert ds.batch_count("train", size, drop) == count == len(batches)


def test_graph_trains_the_whole_graph_whatever_drop_last_says(npz):
    cfg = tiny_config(npz, "algorithm.name=graph", "fusion.name=mean", "training.epochs=1")
    rec = EventRecorder()
    end = Trainer(cfg, load_dataset(cfg), callbacks=[rec]).fit()
    assert end.status == "finished", end.reason
    started = rec.of(FitStarted)[0]
    assert started.steps_per_epoch == 1 and started.epoch_pairs == started.train_size
    assert [s.samples for s in rec.of(StepLogged)] == [started.train_size]
