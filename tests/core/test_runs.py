"""Run folders read back: listing, curves, damaged folders, delete, export, continue."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from fixtures import tiny_config
from workbench.core import config as C
from workbench.core.paths import runs_dir
from workbench.core.runs.continuation import continue_run
from workbench.core.runs.store import (RunError, delete_run, export_run, list_runs, load_run,
                                       read_metrics, read_run, read_steps)
from workbench.core.runs.writer import RunWriter, new_run_dir
from workbench.core.training import Callback, EventRecorder, FitStarted, StepLogged, Trainer
from workbench.core.training.checkpoint import load_checkpoint
from workbench.core.training.optim import lr_factor


def train(cfg, dataset, run_dir, resume_from=None, preset="tiny"):
    rec = EventRecorder()
    end = Trainer(cfg, dataset, callbacks=[RunWriter(run_dir, cfg, preset=preset), rec],
                  run_dir=run_dir, resume_from=resume_from).fit()
    return end, rec


def test_a_real_run_is_listed_and_read_back(folder, dataset):
    cfg = tiny_config(folder, "training.epochs=2", "optimizer.lr=0.002")
    end, rec = train(cfg, dataset, new_run_dir("tiny"))
    assert end.status == "finished", end.reason
    [info] = list_runs()
    assert info.path.parent == runs_dir() and info.status == "finished"
    assert (info.algorithm, info.fusion, info.data) == (cfg.algorithm.name, cfg.fusion.name, str(folder))
    assert info.preset == "tiny" and info.epochs == info.epochs_done == 2
    assert info.steps == end.step and info.metrics == pytest.approx(end.metrics)
    assert info.checkpoint == info.path / "checkpoints" / "last.pt" and info.seconds > 0
    assert C.load(info.path / "config.toml") == cfg  # the config that ran
    metrics = read_metrics(info)
    assert [m["epoch"] for m in metrics] == [1, 2] and metrics[-1]["step"] == end.step
    assert metrics[-1]["val"] == pytest.approx(end.metrics)
    steps = read_steps(info)
    assert [s["step"] for s in steps] == list(range(1, end.step + 1))
    assert [s["losses"] for s in steps] == [e.losses for e in rec.of(StepLogged)]
    # by id, by the start of the id, by path
    assert load_run(info.id).path == load_run(info.id[:12]).path == load_run(info.path).path
    json.dumps(info.to_dict())


def test_a_run_stopped_inside_an_epoch_counts_the_epochs_it_completed(folder, dataset):
    """Stopped at the second step of epoch 2: one epoch done, as its checkpoint says (and as
    Continue training starts from)."""
    class StopInEpochTwo(Callback):
        def on_step_end(self, trainer, event):
            if event.epoch == 2 and event.epoch_progress < 1:
                trainer.stop()

    cfg = tiny_config(folder, "training.epochs=5", "training.batch_size=4")
    run_dir = new_run_dir("tiny")
    end = Trainer(cfg, dataset, callbacks=[RunWriter(run_dir, cfg, preset="tiny"),
                                           StopInEpochTwo()], run_dir=run_dir).fit()
    assert end.status == "stopped" and end.epoch == 2
    info = read_run(run_dir)
    assert info.epochs_done == 1 == load_checkpoint(info.checkpoint)["epoch"]


def write_run(base, name, summary=None, created="2024-01-01T10:00:00", files=()):
    path = base / name
    path.mkdir(parents=True)
    (path / "config.toml").write_text('[algorithm]\nname = "classifier"\n'
                                      '[fusion]\nname = "late"\n[data]\nsource = "x.csv"\n')
    if summary is not False:
        base_summary = {"id": name, "created": created, "status": "finished", "epochs": 1,
                        "epochs_done": 1, "algorithm": "classifier", "fusion": "late",
                        "metrics": {"accuracy": 0.5}, "seconds": 1.0}
        (path / "run.json").write_text(json.dumps({**base_summary, **(summary or {})}))
    for f in files:
        (path / f).write_text("")
    return path


def test_damaged_and_partial_folders_are_listed_not_fatal(tmp_path):
    write_run(tmp_path, "good", created="2024-01-03T10:00:00")
    write_run(tmp_path, "older", created="2024-01-02T10:00:00")
    bad = write_run(tmp_path, "cut-short")
    (bad / "run.json").write_text('{"id": "cut-short", "status": "fini')
    (write_run(tmp_path, "not-an-object") / "run.json").write_text("[1, 2]")
    (write_run(tmp_path, "binary") / "run.json").write_bytes(b"\xff\xfe\x00")
    write_run(tmp_path, "no-summary", summary=False)
    write_run(tmp_path, "odd-values", {"status": "exploded", "epochs": "many", "metrics": 3})
    write_run(tmp_path, "crashed", {"status": "running", "pid": _dead_pid(),
                                    "host": os.uname().nodename})
    (tmp_path / ".partial-export").mkdir()  # hidden temporary folders are not runs
    (tmp_path / "stray.txt").write_text("not a run")
    runs = {r.id: r for r in list_runs(tmp_path)}
    assert set(runs) == {"good", "older", "cut-short", "not-an-object", "binary", "no-summary",
                         "odd-values", "crashed"}
    order = [name for name in runs if name in ("good", "older", "crashed")]
    assert order == ["good", "older", "crashed"]  # newest first (crashed: 2024-01-01)
    assert runs["good"].status == "finished" and runs["good"].metrics == {"accuracy": 0.5}
    for name in ("cut-short", "not-an-object", "binary", "odd-values"):
        assert runs[name].status == "damaged" and runs[name].reason, name
    assert "not readable JSON" in runs["cut-short"].reason
    assert runs["cut-short"].algorithm == "classifier"  # what config.toml says
    assert runs["no-summary"].status == "incomplete" and "no run.json" in runs["no-summary"].reason
    assert runs["odd-values"].epochs is None and runs["odd-values"].metrics == {}
    assert runs["crashed"].status == "interrupted"
    assert read_metrics(runs["cut-short"]) == [] and read_steps(runs["no-summary"]) == []


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_line_cut_short_by_a_crash_is_left_out(tmp_path):
    path = write_run(tmp_path, "r")
    (path / "metrics.jsonl").write_text('{"epoch": 1, "val": {}}\n{"epoch": 2, "va')
    assert read_metrics(read_run(path)) == [{"epoch": 1, "val": {}}]


def test_unknown_ids_and_ambiguous_prefixes_are_errors(tmp_path):
    write_run(tmp_path, "20240101-a")
    write_run(tmp_path, "20240101-b")
    with pytest.raises(RunError, match="matches 2 runs"):
        load_run("20240101", base=tmp_path)
    with pytest.raises(RunError, match="no run 'nope'"):
        load_run("nope", base=tmp_path)
    with pytest.raises(RunError, match="no such run folder"):
        load_run(str(tmp_path / "missing"))
    assert load_run("20240101-b", base=tmp_path).id == "20240101-b"


def test_delete_removes_a_run_and_refuses_anything_else(tmp_path):
    run = write_run(tmp_path / "runs", "r", files=("metrics.jsonl",))
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    delete_run(read_run(run))
    assert not run.exists() and list((tmp_path / "runs").iterdir()) == []

    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("precious")
    with pytest.raises(RunError, match="does not look like a run folder"):
        delete_run(project)
    mixed = write_run(tmp_path, "mixed", files=("thesis.tex",))
    with pytest.raises(RunError, match=r"holds files a run does not write \(thesis.tex\)"):
        delete_run(mixed)
    nested = write_run(tmp_path, "nested")
    (nested / "snapshots" / "deeper").mkdir(parents=True)
    with pytest.raises(RunError, match="snapshots/deeper"):
        delete_run(nested)
    with pytest.raises(RunError, match="not a folder"):
        delete_run(tmp_path / "absent")
    live = write_run(tmp_path, "live", {"status": "running", "pid": os.getpid(),
                                        "host": os.uname().nodename})
    with pytest.raises(RunError, match="still training"):
        delete_run(live)
    assert project.exists() and mixed.exists() and nested.exists() and live.exists()


def test_export_copies_everything(folder, dataset, tmp_path):
    end, _ = train(tiny_config(folder), dataset, tmp_path / "runs" / "r1")
    run = read_run(tmp_path / "runs" / "r1")
    out = export_run(run, tmp_path / "shared")
    assert out == tmp_path / "shared" / "r1"
    files = sorted(p.relative_to(run.path) for p in run.path.rglob("*"))
    assert files and sorted(p.relative_to(out) for p in out.rglob("*")) == files
    for f in files:
        if (run.path / f).is_file():
            assert (out / f).read_bytes() == (run.path / f).read_bytes(), f
    assert [p.name for p in (tmp_path / "shared").iterdir()] == ["r1"]  # no temp left
    assert read_run(out).status == "finished" and read_run(out).checkpoint == \
        out / "checkpoints" / "last.pt"
    with pytest.raises(RunError, match="already exists"):
        export_run(run, tmp_path / "shared")
    with pytest.raises(RunError, match="into itself"):
        export_run(run, run.path / "inside")


def test_continuing_resumes_at_the_right_epoch_and_step_with_the_optimiser_state(
        folder, dataset, tmp_path):
    cfg2 = tiny_config(folder, "training.epochs=2", "training.checkpoint_every=1")
    first, _ = train(cfg2, dataset, tmp_path / "runs" / "short")
    _, straight = train(tiny_config(folder, "training.epochs=3"), dataset, tmp_path / "full")

    plan = continue_run(read_run(tmp_path / "runs" / "short"), 1)
    assert (plan.from_epoch, plan.from_step, plan.epochs) == (2, first.step, 3)
    assert plan.config == C.apply_overrides(cfg2, ["training.epochs=3"])
    assert plan.run_dir == tmp_path / "runs" / "short-continued" and not plan.run_dir.exists()
    run_dir = plan.prepare()
    assert read_run(run_dir).status == "continuing"
    end, rec = train(plan.config, dataset, run_dir, resume_from=plan.checkpoint)
    assert end.status == "finished", end.reason
    assert rec.of(FitStarted)[0].start_epoch == 3
    resumed = rec.of(StepLogged)
    assert resumed[0].step == first.step + 1 and resumed[0].epoch == 3
    # same weights, optimiser moments and shuffling as a straight three-epoch run
    expected = [e.losses for e in straight.of(StepLogged) if e.epoch == 3]
    assert [e.losses for e in resumed] == [pytest.approx(s, rel=1e-5) for s in expected]
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert (ckpt["epoch"], ckpt["step"]) == (3, end.step)

    info = read_run(run_dir)  # the new folder has the whole history, the original is intact
    assert info.status == "finished" and info.continued_from == "short"
    assert (info.epochs, info.epochs_done, info.steps) == (3, 3, end.step)
    assert [m["epoch"] for m in read_metrics(info)] == [1, 2, 3]
    assert [s["step"] for s in read_steps(info)] == list(range(1, end.step + 1))
    seconds = [m["seconds"] for m in read_metrics(info)]
    assert seconds == sorted(seconds) and info.seconds >= seconds[-1]
    original = read_run(tmp_path / "runs" / "short")
    assert original.status == "finished" and original.epochs_done == 2
    assert [m["epoch"] for m in read_metrics(original)] == [1, 2]
    assert continue_run(original, 1).run_dir.name == "short-continued-2"
    assert continue_run(info, 1).run_dir.name == "short-continued-2"


class KeepCheckpoint(Callback):
    """Keeps a copy of the checkpoint of epoch ``epoch``."""

    def __init__(self, epoch, dest):
        self.epoch, self.dest = epoch, dest

    def on_checkpoint(self, trainer, event):
        if event.epoch == self.epoch:
            shutil.copy(event.path, self.dest)


def test_continuing_in_place_drops_what_came_after_the_checkpoint(folder, dataset, tmp_path):
    cfg = tiny_config(folder, "training.epochs=3", "training.checkpoint_every=1")
    run_dir = tmp_path / "r"
    keep = KeepCheckpoint(2, tmp_path / "epoch2.pt")
    Trainer(cfg, dataset, callbacks=[RunWriter(run_dir, cfg), keep], run_dir=run_dir).fit()
    # as if the run had failed in epoch 3, after its last good checkpoint (epoch 2)
    shutil.copy(tmp_path / "epoch2.pt", run_dir / "checkpoints" / "last.pt")
    run = read_run(run_dir)
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2, 3]
    assert (run_dir / "snapshots" / "embeddings-e0003.npz").is_file()
    plan = continue_run(run, 2, in_place=True)
    assert plan.run_dir == run.path and plan.from_epoch == 2 and plan.epochs == 4
    assert plan.prepare() == run.path
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2]
    assert read_steps(run)[-1]["step"] == plan.from_step
    assert not (run_dir / "snapshots" / "embeddings-e0003.npz").exists()
    assert read_run(run.path).status == "continuing"
    end, rec = train(plan.config, dataset, run.path, resume_from=plan.checkpoint)
    assert end.status == "finished" and rec.of(StepLogged)[0].epoch == 3
    after = read_run(run.path)
    assert after.epochs_done == 4 and after.created == run.created
    assert [m["epoch"] for m in read_metrics(after)] == [1, 2, 3, 4]
    assert [s["step"] for s in read_steps(after)] == list(range(1, end.step + 1))


def test_continuing_a_cosine_run_goes_on_learning(folder, dataset, tmp_path):
    """A cosine schedule ends at rate 0: the continued run re-plans it for the new epochs
    instead of training its first extra epoch at rate 0."""
    cfg = tiny_config(folder, "training.epochs=2", "optimizer.schedule=cosine")
    _, rec = train(cfg, dataset, tmp_path / "r")
    assert rec.of(StepLogged)[-1].lr > 0 and read_metrics(tmp_path / "r")[-1]["lr"] == 0
    original = (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes()
    plan = continue_run(read_run(tmp_path / "r"), 2)
    plan.prepare()
    assert plan.checkpoint == plan.run_dir / "checkpoints" / "last.pt"
    end, rec = train(plan.config, dataset, plan.run_dir, resume_from=plan.checkpoint)
    lrs = sorted({s.lr for s in rec.of(StepLogged)}, reverse=True)
    assert lrs == pytest.approx([1e-3 * lr_factor(plan.config.optimizer, 4, e) for e in (2, 3)])
    assert (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes() == original  # untouched


def test_continuing_needs_a_checkpoint_and_a_positive_count(tmp_path):
    run = read_run(write_run(tmp_path, "r"))
    with pytest.raises(RunError, match="no checkpoint"):
        continue_run(run, 1)
    with pytest.raises(RunError, match="extra epochs"):
        continue_run(run, 0)


def test_an_older_run_folder_reads_with_its_pooled_median_renamed(tmp_path):
    """Before per-direction medians a run had one median over both directions' ranks,
    ``median_rank``: read back, it is never taken for either direction's."""
    import json
    run = tmp_path / "old-run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "status": "finished", "algorithm": "contrastive", "fusion": "mean",
        "metrics": {"t2i_r10": 0.5, "median_rank": 7.0}}))
    (run / "metrics.jsonl").write_text(json.dumps({
        "epoch": 1, "step": 3, "train": {"loss": 1.0},
        "val": {"loss": 1.1, "median_rank": 9.0}}) + "\n")
    info = read_run(run)
    assert info.metrics == {"t2i_r10": 0.5, "pooled_median_rank": 7.0}
    assert read_metrics(run)[0]["val"] == {"loss": 1.1, "pooled_median_rank": 9.0}
    assert info.test_metrics == {} and info.test_size is None and info.primary is None
