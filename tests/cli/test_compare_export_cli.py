"""``workbench compare`` and ``workbench export``: tables, JSON, run folders, files, errors."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import sys

import numpy as np
import pytest

from fixtures import make_image_folder, tiny_config
from workbench.cli import main
from workbench.core import config as C


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    folder = make_image_folder(root / "shapes", n_per_class=4)
    return C.save(tiny_config(folder, "algorithm.name=classifier"), root / "tiny.toml")


@pytest.fixture(scope="module")
def compared(preset, tmp_path_factory):
    """``workbench compare --json`` over three fusions, two epochs each."""
    out = tmp_path_factory.mktemp("cmp") / "runs"
    stdout, stderr = io.StringIO(), io.StringIO()  # capsys is per test: capture by hand
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["compare", str(preset), "--epochs", "2", "--fusions", "late,mean,gated",
                     "--out", str(out), "--json"])
    return code, json.loads(stdout.getvalue()), stderr.getvalue(), out


def test_compare_json(compared):
    code, result, err, out = compared
    assert code == 0, err
    assert result["algorithm"] == "classifier" and result["metric"] == "macro_f1"
    rows = result["rows"]
    assert [r["fusion"] for r in rows] == ["late", "mean", "gated"]
    assert all(r["status"] == "finished" and r["epochs"] == 2 for r in rows)
    assert all(0.0 <= r["value"] <= 1.0 and r["best_epoch"] in (1, 2) for r in rows)
    assert all(r["chance"] is not None and r["test_size"] == 0 for r in rows)  # tiny: no test
    assert [f["fusion"] for f in result["fusions"]] == ["late", "mean", "gated"]
    # Two epochs on 12 pairs: a winner only if one beats chance and the others
    if result["winner"] is not None:
        best = max(rows, key=lambda r: r["value"])["value"]
        assert next(r for r in rows if r["fusion"] == result["winner"])["value"] == best
    assert result["verdict"]
    assert "[1/3] late" in err and "[3/3] gated" in err and "epoch 2/2" in err
    for r in rows:
        assert r["run_dir"] == str(out / r["fusion"])
        summary = json.loads((out / r["fusion"] / "run.json").read_text())
        assert summary["fusion"] == r["fusion"] and summary["status"] == "finished"


def test_compare_table(preset, tmp_path, capsys):
    assert main(["compare", str(preset), "--epochs", "1", "--fusions", "mean,early",
                 "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["fusion", "runs", "status", "val", "macro-F1"]
    assert [line.lstrip("* ").split()[0] for line in out[1:3]] == ["mean", "early"]
    assert sum(line.startswith("*") for line in out) <= 1
    assert out[-2].startswith("chance: macro-F1")
    assert out[-1].startswith("winner: ") or out[-1].startswith("no ")


def test_compare_repeats(preset, tmp_path, capsys):
    assert main(["compare", str(preset), "--epochs", "1", "--fusions", "mean,gated",
                 "--repeats", "2", "--out", str(tmp_path / "o"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(r["fusion"], r["seed"]) for r in result["rows"]] == [
        ("mean", 0), ("mean", 1), ("gated", 0), ("gated", 1)]
    assert all(f["runs"] == 2 and len(f["values"]) == 2 and f["std"] is not None
               for f in result["fusions"])
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "gated-seed0", "gated-seed1", "mean-seed0", "mean-seed1"]


def test_compare_refuses(preset, tmp_path, capsys, compared):
    assert main(["compare", str(preset), "--fusions", "mean,nope"]) == 1
    assert "unknown fusion 'nope'" in capsys.readouterr().err
    assert main(["compare", "contrastive-emoji", "--fusions", "mean,late"]) == 1
    assert "contrastive cannot use 'late'" in capsys.readouterr().err
    # An --out folder that already holds these runs: never mixed with new ones.
    assert main(["compare", str(preset), "--fusions", "late", "--out", str(compared[3])]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert main(["compare", str(preset), "--data", str(tmp_path / "none.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_export_embeddings_csv_and_npy(compared, tmp_path, capsys):
    run = compared[3] / "mean"
    assert main(["export", "embeddings", str(run), str(tmp_path / "e.csv")]) == 0
    assert "epoch 2" in capsys.readouterr().err
    with open(tmp_path / "e.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:5] == ["row", "source_row", "caption", "label", "modality"]
    assert rows[1][2].startswith("a ") and rows[1][3] in rows[1][2]
    with np.load(run / "snapshots" / "embeddings-e0001.npz") as z:
        n = len(z["index"]) * sum(k in z.files for k in ("text", "image", "fused"))
    assert len(rows) == n + 1
    assert main(["export", "embeddings", str(run), str(tmp_path / "npy"), "--epoch", "1"]) == 0
    assert (tmp_path / "npy" / "metadata.csv").is_file()
    assert json.loads((tmp_path / "npy" / "meta.json").read_text())["epoch"] == 1
    assert main(["export", "embeddings", str(run), str(tmp_path / "x.csv"), "--epoch", "7"]) == 1
    assert "no embedding snapshot for epoch 7" in capsys.readouterr().err


def test_export_metrics(compared, tmp_path, capsys):
    assert main(["export", "metrics", str(compared[3] / "late"), str(tmp_path / "m.csv")]) == 0
    assert "2 epochs" in capsys.readouterr().err
    with open(tmp_path / "m.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[0]["val_accuracy"]
    assert main(["export", "metrics", str(tmp_path / "nope"), str(tmp_path / "m.csv")]) == 1
    assert "no such run folder" in capsys.readouterr().err


def test_export_tensorboard(compared, tmp_path, capsys, monkeypatch):
    run = str(compared[3] / "gated")
    if importlib.util.find_spec("tensorboard") is not None:
        assert main(["export", "tensorboard", run, str(tmp_path / "tb")]) == 0
        assert "tensorboard --logdir" in capsys.readouterr().err
        assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert main(["export", "tensorboard", run, str(tmp_path / "tb2")]) == 1
    assert "pip install tensorboard" in capsys.readouterr().err
    assert not (tmp_path / "tb2").exists()


def test_compare_names_runs_after_the_preset_only_while_unchanged(preset, capsys):
    """As ``train``: a preset changed by an option is not that preset's run."""
    from workbench.core.paths import runs_dir
    from workbench.core.runs.store import list_runs
    assert main(["compare", str(preset), "--fusions", "mean"]) == 0  # the preset as saved
    assert main(["compare", str(preset), "--fusions", "mean", "--epochs", "2"]) == 0
    capsys.readouterr()
    names = sorted(p.name.split("-", 2)[2] for p in runs_dir().iterdir())
    assert names == ["classifier-mean-shapes", "tiny-mean"]
    assert sorted(r.preset for r in list_runs()) == ["tiny", "tiny (changed)"]
