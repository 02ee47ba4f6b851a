"""``workbench runs``: list, show, export, delete, continue; JSON output and errors."""

from __future__ import annotations

import io
import json

import pytest

from fixtures import make_image_folder, tiny_config
from workbench.cli import main
from workbench.core import config as C
from workbench.core.paths import runs_dir


@pytest.fixture
def run_id(tmp_path, capsys):
    """One real two-epoch run in the user runs folder."""
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder, "algorithm.name=classifier", "fusion.name=late",
                                "training.checkpoint_every=1", "training.epochs=2"),
                    tmp_path / "tiny.toml")
    assert main(["train", str(preset), "--json"]) == 0  # unchanged: the run is "tiny"'s
    run_dir = json.loads(capsys.readouterr().out)["run_dir"]
    return run_dir.rsplit("/", 1)[-1]


def test_list_and_show(run_id, capsys):
    assert main(["runs", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["id"] == run_id and row["status"] == "finished" and row["preset"] == "tiny"
    assert (row["algorithm"], row["fusion"], row["epochs_done"]) == ("classifier", "late", 2)
    assert "accuracy" in row["metrics"]

    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["ID", "DATE", "PRESET", "ALGORITHM"]
    assert out[1].startswith(run_id) and "finished" in out[1] and "macro_f1 0." in out[1]
    assert "(no test split)" in out[1]  # the tiny config holds none out

    assert main(["runs", "show", run_id[:10], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == run_id and [e["epoch"] for e in shown["per_epoch"]] == [1, 2]
    assert shown["metrics"] == row["metrics"]

    assert main(["runs", "show", str(runs_dir() / run_id)]) == 0
    text = capsys.readouterr().out
    assert f"Run          {run_id}" in text and "classifier + late fusion" in text
    assert "Final metrics" in text and "Per epoch" in text
    final = text.split("Final metrics\n")[1].splitlines()
    assert final[0].split() == ["METRIC", "VALIDATION", "TEST", "CHANCE"]
    f1 = next(line for line in final if line.split()[0] == "macro_f1")
    assert "*" in f1 and "no test split" in f1  # the primary metric; the tiny config
    assert "primary metric" in text and "no test split" in text.split("Warnings")[1]
    assert "effective rank" in text.split("Validation vectors")[1]
    table = text.split("Per epoch\n")[1].splitlines()
    assert table[0].split()[:3] == ["EPOCH", "STEP", "TIME"] and len(table) == 3


def test_export_and_delete(run_id, tmp_path, capsys, monkeypatch):
    assert main(["runs", "export", run_id, str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / run_id / "checkpoints" / "last.pt").is_file()
    assert "exported to" in capsys.readouterr().err
    assert main(["runs", "export", run_id, str(tmp_path / "out")]) == 1
    assert "already exists" in capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal: --yes is needed
    assert main(["runs", "delete", run_id]) == 1
    assert "without --yes" in capsys.readouterr().err and (runs_dir() / run_id).is_dir()
    assert main(["runs", "delete", str(tmp_path / "shapes"), "--yes"]) == 1
    assert "does not look like a run folder" in capsys.readouterr().err
    assert (tmp_path / "shapes").is_dir()
    assert main(["runs", "delete", run_id, "--yes"]) == 0
    assert not (runs_dir() / run_id).exists()
    assert main(["runs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_continue_into_a_new_folder(run_id, capsys):
    assert main(["runs", "continue", run_id, "--epochs", "1", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["id"] == f"{run_id}-continued" and result["continued_from"] == run_id
    assert (result["from_epoch"], result["epochs"], result["status"]) == (2, 3, "finished")
    assert "epoch 3/3" in captured.err and "epoch 2/3" not in captured.err
    assert main(["runs", "list", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[run_id]["epochs_done"] == 2  # the original is left as it was
    assert rows[result["id"]]["epochs_done"] == 3
    assert rows[result["id"]]["continued_from"] == run_id


def test_errors_exit_nonzero_with_a_message(tmp_path, capsys):
    assert main(["runs", "list"]) == 0
    assert "no runs in" in capsys.readouterr().err
    assert main(["runs", "show", "nope"]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["runs", "export", "nope", str(tmp_path)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["runs", "continue", str(tmp_path / "missing"), "--epochs", "1"]) == 1
    assert "no such run folder" in capsys.readouterr().err
    damaged = runs_dir() / "broken"
    damaged.mkdir(parents=True)
    (damaged / "run.json").write_text("{")
    assert main(["runs", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["status"] == "damaged" and "not readable JSON" in row["reason"]
    assert main(["runs", "continue", "broken", "--epochs", "1"]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["runs", "continue", "broken"])  # --epochs is required
    assert "--epochs" in capsys.readouterr().err
