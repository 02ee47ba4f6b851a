"""Training that streams from shards (issue 18): the training split read from Parquet or
WebDataset shards each epoch, validation and test in memory, every training sample once an
epoch and never a validation or test one."""

from __future__ import annotations

import pytest

from fixtures import make_image_folder, tiny_config
from workbench.core.config import DataConfig
from workbench.core.data import load_dataset
from workbench.core.data.convert import convert
from workbench.core.data.streaming import split_of
from workbench.core.errors import ConfigError
from workbench.core.training import Trainer
from workbench.core.training.callbacks import Callback

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("streamed")
    folder = make_image_folder(root / "shapes", n_per_class=6)  # 24 pairs
    convert(DataConfig(source=str(folder)), "parquet", root / "pq", shard_size=5)
    return root / "pq"


class Seen(Callback):
    def __init__(self):
        self.steps, self.started = [], None

    def on_fit_start(self, trainer, event):
        self.started = event

    def on_step_end(self, trainer, event):
        self.steps.append(event)


@pytest.mark.parametrize("algorithm, fusion", [("contrastive", "mean"),
                                               ("classifier", "late")])
def test_a_streamed_run_trains_every_training_pair_once_an_epoch(shards, algorithm, fusion):
    cfg = tiny_config(shards, f"algorithm.name={algorithm}", f"fusion.name={fusion}",
                      "data.streaming=on", "training.epochs=2", "training.batch_size=4",
                      "training.drop_last=false", "data.shuffle_buffer=3",
                      "data.test_fraction=0.2")
    ds = load_dataset(cfg)
    assert getattr(ds, "streamed", False)
    seed = cfg.data.split_seed if cfg.data.split_seed >= 0 else cfg.seed
    keys = [f"{i:09d}" for i in range(24)]
    train = sum(split_of(k, 0.25, 0.2, seed) == "train" for k in keys)
    held = {s: sum(split_of(k, 0.25, 0.2, seed) == s for k in keys) for s in ("val", "test")}
    assert ds.split.sizes() == {"train": train, **held}
    assert len(ds.indices("val")) == held["val"]  # scored from memory
    seen = Seen()
    end = Trainer(cfg, ds, callbacks=[seen]).fit()
    assert end.status == "finished", end.reason
    assert seen.started.train_size == train
    assert any("streams from 5 shards" in n for n in seen.started.split_notes)
    for epoch in (1, 2):
        assert sum(e.samples for e in seen.steps if e.epoch == epoch) == train
        # progress: the epoch's shards, all read by its last step
        last = [e for e in seen.steps if e.epoch == epoch][-1]
        assert last.shards is not None and last.shards[0] == last.shards[1] >= 5
    assert end.scores["val"]["size"] == held["val"]


def test_data_held_in_memory_reports_no_shards(shards):
    cfg = tiny_config(shards, "data.streaming=off")
    seen = Seen()
    Trainer(cfg, load_dataset(cfg), callbacks=[seen]).fit()
    assert seen.steps and all(e.shards is None for e in seen.steps)


def test_streaming_refuses_what_it_cannot_stream(shards, tmp_path):
    folder = make_image_folder(tmp_path / "shapes", n_per_class=2)
    with pytest.raises(ConfigError, match="streaming reads Parquet or WebDataset shards"):
        load_dataset(tiny_config(folder, "data.streaming=on"))
    with pytest.raises(ConfigError, match="cannot train graph"):
        load_dataset(tiny_config(shards, "data.streaming=on", "algorithm.name=graph",
                                 "fusion.name=mean"))


def test_auto_streams_only_past_the_memory_limit(shards, monkeypatch):
    from workbench.core.data import streamed
    assert not getattr(load_dataset(tiny_config(shards)), "streamed", False)
    # 24 pairs at 16 px take 18 KB decoded (and their PNGs): past a 12.9 KB limit, which the
    # in-memory part (validation, test and a 2-pair training sample) fits
    monkeypatch.setattr(streamed, "TRAIN_SAMPLE", 2)
    ds = load_dataset(tiny_config(shards, "data.max_memory_gb=0.000012"))
    assert ds.streamed and len(ds.indices("train")) == 2


@pytest.mark.parametrize("world", [2, 3])
def test_each_rank_streams_the_same_number_of_batches_covering_the_training_split(
        shards, monkeypatch, world):
    """Under torchrun every rank must run the same number of steps (a rank that ran out
    first would leave the others waiting at a collective): with shards of uneven sizes, the
    ranks together see every training pair, at most world - 1 twice."""
    import torch
    from collections import Counter
    from workbench.core.data import streamed
    cfg = tiny_config(shards, "data.streaming=on", "data.shuffle_buffer=4")
    ds = load_dataset(cfg)
    seen: dict[int, list[str]] = {}
    real = streamed.StreamedDataset._batch

    def record(self, chunk):
        seen.setdefault(rank, []).extend(s.key for s, _ in chunk)
        return real(self, chunk)

    monkeypatch.setattr(streamed.StreamedDataset, "_batch", record)
    steps = {}
    for epoch in (1, 2):
        seen.clear()
        for rank in range(world):
            generator = torch.Generator().manual_seed(epoch)  # the run's, shared by the ranks
            steps[rank] = len(list(ds.batches("train", 2 * world, shuffle=True,
                                              generator=generator, shard=(rank, world))))
        assert len(set(steps.values())) == 1
        counts = Counter(k for keys in seen.values() for k in keys)
        train = ds.split.sizes()["train"]
        assert len(counts) == train  # every training pair (keys are unique here)
        assert sum(counts.values()) - train <= world - 1 and max(counts.values()) <= 2


