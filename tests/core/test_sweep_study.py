"""Sweeps on a tiny data set: pruning, seeds, failed trials, the stored study and its checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import tiny_config
from workbench.core import config as C
from workbench.core.errors import ConfigError
from workbench.core.sweep import space as S
from workbench.core.sweep.analysis import trial_rows
from workbench.core.sweep.runner import SweepOptions, SweepRunner
from workbench.core.sweep.study import (SweepError, SweepSpec, fail_lost_trials, list_studies,
                                        open_storage, open_study, sqlite_url)


def spec_for(cfg, params, *, metric="loss", direction="minimize", **kw) -> SweepSpec:
    return SweepSpec("tiny", C.to_dict(cfg), S.build_space(params, cfg), metric, direction,
                     **kw)


def run(spec, tmp_path, trials, *, enqueue=(), name="t", **opts):
    events = []
    runner = SweepRunner(spec, sqlite_url(tmp_path / "s.db"), name,
                         SweepOptions(trials=trials, runs_base=str(tmp_path / "runs"), **opts),
                         on_event=events.append)
    study = runner.open()
    for params in enqueue:  # these settings first, in this order: the test's construction
        study.enqueue_trial(params)
    return runner.run(), study, events


def test_a_trial_far_below_the_median_is_pruned_and_its_run_says_so(folder, tmp_path):
    cfg = tiny_config(folder, "training.epochs=4")
    spec = spec_for(cfg, ["optimizer.lr=1e-6..1e-2:log"], prune_startup_trials=2,
                    prune_warmup_epochs=1)
    # three trials that learn, then one whose learning rate is a thousand times too small:
    # its validation loss after epoch 1 is above every earlier trial's at epoch 1
    summary, study, events = run(spec, tmp_path, 4, enqueue=[{"optimizer.lr": 1e-2}] * 3 +
                                 [{"optimizer.lr": 1e-6}])
    rows = trial_rows(study)
    assert [r["state"] for r in rows] == ["complete", "complete", "complete", "pruned"]
    assert rows[3]["epochs"] == 1 and rows[0]["epochs"] == 4
    assert rows[3]["reason"] == "pruned after epoch 1"
    assert summary["pruned"] == 1 and summary["complete"] == 3 and summary["epochs"] == 13
    assert summary["best_params"] == {"optimizer.lr": 1e-2}
    pruned_run = json.loads((Path(rows[3]["runs"][0]) / "run.json").read_text())
    assert pruned_run["status"] == "stopped"
    assert pruned_run["reason"].startswith("pruned by the sweep (trial 3)")
    assert pruned_run["sweep"]["study"] == "t" and pruned_run["sweep"]["trial"] == 3
    # the pruner saw the first epochs of every trial
    assert rows[0]["intermediate"].keys() == {1, 2, 3, 4}
    ended = [e for e in events if e["event"] == "ended"]
    assert [e["state"] for e in ended] == ["complete"] * 3 + ["pruned"]


def test_without_pruning_the_same_trial_trains_to_the_end(folder, tmp_path):
    cfg = tiny_config(folder, "training.epochs=3")
    spec = spec_for(cfg, ["optimizer.lr=1e-6..1e-2:log"], prune_startup_trials=1,
                    prune_warmup_epochs=0, pruner="none")
    summary, study, _ = run(spec, tmp_path, 3,
                            enqueue=[{"optimizer.lr": 1e-2}] * 2 + [{"optimizer.lr": 1e-6}])
    assert summary["pruned"] == 0 and summary["epochs"] == 9


def test_each_trial_is_the_mean_over_seeds_on_one_split(folder, tmp_path):
    cfg = tiny_config(folder, "training.epochs=2", "seed=5")
    spec = spec_for(cfg, ["model.hidden_dim=16,24"], seeds=2)
    summary, study, _ = run(spec, tmp_path, 1, sampler_seed=0)
    (row,) = trial_rows(study)
    assert row["state"] == "complete" and row["epochs"] == 4
    values = study.trials[0].user_attrs["seed_values"]
    assert len(values) == 2 and row["value"] == pytest.approx(sum(values) / 2)
    configs = [C.load(Path(r) / "config.toml") for r in row["runs"]]
    assert [c.seed for c in configs] == [5, 6]
    assert {c.data.split_seed for c in configs} == {5}  # the base seed's split, for both
    tags = [json.loads((Path(r) / "run.json").read_text())["sweep"] for r in row["runs"]]
    assert [t["seed"] for t in tags] == [5, 6] and {t["trial"] for t in tags} == {0}


def test_a_trial_whose_settings_the_config_refuses_fails_and_the_study_goes_on(folder,
                                                                                tmp_path):
    cfg = tiny_config(folder, "model.image_encoder=patch", "model.patch_size=4",
                      "training.epochs=1")
    spec = spec_for(cfg, ["model.patch_size=3,4"])
    summary, study, _ = run(spec, tmp_path, 2, enqueue=[{"model.patch_size": 3},
                                                        {"model.patch_size": 4}])
    rows = trial_rows(study)
    assert [r["state"] for r in rows] == ["fail", "complete"]
    assert "patch_size = 3 does not divide preprocess.image_size = 16" in rows[0]["reason"]
    assert rows[0]["runs"] == []  # refused before a run started
    assert summary["failed"] == 1 and summary["best_params"] == {"model.patch_size": 4}


def test_a_metric_no_run_reports_ends_the_study_after_one_trial(folder, tmp_path):
    cfg = tiny_config(folder, "training.epochs=2")
    spec = spec_for(cfg, ["optimizer.lr"], metric="accuracy", direction="maximize")
    summary, study, events = run(spec, tmp_path, 3)
    assert summary["trials"] == 1 and summary["failed"] == 1
    errors = [e["message"] for e in events if e["event"] == "error"]
    assert errors and "reports no 'accuracy'" in errors[0] and "mean_recall" in errors[0]


def test_a_study_with_another_space_or_config_is_refused_naming_the_difference(folder,
                                                                               tmp_path):
    cfg = tiny_config(folder)
    storage = open_storage(sqlite_url(tmp_path / "s.db"))
    open_study(storage, "s", spec_for(cfg, ["optimizer.lr", "model.hidden_dim=16,32"]))
    open_study(storage, "s", spec_for(cfg, ["optimizer.lr", "model.hidden_dim=16,32"]))
    with pytest.raises(SweepError) as err:
        open_study(storage, "s", spec_for(cfg, ["optimizer.lr=1e-4..1e-2"]))
    text = str(err.value)
    assert "optimizer.lr: 1e-05..0.1:log in the study, 0.0001..0.01:log now" in text
    assert "model.hidden_dim is searched (16,32) but not in the new space" in text
    assert "--study NEW_NAME" in text
    other = C.apply_overrides(cfg, ["training.epochs=7"])
    with pytest.raises(SweepError, match=r"training.epochs: 1 in the study, 7 now"):
        open_study(storage, "s", spec_for(other, ["optimizer.lr",
                                                  "model.hidden_dim=16,32"]))
    with pytest.raises(SweepError, match="metric: loss in the study, mean_recall now"):
        open_study(storage, "s", spec_for(cfg, ["optimizer.lr", "model.hidden_dim=16,32"],
                                          metric="mean_recall", direction="minimize"))


def test_storage_that_cannot_be_used_is_refused_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SweepError, match="cannot make its folder"):
        open_storage(sqlite_url(blocker / "sub" / "s.db"))
    with pytest.raises(SweepError, match=r"storage nosuchdb://x: cannot open it"):
        open_storage("nosuchdb://x")
    not_a_db = tmp_path / "text.db"
    not_a_db.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(SweepError, match="text.db: cannot open it"):
        open_storage(sqlite_url(not_a_db))


def _open_together(url, barrier, answers):
    """One process of the race below: open ``url`` the moment every process is ready."""
    barrier.wait()
    try:
        open_storage(url)
        answers.put("ok")
    except SweepError as exc:
        answers.put(str(exc))


def test_processes_opening_one_new_storage_at_once_all_open_it(tmp_path):
    # Optuna's check-then-create of its tables is not atomic; before the retry, half such
    # rounds failed with "table ... already exists" (a sweep and a viewer started together)
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(4):
        url = sqlite_url(tmp_path / f"race{round_}.db")
        barrier, answers = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_together, args=(url, barrier, answers))
                 for _ in range(4)]
        for proc in procs:
            proc.start()
        got = [answers.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert got == ["ok"] * 4, got
        assert open_storage(url).get_all_studies() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_storage_file_is_refused(tmp_path):
    path = tmp_path / "s.db"
    open_storage(sqlite_url(path))
    path.chmod(0o444)
    with pytest.raises(SweepError, match="read-only"):
        open_storage(sqlite_url(path))


def test_a_trial_left_running_by_a_dead_process_is_marked_failed(folder, tmp_path):
    cfg = tiny_config(folder)
    storage = open_storage(sqlite_url(tmp_path / "s.db"))
    study = open_study(storage, "s", spec_for(cfg, ["optimizer.lr"]))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = study.ask()
    alive.set_user_attr("pid", os.getpid())
    alive.set_user_attr("host", os.uname().nodename)
    lost = study.ask()
    lost.set_user_attr("pid", dead.pid)
    lost.set_user_attr("host", os.uname().nodename)
    assert fail_lost_trials(study) == [lost.number]
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states == {alive.number: "RUNNING", lost.number: "FAIL"}
    assert "killed" in study.trials[lost.number].user_attrs["reason"]


def test_options_are_checked_before_anything_runs():
    for kw, key in (({"trials": 0}, "--trials"), ({"trials": 1, "jobs": 0}, "--jobs"),
                    ({"trials": 1, "timeout": -1}, "--timeout")):
        with pytest.raises(ConfigError, match=key):
            SweepOptions(**kw).check()


def test_the_sweeps_folder_lists_the_studies(folder, tmp_path, monkeypatch):
    from workbench.core.sweep.study import default_storage, sweeps_dir
    cfg = tiny_config(folder)
    for name in ("a", "b"):
        open_study(open_storage(default_storage(name)), name, spec_for(cfg, ["optimizer.lr"]))
    (sweeps_dir() / "junk.db").write_text("not a database")
    found = {s.name: s for s in list_studies()}
    assert set(found) == {"a", "b"} and found["a"].metric == "loss"
    assert found["a"].trials == 0 and found["a"].best is None


def test_best_so_far_follows_the_direction_and_skips_unfinished_trials():
    from workbench.core.sweep.analysis import best_so_far
    rows = [{"number": 0, "state": "complete", "value": 0.3},
            {"number": 1, "state": "pruned", "value": 0.9},
            {"number": 2, "state": "complete", "value": 0.5},
            {"number": 3, "state": "fail", "value": None},
            {"number": 4, "state": "complete", "value": 0.4},
            {"number": 5, "state": "complete", "value": float("nan")}]
    assert best_so_far(rows, "maximize") == [(0, 0.3), (2, 0.5), (4, 0.5)]
    assert best_so_far(rows, "minimize") == [(0, 0.3), (2, 0.3), (4, 0.3)]


def test_importances_name_the_setting_that_decides_the_value(tmp_path):
    import optuna

    from workbench.core.sweep.analysis import importances
    study = optuna.create_study(storage=sqlite_url(tmp_path / "i.db"),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    assert importances(study) == {}
    for _ in range(30):
        t = study.ask()
        x, y = t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)
        study.tell(t, 10 * x + 0.01 * y)  # x decides, y hardly matters
    shares = importances(study)
    assert list(shares) == ["x", "y"] and shares["x"] > 0.9
