"""Compare fusions (variants, table, winner) and exports (embeddings, metrics, TensorBoard)."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

from fixtures import make_image_folder, tiny_config
from workbench.core.evaluation import compare
from workbench.core.runs import export as X
from workbench.core.algorithms import ALGORITHMS, valid_fusions
from workbench.core.errors import ConfigError, WorkbenchError
from workbench.core.fusion import FUSIONS
from workbench.core.training.events import EpochEnded, FitEnded


# ---------------------------------------------------------------- variants

@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_one_variant_per_valid_fusion(tmp_path, algorithm):
    cfg = tiny_config(tmp_path, f"algorithm.name={algorithm}",
                      f"fusion.name={valid_fusions(algorithm)[0]}", "seed=7", "optimizer.lr=0.01")
    variants = compare.fusion_variants(cfg)
    assert [v.fusion.name for v in variants] == valid_fusions(algorithm)
    for v in variants:
        assert v.fusion.params == FUSIONS[v.fusion.name].params()  # defaults
        assert (v.seed, v.algorithm, v.optimizer, v.data, v.model, v.training) == \
            (cfg.seed, cfg.algorithm, cfg.optimizer, cfg.data, cfg.model, cfg.training)
        assert v.algorithm.params is not cfg.algorithm.params  # copies, not shared


def test_current_fusion_also_gets_defaults_and_cfg_is_untouched(tmp_path):
    cfg = tiny_config(tmp_path, "algorithm.name=classifier", "fusion.name=attention",
                      "fusion.params.temperature=0.2")
    variants = compare.fusion_variants(cfg)
    attention = next(v for v in variants if v.fusion.name == "attention")
    assert attention.fusion.params.temperature == 1.0
    assert cfg.fusion.name == "attention" and cfg.fusion.params.temperature == 0.2


def test_chosen_fusions_in_order_and_invalid_ones_refused(tmp_path):
    cfg = tiny_config(tmp_path, "algorithm.name=classifier")
    assert [v.fusion.name for v in compare.fusion_variants(cfg, ["gated", "early"])] == \
        ["gated", "early"]
    graph = tiny_config(tmp_path, "algorithm.name=graph")
    with pytest.raises(ConfigError, match="early fusion merges"):
        compare.fusion_variants(graph, ["mean", "early"])


def test_variants_share_the_initial_encoders(tmp_path):
    """Same seed: the encoders, built before the fusion, start from the same weights."""
    import torch

    from workbench.core.data import load_dataset
    from workbench.core.training.model_setup import build_algorithm

    folder = make_image_folder(tmp_path / "shapes", n_per_class=2)
    cfg = tiny_config(folder, "algorithm.name=classifier")
    ds = load_dataset(cfg)
    models = []
    for v in compare.fusion_variants(cfg, ["attention", "gated"]):
        torch.manual_seed(v.seed)
        models.append(build_algorithm(v, ds.info()))
    a, b = (m.text_encoder.state_dict() for m in models)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_repeats_vary_the_seed_and_keep_the_split(tmp_path):
    cfg = tiny_config(tmp_path, "algorithm.name=classifier", "seed=7")
    variants = compare.fusion_variants(cfg, ["mean", "gated"], repeats=3)
    assert [(v.fusion.name, v.seed) for v in variants] == [
        ("mean", 7), ("mean", 8), ("mean", 9), ("gated", 7), ("gated", 8), ("gated", 9)]
    assert {v.data.split_seed for v in variants} == {7}
    with pytest.raises(ConfigError, match="repeats"):
        compare.fusion_variants(cfg, repeats=0)


def test_repeated_runs_are_scored_on_one_split(tmp_path):
    from workbench.core.data import dataset_for, load_pairs

    folder = make_image_folder(tmp_path / "shapes", n_per_class=4)
    cfg = tiny_config(folder, "algorithm.name=classifier", "data.test_fraction=0.25")
    variants = compare.fusion_variants(cfg, ["mean"], repeats=2)
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    a, b = (dataset_for(v, table).split for v in variants)
    assert a.test.tolist() == b.test.tolist() and a.val.tolist() == b.val.tolist()
    assert variants[0].seed != variants[1].seed


# ---------------------------------------------------------------- table and verdict

def _end(status, metrics, seconds=10.0, epoch=3, *, test=None, chance=None, spread=0.01,
         primary="macro_f1"):
    scores = {}
    if metrics and chance is not None:
        scores["val"] = {"metrics": metrics, "chance": {primary: chance}, "spread": spread,
                         "primary": primary, "size": 100}
    if test is not None:
        scores["test"] = {"metrics": test, "size": 100 if test else 0}
    return FitEnded(status, "why", epoch, epoch * 4, metrics, seconds, scores=scores,
                    primary=primary)


def _epochs(values, name="macro_f1"):
    return [EpochEnded(i + 1, (i + 1) * 4, {"loss": 1.0}, {name: v}, 1.0)
            for i, v in enumerate(values)]


def _fusions(tmp_path, values, *, chance=0.1, algorithm="classifier", test=None):
    """Aggregated rows of runs with macro-F1 ``values`` per fusion (a list per fusion)."""
    cfg = tiny_config(tmp_path, f"algorithm.name={algorithm}")
    names = compare.fusion_variants(cfg)
    configs, ends = [], []
    for fusion_cfg, seeds in zip(names[::1], values):
        for i, v in enumerate(seeds):
            c = fusion_cfg.copy()
            c.seed = i
            configs.append(c)
            ends.append(_end("finished", {"macro_f1": v, "accuracy": v + 0.1}, chance=chance,
                             test={"macro_f1": v - 0.01} if test is None else test))
    rows = compare.summarize(ends, configs, [_epochs([v["macro_f1"]]) for v in
                                             (e.metrics for e in ends)])
    return compare.aggregate(rows)


def test_summarize_ranks_by_the_primary_metric_with_test_and_chance(tmp_path):
    cfg = tiny_config(tmp_path, "algorithm.name=classifier")
    configs = compare.fusion_variants(cfg, ["early", "attention", "gated", "tensor"])
    ends = [_end("finished", {"accuracy": 0.9, "macro_f1": 0.4}, chance=0.1,
                 test={"macro_f1": 0.35}),
            _end("finished", {"accuracy": 0.75, "macro_f1": 0.7}, seconds=20, chance=0.1,
                 test={"macro_f1": 0.66}),
            _end("failed", {}, epoch=1),
            _end("stopped", {"accuracy": 0.9, "macro_f1": 0.9}, chance=0.1)]
    hist = [_epochs([0.3, 0.6, 0.4]), _epochs([0.5, 0.7, 0.7]), [], _epochs([0.9])]
    rows = compare.summarize(ends, configs, hist)
    assert [r["fusion"] for r in rows] == ["early", "attention", "gated", "tensor"]
    # macro-F1, the classifier's primary metric, not accuracy (on which early leads)
    assert {r["metric"] for r in rows} == {"macro_f1"}
    assert rows[0]["value"] == 0.4 and rows[0]["best_epoch"] == 2 and rows[0]["best_value"] == 0.6
    assert rows[0]["test_value"] == 0.35 and rows[0]["chance"] == 0.1
    assert rows[0]["secondary"] == "accuracy" and rows[0]["secondary_value"] == 0.9
    assert rows[1]["best_epoch"] == 2 and rows[1]["seconds"] == 20
    assert rows[2]["status"] == "failed" and rows[2]["value"] is None
    fusions = compare.aggregate(rows)
    result = compare.verdict(fusions)
    # The stopped run scored highest but trained less: it does not compete.
    assert result.winner == "attention" and "one seed" in result.reason
    text = compare.format_table(fusions, result)
    assert "macro-F1" in text.splitlines()[0]
    assert next(line for line in text.splitlines() if line.startswith("*")).split()[1] == \
        "attention"
    assert "chance: macro-F1 0.100" in text
    json.dumps(rows), json.dumps(fusions)  # the CLI prints them as JSON


def test_identical_rows_have_no_winner(tmp_path):
    fusions = _fusions(tmp_path, [[0.5], [0.5], [0.5]])
    result = compare.verdict(fusions)
    assert result.winner is None and "tie" in result.reason
    assert "mean, attention" in result.reason.replace(" and", ",") or "tie" in result.reason


def test_a_tie_on_several_seeds_has_no_winner(tmp_path):
    fusions = _fusions(tmp_path, [[0.5, 0.6], [0.6, 0.5]])
    assert compare.verdict(fusions).winner is None


def test_all_at_chance_has_no_winner(tmp_path):
    # the majority-class collapse: every fusion a little above the chance macro-F1
    fusions = _fusions(tmp_path, [[0.068], [0.069], [0.070]], chance=0.07)
    result = compare.verdict(fusions)
    assert result.winner is None and "chance" in result.reason
    assert all(f["at_chance"] for f in fusions)


def test_a_lead_within_the_seeds_noise_names_no_winner(tmp_path):
    fusions = _fusions(tmp_path, [[0.80, 0.70, 0.75], [0.78, 0.70, 0.73]])
    result = compare.verdict(fusions)
    assert result.winner is None and "noise" in result.reason
    assert fusions[0]["mean"] == pytest.approx(0.75) and fusions[0]["std"] == \
        pytest.approx(0.05)


def test_a_lead_beyond_the_seeds_noise_names_the_winner(tmp_path):
    fusions = _fusions(tmp_path, [[0.70, 0.71, 0.72], [0.80, 0.81, 0.82], [0.5, 0.5, 0.52]])
    result = compare.verdict(fusions)
    assert result.winner == fusions[1]["fusion"] and "beats the runner-up" in result.reason
    assert result.ranked[0] == fusions[1]["fusion"]
    text = compare.format_table(fusions, result)
    assert "0.810 ± 0.010" in text


def test_a_generating_gan_names_no_winner_and_says_why(tmp_path):
    cfg = tiny_config(tmp_path, "algorithm.name=adversarial")
    configs = compare.fusion_variants(cfg, ["mean", "gated"])
    ends = [_end("finished", {"loss": 2.0}, primary=None), _end("finished", {"loss": 1.0},
                                                                primary=None)]
    rows = compare.summarize(ends, configs, [_epochs([3.0, 2.0], "loss"), _epochs([1.0], "loss")])
    assert rows[0]["metric"] == "loss" and rows[0]["best_epoch"] == 2
    result = compare.verdict(compare.aggregate(rows),
                             no_primary=ALGORITHMS["adversarial"].no_primary)
    assert result.winner is None and "GAN" in result.reason


def test_no_test_split_is_said_not_made_up(tmp_path):
    fusions = _fusions(tmp_path, [[0.5], [0.7]], test={})
    assert fusions[0]["test_mean"] is None and fusions[0]["test_size"] == 0
    assert "no test split" in compare.format_table(fusions)


def test_nothing_finished(tmp_path):
    cfg = tiny_config(tmp_path, "algorithm.name=autoencoder")
    configs = compare.fusion_variants(cfg, ["mean", "gated"])
    rows = compare.summarize([_end("failed", {}, primary="mean_recall")] * 2, configs, [[], []])
    assert compare.verdict(compare.aggregate(rows)).winner is None


# ---------------------------------------------------------------- a real tiny run

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A two-epoch classifier run with a run folder, as the GUI and CLI write it."""
    from workbench.core.data import load_pairs
    from workbench.core.data.dataset import build_dataset
    from workbench.core.runs.writer import RunWriter
    from workbench.core.training import Trainer

    root = tmp_path_factory.mktemp("export")
    folder = make_image_folder(root / "shapes")
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=attention",
                      "training.epochs=2")
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    ds = build_dataset(table, cfg.preprocess, val_fraction=cfg.data.val_fraction,
                       test_fraction=0.0, seed=cfg.seed)
    run_dir = root / "run"
    end = Trainer(cfg, ds, callbacks=[RunWriter(run_dir, cfg)], run_dir=run_dir).fit()
    assert end.status == "finished"
    return run_dir, table, cfg, len(ds.indices("val"))