def test_a_streamed_image_that_does_not_decode_is_made_up_and_said(tmp_path):
    """Skip mode: a training sample whose image does not decode (the scan reads no pixels)
    is replaced by repeating the one before, so every rank keeps its step count, and the
    run's summary says how many there were."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from data_helpers import COLORS, save_image
    from workbench.core.data.streaming import split_of
    folder = tmp_path / "pq"
    folder.mkdir()
    good = save_image(tmp_path / "a.png", COLORS[0]).read_bytes()
    keys = [f"k{i}" for i in range(30)]
    train = [k for k in keys if split_of(k, 0.25, 0.0, 0) == "train"]
    bad = train[len(train) // 2]  # not the first: there is one to repeat
    images = [{"bytes": b"not an image" if k == bad else good, "path": None} for k in keys]
    pq.write_table(pa.table({"image": images, "text": [f"thing {k}" for k in keys],
                             "key": keys}), folder / "data.parquet")
    cfg = tiny_config(folder, "data.streaming=on", "data.on_error=skip", "seed=0",
                      "training.epochs=2", "training.drop_last=false")
    seen = Seen()
    end = Trainer(cfg, load_dataset(cfg), callbacks=[seen]).fit()
    assert end.status == "finished", end.reason
    assert sum(e.samples for e in seen.steps if e.epoch == 1) == len(train)
    assert end.warnings[1].startswith(  # after the small split's
        "a streamed training image did not decode 2 times (counted every epoch")


@pytest.mark.parametrize("workers", [0, 1])
def test_a_split_within_the_shuffle_buffer_streams_the_batches_it_trains_on_in_memory(
        shards, workers):
    """No validation or test split (the hash split and the stratified one then agree) and a
    shuffle buffer that holds the whole training split: the streamed run draws the in-memory
    run's permutation over the same pairs, so it trains on the same batches and every loss
    comes out the same, whether its images decode in a worker process or here."""
    common = ("data.val_fraction=0", "data.test_fraction=0", "training.keep_best=false",
              "training.epochs=2", "training.batch_size=5", "training.drop_last=false",
              "seed=3", "algorithm.name=contrastive", "fusion.name=mean")
    losses = {}
    for mode in ("off", "on"):
        cfg = tiny_config(shards, f"data.streaming={mode}", "data.shuffle_buffer=100",
                          f"data.stream_workers={workers}", *common)
        ds = load_dataset(cfg)
        assert getattr(ds, "streamed", False) == (mode == "on")
        seen = Seen()
        end = Trainer(cfg, ds, callbacks=[seen]).fit()
        assert end.status == "finished", end.reason
        losses[mode] = [e.losses for e in seen.steps]
    assert len(losses["on"]) == 2 * 5  # 24 pairs, batches of 5, two epochs
    for on, off in zip(losses["on"], losses["off"]):
        assert on == pytest.approx(off, rel=1e-5)


def test_past_the_shuffle_buffer_the_order_is_not_the_in_memory_one(shards):
    """The check above cannot pass by accident: with a buffer smaller than the split the
    streamed run shuffles by shards and buffer, and trains on other batches."""
    common = ("data.val_fraction=0", "data.test_fraction=0", "training.keep_best=false",
              "training.batch_size=5", "training.drop_last=false", "seed=3")
    losses = {}
    for mode in ("off", "on"):
        cfg = tiny_config(shards, f"data.streaming={mode}", "data.shuffle_buffer=4", *common)
        seen = Seen()
        Trainer(cfg, load_dataset(cfg), callbacks=[seen]).fit()
        losses[mode] = [e.losses for e in seen.steps]
    assert any(on != pytest.approx(off, rel=1e-5)
               for on, off in zip(losses["on"], losses["off"]))


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_a_held_out_image_that_does_not_decode_is_named_or_left_out(tmp_path, on_error):
    """Validation and test images decode while the shards are scanned: one that does not
    decode fails the load naming its shard and row, or is left out and listed."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from data_helpers import COLORS, save_image
    from workbench.core.errors import DataError
    folder = tmp_path / "pq"
    folder.mkdir()
    good = save_image(tmp_path / "a.png", COLORS[0]).read_bytes()
    keys = [f"k{i}" for i in range(30)]
    val = [i for i, k in enumerate(keys) if split_of(k, 0.25, 0.0, 0) == "val"]
    bad = val[1]
    images = [{"bytes": b"not an image" if i == bad else good, "path": None}
              for i in range(len(keys))]
    pq.write_table(pa.table({"image": images, "text": [f"thing {k}" for k in keys],
                             "key": keys}), folder / "data.parquet")
    cfg = tiny_config(folder, "data.streaming=on", f"data.on_error={on_error}", "seed=0")
    if on_error == "fail":
        with pytest.raises(DataError, match=rf"data.parquet, row {bad + 1}: .*not an image"):
            load_dataset(cfg)
        return
    ds = load_dataset(cfg)
    assert len(ds.indices("val")) == len(val) - 1
    assert len(ds.table.skipped) == 1 and f"row {bad + 1}" in str(ds.table.skipped[0])


def test_the_run_folder_says_how_the_streamed_data_was_split_and_sampled(shards, tmp_path,
                                                                         capsys):
    import json
    from workbench.cli import main
    out = tmp_path / "run"
    assert main(["train", "contrastive-emoji", "--data", str(shards), "--epochs", "1",
                 "--set", "data.streaming=on", "--set", "preprocess.image_size=16",
                 "--out", str(out)]) == 0
    notes = json.loads((out / "run.json").read_text())["data_notes"]
    assert any("streams from 5 shards" in n and "not stratified" in n for n in notes)
    capsys.readouterr()
    assert main(["runs", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "\nData\n" in shown and "the vocabulary and input statistics come from" in shown
