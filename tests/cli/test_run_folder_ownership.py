"""A run folder belongs to one run (``workbench train --out``): a non-empty folder is
refused unless it is the one being resumed or ``--overwrite`` replaces a run folder; a lock
refuses a second writer and a stale one (its process gone) is taken over with the killed
saves' temporaries; a resume cuts the folder's curves back to its checkpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from fixtures import make_image_folder, tiny_config
from workbench.cli import main
from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.core.runs.ownership import LOCK, RunLock


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("own")
    folder = make_image_folder(tmp / "shapes")
    return C.save(tiny_config(folder, "algorithm.name=classifier", "fusion.name=late",
                              "training.checkpoint_every=1"), tmp / "tiny.toml")


def _epochs(out) -> list[int]:
    return [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()]


def _steps(out) -> list[int]:
    return [json.loads(x)["step"] for x in (out / "steps.jsonl").read_text().splitlines()]


def test_a_second_run_into_a_used_folder_is_refused_before_loading(preset, tmp_path,
                                                                    capsys):
    out = tmp_path / "reuse"
    assert main(["train", str(preset), "--epochs", "2", "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["train", str(preset), "--epochs", "1", "--out", str(out),
                 "--set", "fusion.name=mean"]) == 1
    err = capsys.readouterr().err
    assert f"--out {out} is not empty (a run folder)" in err
    assert "--overwrite" in err and "--resume" in err and "Traceback" not in err
    assert "loading" not in err.lower()  # refused before the data loaded
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_overwrite_replaces_a_run_folder_and_nothing_else(preset, tmp_path, capsys):
    out = tmp_path / "again"
    assert main(["train", str(preset), "--epochs", "2", "--out", str(out)]) == 0
    (out / "snapshots" / "stale-e0009.npz").write_bytes(b"old")
    assert main(["train", str(preset), "--epochs", "1", "--out", str(out), "--overwrite",
                 "--set", "fusion.name=mean"]) == 0
    assert _epochs(out) == [1]
    assert C.load(out / "config.toml").fusion.name == "mean"
    assert not (out / "snapshots" / "stale-e0009.npz").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    capsys.readouterr()
    assert main(["train", str(preset), "--out", str(other), "--overwrite"]) == 1
    assert "is not a run folder" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "keep me"


def test_a_resume_into_its_own_folder_cuts_the_curves_back_to_the_checkpoint(preset,
                                                                            tmp_path):
    out = tmp_path / "resumed"
    assert main(["train", str(preset), "--epochs", "2", "--out", str(out)]) == 0
    steps_per_epoch = _steps(out)[-1] // 2
    # Killed after logging epoch 3 but before its checkpoint: the logs run past it.
    with open(out / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"epoch": 3, "step": 3 * steps_per_epoch}) + "\n")
    with open(out / "steps.jsonl", "a") as fh:
        for s in range(2 * steps_per_epoch + 1, 3 * steps_per_epoch + 1):
            fh.write(json.dumps({"step": s, "epoch": 3}) + "\n")
    (out / "snapshots" / "embeddings-e0003.npz").write_bytes(b"from the killed epoch")
    assert main(["train", str(preset), "--epochs", "4", "--out", str(out), "--resume",
                 str(out / "checkpoints" / "last.pt")]) == 0
    assert _epochs(out) == [1, 2, 3, 4]
    steps = _steps(out)
    assert steps == list(range(1, 4 * steps_per_epoch + 1))
    assert (out / "snapshots" / "embeddings-e0003.npz").read_bytes() != \
        b"from the killed epoch"
    assert not (out / LOCK).exists()  # given back when the run ended


def test_a_live_writer_holds_the_folder_and_a_dead_ones_lock_is_taken_over(preset, tmp_path,
                                                                           capsys):
    out = tmp_path / "locked"
    out.mkdir()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK).write_text(json.dumps({"pid": alive.pid, "host": socket.gethostname(),
                                            "started": "then"}))
        assert main(["train", str(preset), "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert f"being written by another run (pid {alive.pid}" in err
        assert "Traceback" not in err and list(out.iterdir()) == [out / LOCK]
    finally:
        alive.kill()
        alive.wait()
    # Its process is gone now: the lock is stale. A run killed mid-save left its folder so:
    assert main(["train", str(preset), "--epochs", "1", "--out", str(out)]) == 0
    (out / LOCK).write_text(json.dumps({"pid": alive.pid, "host": socket.gethostname(),
                                        "started": "then"}))
    (out / "checkpoints" / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    assert main(["train", str(preset), "--epochs", "2", "--out", str(out), "--resume",
                 str(out / "checkpoints" / "last.pt")]) == 0
    assert not list(out.rglob("*.tmp")) and not (out / LOCK).exists()
    assert _epochs(out) == [1, 2]


def test_the_lock_itself(tmp_path):
    lock = RunLock(tmp_path)
    lock.acquire()
    assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert RunLock(tmp_path).holder()["pid"] == os.getpid()
    with pytest.raises(WorkbenchError, match="being written by another run"):
        RunLock(tmp_path).acquire()
    lock.release()
    assert not (tmp_path / LOCK).exists() and RunLock(tmp_path).holder() is None
    # another host's lock is never called stale: its pid means nothing here
    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "x"}))
    with pytest.raises(WorkbenchError, match="on elsewhere"):
        RunLock(tmp_path).acquire()


def test_an_out_that_is_a_file_is_refused_before_loading(preset, tmp_path, capsys):
    """``--out runs/base1/config.toml`` gave a FileExistsError traceback after the data
    loaded."""
    target = tmp_path / "config.toml"
    target.write_text("mine")
    assert main(["train", str(preset), "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert target.read_text() == "mine"
    assert main(["train", str(preset), "--out", str(target / "run")]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