def test_summarize_reads_history_from_the_run_folder(run):
    run_dir, _, cfg, _ = run
    end = FitEnded("finished", "", 2, 8, json.loads((run_dir / "run.json").read_text())["metrics"],
                   1.0, str(run_dir))
    row = compare.summarize([end], [cfg])[0]
    assert row["metric"] == "macro_f1" and row["best_epoch"] in (1, 2)
    assert row["run_dir"] == str(run_dir)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_embeddings_csv(run, tmp_path):
    run_dir, table, cfg, n_val = run
    snap = X.find_snapshot(run_dir)
    assert snap.name == "embeddings-e0002.npz"
    out = X.export_embeddings(snap, table, tmp_path / "emb.csv")
    rows = _read_csv(out)
    head, body = rows[0], rows[1:]
    assert head[:5] == ["row", "source_row", "caption", "label", "modality"]
    with np.load(snap) as z:
        modalities = [m for m in ("text", "image", "fused") if m in z.files]
        width = max(z[m].shape[1] for m in modalities)
        first = {m: z[m][0] for m in modalities}
    assert len(head) == 5 + width and head[5] == "d0"
    assert len(body) == n_val * len(modalities)
    assert [r[4] for r in body[:len(modalities)]] == modalities
    row = int(body[0][0])
    assert body[0][2] == table.caption(row)  # captions by dataset row, not by split position
    assert body[0][3] == table.label_names[table.labels[row]]
    assert body[0][2].split()[1] == body[0][3]  # "a red square ..." is labelled red
    got = [float(x) for x in body[0][5:5 + len(first[modalities[0]])]]
    assert np.allclose(got, first[modalities[0]])


