"""Command-line paper cuts a new user met (issue 16, item 11), and what training.drop_last
says on the command line (item 10)."""

from __future__ import annotations

import json

import pytest

from fixtures import make_image_folder, make_npz, tiny_config
from workbench.cli import main
from workbench.core import config as C
from workbench.core.paths import runs_dir


@pytest.fixture
def preset(tmp_path):
    """A tiny contrastive preset on 40 feature pairs (30 for training, batches of 8)."""
    return C.save(tiny_config(make_npz(tmp_path / "f.npz", n=40), "algorithm.name=contrastive",
                              "fusion.name=mean"), tmp_path / "tiny.toml")


def test_export_takes_the_run_ids_and_prefixes_runs_show_takes(preset, tmp_path, capsys):
    assert main(["train", str(preset), "--epochs", "1"]) == 0
    capsys.readouterr()
    [run] = [p for p in runs_dir().iterdir() if p.is_dir()]
    prefix = run.name[:12]
    assert main(["runs", "show", prefix]) == 0
    capsys.readouterr()
    assert main(["export", "metrics", prefix, str(tmp_path / "m.csv")]) == 0
    assert "wrote" in capsys.readouterr().err and (tmp_path / "m.csv").is_file()
    assert main(["export", "embeddings", run.name, str(tmp_path / "e.csv")]) == 0
    assert (tmp_path / "e.csv").is_file()
    assert main(["export", "metrics", prefix, str(tmp_path / "m2.csv"), "--dir",
                 str(runs_dir())]) == 0
    # The same refusals as 'runs show': an unknown id, a path that is no folder.
    assert main(["export", "metrics", "nope", str(tmp_path / "x.csv")]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    capsys.readouterr()


def test_export_metrics_says_1_epoch(preset, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(preset), "--epochs", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "finished: trained 1 epoch;" in err
    assert main(["export", "metrics", str(out), str(tmp_path / "m.csv")]) == 0
    assert "1 epoch x" in capsys.readouterr().err


def test_a_run_refused_before_training_leaves_no_folder(tmp_path, capsys):
    # A classifier needs labels; these feature pairs have none.
    preset = C.save(tiny_config(make_npz(tmp_path / "f.npz", labels=False),
                                "algorithm.name=classifier", "fusion.name=late"),
                    tmp_path / "unlabelled.toml")
    assert main(["train", str(preset), "--json"]) == 1
    captured = capsys.readouterr()
    assert "needs labels" in captured.err
    assert json.loads(captured.out)["run_dir"] is None
    assert not runs_dir().exists() or not any(runs_dir().iterdir())
    assert main(["runs", "list"]) == 0
    assert "no runs in" in capsys.readouterr().err
    out = tmp_path / "out" / "run"
    assert main(["train", str(preset), "--out", str(out)]) == 1
    assert not out.exists()


def test_an_output_that_cannot_be_written_is_refused_before_the_data_loads(tmp_path, capsys,
                                                                           monkeypatch):
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder), tmp_path / "tiny.toml")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    import workbench.core.data as data
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    assert main(["train", str(preset), "--out", str(blocker / "run")]) == 1
    assert f"{blocker} is a file, not a folder" in capsys.readouterr().err
    import workbench.core.runs.writer as writer
    monkeypatch.setattr(writer.os, "access", lambda path, mode: False)
    assert main(["train", str(preset)]) == 1
    assert "is not writable" in capsys.readouterr().err
    assert not runs_dir().exists() or not any(runs_dir().iterdir())


def test_drop_last_is_noted_at_the_start_and_in_runs_show(preset, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(preset), "--epochs", "1", "--out", str(out)]) == 0
    note = ("each epoch trains on 24 of the 30 training pairs: training.drop_last leaves out "
            "a last, smaller batch of 6 (a different 6 each epoch)")
    assert f"cpu\n  {note}\n" in capsys.readouterr().err  # under the start line
    assert main(["runs", "show", str(out)]) == 0
    assert f"Note         {note}" in capsys.readouterr().out
    assert main(["train", str(preset), "--epochs", "1", "--out", str(tmp_path / "all"),
                 "--set", "training.drop_last=false"]) == 0
    assert "each epoch trains" not in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch, capsys):
    """`workbench data inspect X | head -1`: once head has its line, writing more fails
    with a broken pipe; the command ends with SIGPIPE's status, not a traceback."""
    import sys
    from workbench.cli import main

    class GoneReader:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", GoneReader())
    assert main(["data", "inspect", "builtin:emoji"]) == 141
