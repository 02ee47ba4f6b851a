"""``workbench data inspect``: human and JSON reports, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from workbench.cli import main


def inspect(capsys, *args):
    code = main(["data", "inspect", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_emoji_json(capsys):
    code, out, _ = inspect(capsys, "builtin:emoji", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["pairs"] == 1870
    assert len(report["labels"]) == 9 and sum(report["labels"].values()) == 1870
    assert report["vocab_size"] > 1000
    assert report["skipped"] == []
    assert report["images"]["most_common_size"] == [64, 64]


def test_emoji_human_report(capsys):
    code, out, _ = inspect(capsys, "builtin:emoji", "--label-column", "subgroup")
    assert code == 0
    assert "Pairs        1870" in out
    assert "in column 'subgroup'" in out


@pytest.fixture
def csv_dataset(tmp_path):
    (tmp_path / "img").mkdir()
    rows = ["path,desc,kind"]
    for i in range(12):
        Image.new("RGB", (20 + i, 10), (i * 20, 0, 0)).save(tmp_path / "img" / f"{i}.png")
        rows.append(f"img/{i}.png,a red square number {i},{'odd' if i % 2 else 'even'}")
    rows.append("img/missing.png,a square that is not there,odd")
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "pairs.csv"


def test_csv_with_explicit_columns_and_skip(capsys, csv_dataset):
    args = [str(csv_dataset), "--image-column", "path", "--text-column", "desc",
            "--label-column", "kind"]
    code, out, err = inspect(capsys, *args)
    assert code == 1
    assert "pairs.csv, row 14" in err and "image file not found" in err
    code, out, _ = inspect(capsys, *args, "--on-error", "skip", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["pairs"] == 12
    assert report["labels"] == {"even": 6, "odd": 6}
    assert report["skipped"] == [{"file": str(csv_dataset), "row": 14,
                                  "reason": "img/missing.png: image file not found"}]
    assert report["images"]["min_size"] == [20, 10]


def test_undetectable_columns_exit_nonzero(capsys, csv_dataset):
    code, out, err = inspect(capsys, str(csv_dataset))
    assert code == 1 and out == ""
    assert "pairs.csv" in err and "'path', 'desc', 'kind'" in err


def test_npz(capsys, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "f.npz", text=rng.normal(size=(30, 8)), image=rng.normal(size=(30, 5)),
             label=np.arange(30) % 3)
    code, out, _ = inspect(capsys, str(tmp_path / "f.npz"), "--json")
    report = json.loads(out)
    assert code == 0 and report["pairs"] == 30
    assert report["features"] == {"text_dim": 8, "image_dim": 5}
    assert report["labels"] == {"0": 10, "1": 10, "2": 10}
    assert report["vocab_size"] == 0


def test_missing_source(capsys, tmp_path):
    code, _, err = inspect(capsys, str(tmp_path / "nothing.csv"))
    assert code == 1 and "no such file or folder" in err


def test_console_script_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "workbench", "data", "inspect",
                             "builtin:emoji", "--json"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pairs"] == 1870


def test_inspect_and_train_an_npz_with_label_names_and_other_arrays(tmp_path, capsys):
    """A features file as scikit-learn users save it: integer labels with their names, and
    an array of ids the workbench does not read (it was refused: 'unknown array')."""
    import numpy as np
    rng = np.random.default_rng(0)
    path = tmp_path / "feats.npz"
    np.savez(path, text=rng.normal(size=(40, 6)), image=rng.normal(size=(40, 5)),
             label=np.arange(40) % 2, target_names=np.array(["cat", "dog"]),
             ids=np.arange(40))
    assert main(["data", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Note         feats.npz: array 'ids' left out" in out
    assert "cat" in out and "dog" in out
    assert main(["data", "inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["labels"] == {"cat": 20, "dog": 20} and len(report["notes"]) == 1
    assert main(["train", "classifier-late-emoji", "--data", str(path), "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "finished"


def test_inspect_says_what_training_would_refuse_or_warn_about(tmp_path, capsys):
    """Issue 17, item 16: ``data inspect`` answers "can I train on this?" with the figures."""
    rng = np.random.default_rng(0)
    path = tmp_path / "unique.npz"
    np.savez(path, text=rng.normal(size=(30, 4)), image=rng.normal(size=(30, 3)),
             label=np.arange(30))
    code, out, _ = inspect(capsys, str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["cannot_train"].startswith("nothing to validate on: 30 pairs")
    assert report["warnings"] == [
        "30 labels over 30 training pairs: a median of 1 training example per label, too few "
        "for a classifier to learn most labels (expect scores near chance); merge rare labels "
        "or load more examples of each"]
    code, out, _ = inspect(capsys, "builtin:emoji")
    assert code == 0 and "Cannot train" not in out and "Warning" not in out