def test_embeddings_npy_folder_and_npz(run, tmp_path):
    run_dir, table, _, n_val = run
    snap = X.load_snapshot(X.find_snapshot(run_dir, epoch=1))
    assert snap.epoch == 1
    folder = X.export_embeddings(snap, table, tmp_path / "npy", fmt="npy")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["count"] == n_val and meta["label_names"] == table.label_names
    for m in meta["modalities"]:
        assert np.load(folder / f"{m}.npy").shape[0] == n_val
    index = np.load(folder / "index.npy")
    labels = np.load(folder / "labels.npy")
    lines = _read_csv(folder / "metadata.csv")
    assert lines[0] == ["row", "source_row", "caption", "label"] and len(lines) == n_val + 1
    assert [int(r[0]) for r in lines[1:]] == index.tolist()
    assert lines[1][2] == table.caption(int(index[0]))
    assert lines[1][3] == table.label_names[labels[0]]
    npz = X.export_embeddings(snap, table, tmp_path / "emb.npz", fmt="npy")
    with np.load(npz) as z:
        assert z["captions"][0] == table.caption(int(index[0]))
        assert z["index"].tolist() == index.tolist()


def test_embedding_export_errors(run, tmp_path):
    run_dir, table, _, _ = run
    with pytest.raises(WorkbenchError, match="unknown export format"):
        X.export_embeddings(X.find_snapshot(run_dir), table, tmp_path / "x", fmt="parquet")
    with pytest.raises(WorkbenchError, match="epochs 1, 2"):
        X.find_snapshot(run_dir, epoch=9)
    with pytest.raises(WorkbenchError, match="no embedding snapshots"):
        X.find_snapshot(tmp_path)


