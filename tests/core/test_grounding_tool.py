"""``python -m workbench.tools.grounding_check`` on tiny runs: trained per seed from a preset,
and a finished run folder scored from its saved model."""

from __future__ import annotations

import json
import statistics

import pytest

from fixtures import make_colour_shape_folder, tiny_config
from workbench.core import config as C
from workbench.core.data import load_dataset
from workbench.core.evaluation import grounding as G
from workbench.core.runs.writer import RunWriter
from workbench.core.training import Trainer
from workbench.tools import grounding_check


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """A tiny co-attention preset over shapes captioned "<colour> <shape>" (labels: the
    colour), so that two of different colours and shapes share no word."""
    root = tmp_path_factory.mktemp("grounding")
    folder = make_colour_shape_folder(root / "shapes")
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=coattention",
                      "data.val_fraction=0.3", "data.test_fraction=0.2")
    return C.save(cfg, root / "tiny.toml")


def test_trains_each_seed_and_summarises(preset, capsys):
    grounding_check.main(["--preset", str(preset), "--seeds", "0,1", "--composites", "12",
                          "--set", "training.epochs=1", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = out["rows"]
    assert list(rows) == ["seed 0", "seed 1"]
    for row in rows.values():
        assert row["pointing_n"] == 12 and row["pointing_chance"] == 0.5
        assert row["pointing"] * 12 == pytest.approx(round(row["pointing"] * 12))
        assert 0 < row["t2i_entropy"] <= 1 and "t2i_foreground_gain" in row
        assert 0 <= row["accuracy"] <= 1 and "accuracy_chance" in row
    assert rows["seed 0"] != rows["seed 1"]  # another seed, another split and model
    for key in ("pointing", "t2i_entropy", "accuracy"):
        values = [r[key] for r in rows.values()]
        assert out["summary"][key]["mean"] == pytest.approx(statistics.mean(values))
        assert out["summary"][key]["sd"] == pytest.approx(statistics.stdev(values))


def test_the_table_names_every_figure(preset, capsys):
    grounding_check.main(["--preset", str(preset), "--seeds", "0", "--composites", "8"])
    text = capsys.readouterr().out
    for heading in ("entropy", "specificity", "fg gain", "pointing", "test acc", "chance"):
        assert heading in text
    assert "seed 0" in text and "composites 8 per model" in text


def test_a_run_folder_is_scored_as_its_model_was(preset, tmp_path, capsys):
    cfg = C.load(preset)
    ds = load_dataset(cfg)
    run_dir = tmp_path / "run"
    trainer = Trainer(cfg, ds, callbacks=[RunWriter(run_dir, cfg)], run_dir=run_dir)
    end = trainer.fit()
    assert end.status == "finished", end.reason
    grounding_check.main(["--run", str(run_dir), "--composites", "10", "--json"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"]["run"]
    game = G.pointing_game(trainer.model, ds, "val", n=10, seed=cfg.seed)
    stats = G.split_attention_stats(trainer.model, ds, "val")
    assert row["pointing"] == pytest.approx(game["rate"])
    assert row["t2i_entropy"] == pytest.approx(stats["t2i_entropy"])
    assert row["pairs"] == stats["pairs"] == len(ds.indices("val"))
    assert row["accuracy"] == pytest.approx(end.test_metrics["accuracy"])


def test_a_setting_the_config_refuses_is_one_clear_line(preset):
    with pytest.raises(SystemExit, match=r"^error: .*training\.nonsense"):
        grounding_check.main(["--preset", str(preset), "--seeds", "0",
                              "--set", "training.nonsense=1"])
    with pytest.raises(SystemExit, match=r"^error: .*no-such-folder"):
        grounding_check.main(["--run", str(preset.parent / "no-such-folder")])


def test_by_label_gives_each_labels_figures_per_seed_and_their_mean(preset, capsys):
    grounding_check.main(["--preset", str(preset), "--seeds", "0,1", "--composites", "8",
                          "--set", "training.epochs=1", "--by-label", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    per_seed = [row["by_label"] for row in out["rows"].values()]
    labels = sorted(per_seed[0])
    assert len(labels) >= 2 and sorted(out["by_label"]) == labels
    for label in labels:
        for key in ("pairs", "t2i_entropy"):
            values = [p[label][key] for p in per_seed if label in p]
            assert out["by_label"][label][key]["mean"] == pytest.approx(statistics.mean(values))
    # the pairs of the labels are the validation pairs
    for row in out["rows"].values():
        assert sum(v["pairs"] for v in row["by_label"].values()) == row["pairs"]
    grounding_check.main(["--preset", str(preset), "--seeds", "0", "--composites", "8",
                          "--set", "training.epochs=1", "--by-label"])
    text = capsys.readouterr().out
    assert "per label, validation" in text and labels[0] in text and "fg share" in text


def test_by_head_gives_each_co_attention_heads_own_figures(preset, capsys):
    """The drawn map is the heads' mean; --by-head scores each head's own map, heads in
    order, and a model with one head has no breakdown."""
    grounding_check.main(["--preset", str(preset), "--seeds", "0", "--composites", "8",
                          "--set", "training.epochs=1", "--set", "fusion.params.heads=2",
                          "--by-head", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = out["rows"]["seed 0"]
    assert list(row["by_head"]) == ["head 1", "head 2"] == list(out["by_head"])
    for figures in row["by_head"].values():
        assert figures["pairs"] == row["pairs"]
        assert 0.0 <= figures["t2i_entropy"] <= 1.0
    # Entropy is concave: the mean of two maps is at least as spread as the sharper one.
    assert min(f["t2i_entropy"] for f in row["by_head"].values()) <= row["t2i_entropy"] + 1e-9
    grounding_check.main(["--preset", str(preset), "--seeds", "0", "--composites", "8",
                          "--set", "training.epochs=1", "--set", "fusion.params.heads=1",
                          "--by-head"])
    assert "per head" not in capsys.readouterr().out
