"""``workbench sweep``: a study from the command line, continued, in two processes, after
kill -9, and every kind of bad input refused with a clear message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from fixtures import tiny_config
from workbench.cli import main
from workbench.core import config as C
from workbench.core.presets import load_preset
from workbench.core.sweep.study import default_storage, open_storage


@pytest.fixture
def preset(folder, tmp_path):
    return str(C.save(tiny_config(folder, "training.epochs=2"), tmp_path / "tiny.toml"))


def sweep(capsys, *args) -> tuple[int, str, dict | None]:
    code = main(["sweep", *args])
    out = capsys.readouterr()
    summary = json.loads(out.out) if out.out.strip() else None
    return code, out.err, summary


def test_a_sweep_runs_continues_and_saves_its_best_as_a_preset(preset, tmp_path, capsys):
    runs = str(tmp_path / "runs")
    code, err, s = sweep(capsys, preset, "--param", "optimizer.lr=1e-3..1e-2",
                         "--param", "model.hidden_dim=16,32", "--trials", "3",
                         "--sampler-seed", "1", "--out", runs, "--json", "--metric", "loss",
                         "--save-best", "tiny-best")
    assert code == 0, err
    assert s["trials"] == 3 and s["complete"] == 3 and s["direction"] == "minimize"
    assert s["storage"] == default_storage("tiny")
    assert set(s["best_params"]) == {"optimizer.lr", "model.hidden_dim"}
    assert err.count("complete") >= 3 and "best: trial" in err
    assert len(list(Path(runs).iterdir())) == 3
    saved = load_preset("tiny-best")
    assert saved.model.hidden_dim == s["best_params"]["model.hidden_dim"]
    assert saved.optimizer.lr == s["best_params"]["optimizer.lr"]
    assert f"best trial (#{s['best_trial']})" in saved.description
    # the same command again adds trials to the same study; without --param it goes on
    # with the study's own space
    code, err, s2 = sweep(capsys, preset, "--trials", "2", "--sampler-seed", "1", "--out", runs,
                          "--json", "--metric", "loss")
    assert code == 0, err
    assert s2["trials"] == 5 and "3 trials so far" in err


def test_the_default_metric_is_the_algorithms_primary_one(preset, tmp_path, capsys):
    code, err, s = sweep(capsys, preset, "--param", "optimizer.lr", "--trials", "1", "--out",
                         str(tmp_path / "runs"), "--json")
    assert code == 0, err
    assert s["metric"] == "mean_recall" and s["direction"] == "maximize"
    assert "test: mean_recall" not in err  # the tiny preset has no test split
    assert "no test split" in err


def test_list_params_shows_the_default_ranges(preset, capsys):
    code = main(["sweep", preset, "--list-params"])
    out = capsys.readouterr().out
    assert code == 0
    assert any(line.startswith("optimizer.lr") and "1e-05..0.1:log" in line
               for line in out.splitlines())
    assert any(line.startswith("model.patch_size") and "no default range" in line
               for line in out.splitlines())


@pytest.mark.parametrize("args, words", [
    (["--param", "optimizer.lr=abc..1"], ["optimizer.lr", "'abc'"]),
    (["--param", "optimizer.lrr"], ["optimizer.lrr", "did you mean optimizer.lr"]),
    (["--param", "optimizer.lr="], ["optimizer.lr", "empty range"]),
    (["--param", "model.hidden_dim=16,big"], ["model.hidden_dim", "'big'"]),
    (["--param", "optimizer.lr", "--trials", "0"], ["--trials", "at least 1"]),
    (["--param", "optimizer.lr", "--seeds", "0"], ["--seeds", "at least 1"]),
    (["--param", "optimizer.lr", "--jobs", "0"], ["--jobs", "at least 1"]),
    (["--param", "optimizer.lr", "--grid"], ["--grid", "optimizer.lr is a range"]),
    (["--param", "optimizer.lr", "--storage", "nosuchdb://host/x"],
     ["nosuchdb://host/x", "cannot open it"]),
    (["--param", "optimizer.lr", "--save-best", "contrastive-emoji"],
     ["built-in preset"]),
    (["--param", "optimizer.lr", "--study", "../escape"], ["study", "'../escape'"]),
    ([], ["no study 'tiny'"]),
])
def test_bad_input_is_refused_naming_what_is_wrong(preset, tmp_path, capsys, args, words):
    code, err, _ = sweep(capsys, preset, "--out", str(tmp_path / "runs"), "--metric", "loss",
                         *args)
    assert code == 1, err
    assert err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err, err
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_a_study_name_taken_by_another_space_is_refused(preset, tmp_path, capsys):
    common = ["--out", str(tmp_path / "runs"), "--metric", "loss", "--trials", "1"]
    assert sweep(capsys, preset, "--param", "optimizer.lr", *common)[0] == 0
    code, err, _ = sweep(capsys, preset, "--param", "model.hidden_dim=16,32", *common)
    assert code == 1
    assert "study 'tiny' exists with other settings" in err
    assert "optimizer.lr is searched (1e-05..0.1:log) but not in the new space" in err
    assert len(list((tmp_path / "runs").iterdir())) == 1  # the first study's one run


def _sweep_process(preset, tmp_path, *args) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "workbench", "sweep", preset, "--metric",
                             "loss", "--out", str(tmp_path / "runs"), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _trials(study_name: str):
    storage = open_storage(default_storage(study_name))
    return optuna.load_study(study_name=study_name, storage=storage).get_trials()


def test_two_processes_share_one_study_in_sqlite(preset, tmp_path):
    proc = _sweep_process(preset, tmp_path, "--param", "optimizer.lr", "--trials", "4",
                          "--jobs", "2", "--json")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["trials"] == 4 and summary["complete"] == 4
    trials = _trials("tiny")
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # two worker processes
    assert len(list((tmp_path / "runs").iterdir())) == 4


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_sweep_killed_with_sigkill_continues_without_counting_a_trial_twice(
        folder, tmp_path, jobs):
    slow = str(C.save(tiny_config(folder, "training.epochs=60"), tmp_path / "tiny.toml"))
    proc = _sweep_process(slow, tmp_path, "--param", "optimizer.lr", "--trials", "3",
                          "--jobs", jobs)
    deadline = time.monotonic() + 120
    # killed once a trial has validated an epoch (it is well into training)
    while time.monotonic() < deadline:
        try:
            if any(t.intermediate_values for t in _trials("tiny")):
                break
        except Exception:  # noqa: BLE001 - no database or no study yet
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"no trial started: {proc.communicate()[1]}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = [t.number for t in _trials("tiny")]
    time.sleep(1.0)  # a two-process sweep's workers notice their parent is gone
    again = subprocess.run([sys.executable, "-m", "workbench", "sweep", slow, "--metric",
                            "loss", "--out", str(tmp_path / "runs"), "--param", "optimizer.lr",
                            "--trials", "1", "--json"],
                           capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    trials = _trials("tiny")
    by_number = {t.number: t for t in trials}
    assert len(by_number) == len(trials) == len(killed) + 1
    for n in killed:  # the killed sweep's trials: failed, with the reason, not counted
        assert by_number[n].state.name == "FAIL"
        assert by_number[n].user_attrs["reason"] in (
            "its process ended while it ran (killed?); not counted",
            "the sweep's process ended")
    new = max(by_number)
    assert by_number[new].state.name == "COMPLETE"
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["complete"] == 1 and summary["failed"] == len(killed)


def test_a_trials_run_names_its_study_in_runs_show(preset, tmp_path, capsys):
    code, err, s = sweep(capsys, preset, "--param", "optimizer.lr", "--trials", "1", "--out",
                         str(tmp_path / "runs"), "--json", "--metric", "loss")
    assert code == 0, err
    assert main(["runs", "show", s["best_runs"][0]]) == 0
    out = capsys.readouterr().out
    assert "Sweep        study 'tiny', trial 0, seed 0" in out
    assert "Preset       tiny · tiny #0" in out