def test_metrics_csv(run, tmp_path):
    run_dir = run[0]
    rows = _read_csv(X.export_metrics_csv(run_dir, tmp_path / "m.csv"))
    head = rows[0]
    assert head[:4] == ["epoch", "step", "seconds", "lr"]
    assert "train_loss" in head and "val_loss" in head and "val_accuracy" in head
    assert head.index("train_loss") < head.index("val_loss")
    assert max(i for i, h in enumerate(head) if h.startswith("train_")) < \
        min(i for i, h in enumerate(head) if h.startswith("val_"))
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    assert 0.0 <= float(rows[2][head.index("val_accuracy")]) <= 1.0
    with pytest.raises(WorkbenchError, match="no metrics.jsonl"):
        X.export_metrics_csv(tmp_path, tmp_path / "m2.csv")


def test_tensorboard_log(run, tmp_path):
    pytest.importorskip("tensorboard")
    run_dir, table, _, n_val = run
    logdir = X.write_tensorboard(run_dir, tmp_path / "tb", table=table)
    assert list(logdir.glob("events.out.tfevents.*"))
    config = (logdir / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "image:00002"' in config and "metadata.tsv" in config
    assert "text+image" not in config  # a classifier's text and image share no space
    lines = (logdir / "00002" / "image" / "metadata.tsv").read_text("utf-8").splitlines()
    assert lines[0].split("\t") == ["row", "caption", "label"]
    assert len(lines) == n_val + 1
    row, caption, label = lines[1].split("\t")
    assert caption == table.caption(int(row)) and label in caption

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"step/loss", "train/loss", "val/accuracy", "epoch"} <= set(tags)
    assert [e.value for e in acc.Scalars("epoch")] == [1.0, 2.0]


def test_tensorboard_pairs_in_one_space(tmp_path):
    pytest.importorskip("tensorboard")
    from workbench.core.data import load_dataset
    from workbench.core.runs.writer import RunWriter
    from workbench.core.training import Trainer

    folder = make_image_folder(tmp_path / "shapes", n_per_class=3)
    cfg = tiny_config(folder, "algorithm.name=contrastive")
    run_dir = tmp_path / "run"
    Trainer(cfg, load_dataset(cfg), callbacks=[RunWriter(run_dir, cfg)], run_dir=run_dir).fit()
    logdir = X.write_tensorboard(run_dir, tmp_path / "tb")  # reads the data from the config
    lines = (logdir / "00001" / "text+image" / "metadata.tsv").read_text("utf-8").splitlines()
    n = (len(lines) - 1) // 2
    assert lines[0].split("\t") == ["row", "caption", "label", "modality"]
    assert [x.split("\t")[3] for x in lines[1:]] == ["text"] * n + ["image"] * n
    assert lines[1].split("\t")[1].startswith("a ")  # captions found without a table


def test_tensorboard_missing_gives_the_install_hint(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(WorkbenchError, match="pip install tensorboard"):
        X.write_tensorboard(run[0], tmp_path / "tb")
    assert not (tmp_path / "tb").exists()


def test_the_loss_column_of_a_gan_reads_loss_not_val_val_loss(tmp_path):
    cfg = tiny_config(tmp_path, "algorithm.name=adversarial")
    configs = compare.fusion_variants(cfg, ["mean", "gated"])
    rows = compare.summarize([_end("finished", {"loss": 2.0}, primary=None)] * 2, configs,
                             [_epochs([2.0], "loss")] * 2)
    head = compare.format_table(compare.aggregate(rows)).splitlines()[0]
    assert "val loss" in head and "val val" not in head
