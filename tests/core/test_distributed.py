"""Multi-process training: the sampler's sharding, the refusals, and a real two-process
``torchrun`` run (gloo, CPU) that must reproduce the one-process run with the same global
batch."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fixtures import tiny_config

from workbench.cli import main as cli_main
from workbench.core import config as C
from workbench.core.algorithms import ALGORITHMS
from workbench.core.data import load_dataset
from workbench.core.training import EventRecorder, StepLogged, Trainer, distributed
from workbench.core.training.checkpoint import load_checkpoint

# Why 1e-5: with SGD an update is linear in the gradient, and the two runs' gradients differ
# only in the order float32 sums are taken (each process's share mean, then the weighted sum
# across processes): a few ulps (float32 eps = 1.2e-7) of weights and losses of size ~1 per
# step. Over this run's 6 steps the measured difference is <= 5e-7 (weights, losses and
# validation metrics); each mistake this test exists for moves the losses by 5e-4 or more
# (measured: unequal shares weighted equally 1.4e-3, InfoNCE over each process's share
# instead of the global batch 0.8, the word weighting of each share instead of the global
# batch's 5e-4). (Adam is not used here: it rescales each gradient by its own running
# size, so a parameter whose true gradient is exactly zero, such as an attention key bias,
# takes lr-sized steps driven by rounding noise, which differs between the runs.)
TOLERANCE = 1e-5
REPO = Path(__file__).parents[2]


# -- the sampler ---------------------------------------------------------------------------
@pytest.mark.parametrize("n, world", [(8, 2), (7, 2), (5, 3), (3, 3)])
def test_shards_are_disjoint_and_rebuild_the_batch_in_order(n, world):
    index = torch.randperm(100)[:n]
    parts = [distributed.shard(index, r, world) for r in range(world)]
    assert torch.equal(torch.cat(parts), index)
    assert [len(p) for p in parts] == distributed.split_sizes(n, world)
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1


def test_sharded_batches_split_each_global_batch(dataset):
    """Every rank cuts the same permutation into the same global batches: their shares
    together are the one-process batches, in order, with no pair twice."""
    world, size = 2, 5  # 18 training pairs: batches of 5, 5, 5, 3
    one = [b.index for b in dataset.batches("train", size, shuffle=True,
                                            generator=torch.Generator().manual_seed(3))]
    shares = [[b.index for b in dataset.batches("train", size, shuffle=True,
                                                generator=torch.Generator().manual_seed(3),
                                                shard=(r, world))] for r in range(world)]
    assert len(shares[0]) == len(shares[1]) == len(one)
    for k, batch in enumerate(one):
        assert torch.equal(torch.cat([shares[r][k] for r in range(world)]), batch)
    seen = torch.cat([i for rank in shares for i in rank])
    assert len(seen.unique()) == len(seen) == len(dataset.indices("train"))


def test_a_last_batch_smaller_than_the_group_is_dropped(dataset):
    # 18 training pairs in batches of 17: the last batch has 1 pair for 2 processes.
    shares = [list(dataset.batches("train", 17, shard=(r, 2))) for r in range(2)]
    assert [len(b) for b in shares[0]] == [9] and [len(b) for b in shares[1]] == [8]


# -- refusals ------------------------------------------------------------------------------
def test_only_the_graph_algorithm_is_refused_with_its_reason():
    assert "whole graph" in distributed.refusal("graph")
    assert [a for a in ALGORITHMS if distributed.refusal(a)] == ["graph"]


def test_cli_refuses_graph_under_torchrun_before_loading_data(folder, tmp_path, monkeypatch,
                                                              capsys):
    preset = C.save(tiny_config(folder, "algorithm.name=graph", "fusion.name=mean"),
                    tmp_path / "graph.toml")
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it; no group is joined
    monkeypatch.setenv("RANK", "0")
    assert cli_main(["train", str(preset), "--out", str(tmp_path / "run")]) == 1
    assert "multi-process training cannot run Graph" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_one_process_trainer_has_no_group(dataset):
    trainer = Trainer(tiny_config("unused"), dataset)
    assert trainer.dist is None and trainer.is_main


class _NoSync:
    """Stands in for the gradient averaging of a one-rank stand-in group."""

    name = "none"

    def begin_step(self, local_size: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_stop_arriving_after_the_ranks_agreed_waits_for_the_next_agreement(
        dataset, monkeypatch):
    """A Ctrl-C that lands on one rank between a step's all-reduce (which agreed to go on)
    and the end of the step must not stop that rank alone: the others would enter the next
    step's collective and fail with "connection closed by peer" (seen in CI). The rank
    carries its wish into the next step's all-reduce, and all stop after that one."""
    cfg = tiny_config("unused", "algorithm.name=contrastive", "fusion.name=mean",
                      "training.batch_size=4", "training.epochs=50")
    calls: list[bool] = []

    def reduce_step(values, local_size, stop, device):
        calls.append(stop)
        if len(calls) == 1:
            trainer.stop()  # the signal, just after the group agreed to go on
            return values, local_size, False
        return values, local_size, stop  # a one-rank group agrees with its rank

    monkeypatch.setattr(distributed, "reduce_step", reduce_step)
    monkeypatch.setattr(distributed, "broadcast_module", lambda model: None)
    monkeypatch.setattr(distributed, "gradient_sync", lambda model, optim, ctx: _NoSync())
    recorder = EventRecorder()
    trainer = Trainer(cfg, dataset, callbacks=[recorder])
    trainer.dist = distributed.Context(0, 2, 0, torch.device("cpu"), "gloo")
    end = trainer.fit()
    assert end.status == "stopped", end.reason
    assert calls == [False, True]
    assert [e.step for e in recorder.events if isinstance(e, StepLogged)] == [1, 2]


# -- two processes against one -------------------------------------------------------------
def _vary_caption_lengths(folder: Path, dest: Path) -> Path:
    """A copy of the shapes folder whose captions have 5 to 8 distinct words, so the share
    of present words (the bag-of-words BCE's weighting) differs between batches."""
    shutil.copytree(folder, dest)
    extra = ["", "small", "small bright", "small bright shiny"]
    meta = dest / "metadata.jsonl"
    rows = [json.loads(line) for line in meta.read_text().splitlines()]
    for i, row in enumerate(rows):
        row["text"] = f"{row['text']} {extra[i % 4]}".strip()
    meta.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dest


def _torchrun(preset: Path) -> list[str]:
    """``workbench train PRESET`` in 2 processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node=2", "-m", "workbench", "train", str(preset)]


def _torchrun_train(cfg: C.ExperimentConfig, tmp_path: Path) -> tuple[dict, Path, str]:
    """``workbench train`` of ``cfg`` in 2 gloo processes: its JSON result, run folder and
    stderr (the run must finish)."""
    preset = C.save(cfg, tmp_path / "ddp.toml")
    out = tmp_path / "run"
    proc = subprocess.run([*_torchrun(preset), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=120, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Only rank 0 prints and writes: one start line, one JSON object.
    assert proc.stderr.count(f"training {cfg.algorithm.name}") == 1
    assert len(proc.stdout.strip().splitlines()) == 1
    result = json.loads(proc.stdout)
    assert result["processes"] == 2 and result["status"] == "finished"
    return result, out, proc.stderr


def _assert_matches_one_process(cfg: C.ExperimentConfig, result: dict, out: Path,
                                steps: int) -> None:
    """The one-process run of ``cfg`` logs the same losses, validates to the same metrics
    and ends with the same weights as the two-process run in ``out``, within TOLERANCE."""
    recorder = EventRecorder()
    trainer = Trainer(cfg, load_dataset(cfg), callbacks=[recorder])
    assert trainer.fit().status == "finished"

    one_steps = [e.losses for e in recorder.events if isinstance(e, StepLogged)]
    two_steps = [json.loads(line)["losses"]
                 for line in (out / "steps.jsonl").read_text().splitlines()]
    assert len(one_steps) == len(two_steps) == steps
    for a, b in zip(one_steps, two_steps):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=TOLERANCE, abs=TOLERANCE), k
    for k, v in trainer.last_val.items():  # losses and rank metrics alike
        assert result["metrics"][k] == pytest.approx(v, rel=TOLERANCE, abs=TOLERANCE), k

    two = load_checkpoint(out / "checkpoints" / "last.pt")["model"]
    one = trainer.model.state_dict()
    assert one.keys() == two.keys()
    worst = max((one[k].float() - two[k].float()).abs().max().item() for k in one)
    assert worst < TOLERANCE


def test_two_processes_match_one_process_with_the_same_global_batch(folder, tmp_path):
    """The autoencoder with InfoNCE correlation on caption tokens covers every mechanism: a
    per-sample loss (pixel MSE), a batch-coupled one (InfoNCE, gathered across processes), a
    batch-level weighting (bag-of-words BCE), and shares of unequal size (batch 7 of 18
    training pairs: 4+3, 4+3, 2+2; the last, smaller batch kept: training.drop_last off),
    through PyTorch's DistributedDataParallel. Dropout and augmentation are off: they draw
    different random numbers in each process, by design."""
    data = _vary_caption_lengths(folder, tmp_path / "shapes")
    cfg = tiny_config(data, "algorithm.name=autoencoder", "fusion.name=attention",
                      "algorithm.params.corr_loss=infonce", "algorithm.params.corr_weight=1.0",
                      "model.dropout=0.0", "training.augment_images=false",
                      "training.batch_size=7", "training.epochs=2", "optimizer.name=sgd",
                      "optimizer.lr=0.1", "training.drop_last=false")
    result, out, stderr = _torchrun_train(cfg, tmp_path)
    assert result["gradient_sync"] == "DistributedDataParallel"
    assert "2 processes (gloo, gradients averaged by DistributedDataParallel)" in stderr
    _assert_matches_one_process(cfg, result, out, steps=6)


def test_parameters_a_configuration_never_uses_stay_without_gradient(folder, tmp_path):
    """Under early fusion the classifier never reads its encoders: DDP (static graph) must
    leave their gradients at None, as one process does, and still match it. AdamW with
    weight decay shrinks every weight that has a gradient, even a zero one, so a zero
    gradient where one process has none would move those weights."""
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=early",
                      "model.dropout=0.0", "training.augment_images=false",
                      "training.batch_size=7", "training.epochs=2", "optimizer.name=adamw",
                      "optimizer.weight_decay=0.1", "training.drop_last=false")
    result, out, _ = _torchrun_train(cfg, tmp_path)
    assert result["gradient_sync"] == "DistributedDataParallel"
    _assert_matches_one_process(cfg, result, out, steps=6)
    start = Trainer(cfg, load_dataset(cfg))
    start._setup()  # the weights before training: the unused encoders' must not have moved
    two = load_checkpoint(out / "checkpoints" / "last.pt")["model"]
    for name, value in start.model.state_dict().items():
        if name.startswith("text_encoder."):
            assert torch.equal(value, two[name]), name


def test_an_algorithm_that_owns_its_step_averages_gradients_explicitly(folder, tmp_path):
    """The adversarial step (two optimisers, several backwards per batch) does not fit DDP's
    one-forward-one-backward reducer: it trains under torchrun with the explicit
    all-reduce."""
    cfg = tiny_config(folder, "algorithm.name=adversarial", "algorithm.params.mode=align",
                      "fusion.name=mean", "training.batch_size=7", "training.epochs=1")
    result, _, _ = _torchrun_train(cfg, tmp_path)
    assert result["gradient_sync"] == "explicit all-reduce"


def test_ctrl_c_stops_every_process_and_the_run_continues_with_resume(folder, tmp_path):
    """A terminal's Ctrl-C reaches torchrun and both ranks (one process group); torchrun
    then forwards its own SIGINT. Both ranks must stop after the same step, rank 0 write
    the checkpoint and a "stopped" run, and ``--resume`` finish the run from there."""
    cfg = tiny_config(folder, "algorithm.name=contrastive", "fusion.name=mean",
                      "training.batch_size=8", "training.epochs=10000")
    preset = C.save(cfg, tmp_path / "long.toml")
    out = tmp_path / "run"
    command = _torchrun(preset)
    proc = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            cwd=REPO)
    try:
        steps = out / "steps.jsonl"
        deadline = time.monotonic() + 120
        while not (steps.is_file() and steps.read_text().count("\n") >= 5):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert json.loads((out / "run.json").read_text())["status"] == "stopped", stderr[-3000:]
    assert stderr.count("stopping after this step") == 1  # rank 0 alone speaks
    # No rank failed (torchrun's own SignalException traceback is not ours to judge).
    assert not [line for line in stderr.splitlines() if line.startswith("error")], stderr
    done = load_checkpoint(out / "checkpoints" / "last.pt")["epoch"]
    assert done < 10000

    resumed = subprocess.run(
        [*command, "--out", str(tmp_path / "resumed"), "--json", "--resume",
         str(out / "checkpoints" / "last.pt"), "--set", f"training.epochs={done + 2}"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout)
    assert result["status"] == "finished" and result["epochs"] == done + 2


def test_a_fine_tuned_pretrained_image_model_trains_in_two_processes_as_in_one(folder,
                                                                                tmp_path):
    """A fine-tuned ViT (its last layer trains, the rest stays frozen with no gradient, its
    features cached by whichever rank gets there first) under DistributedDataParallel."""
    pytest.importorskip("transformers")
    from pretrained_models import tiny_vit
    vit = tiny_vit(tmp_path / "vit")
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=mean",
                      "model.image_encoder=pretrained", f"model.image_model={vit}",
                      "model.pretrained_mode=finetune", "model.finetune_layers=1",
                      "optimizer.pretrained_frozen_epochs=0",
                      "model.dropout=0.0", "training.batch_size=7", "training.epochs=2",
                      "optimizer.name=sgd", "optimizer.lr=0.1", "training.drop_last=false")
    result, out, _ = _torchrun_train(cfg, tmp_path)
    assert result["gradient_sync"] == "DistributedDataParallel"
    _assert_matches_one_process(cfg, result, out, steps=6)


def _rank_pid(marker: str, rank: int, deadline: float) -> int:
    """The pid of the torchrun worker of ``rank`` whose command line holds ``marker``."""
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker.encode() in cmdline and f"RANK={rank}".encode() in environ and \
                    b"-m\0workbench\0train" in cmdline:
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no rank {rank} process found")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the ranks' pids in /proc")
@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_a_lost_peer_ends_the_run_in_one_line_and_rank_0_keeps_the_last_step(
        folder, tmp_path, how):
    """Issue 17, item 11: rank 1 killed (SIGKILL) or stopped (SIGSTOP) mid-run. Rank 0 must
    end within training.dist_timeout with one line naming rank 1 and its pid (no traceback),
    and a checkpoint of its last completed step that ``--resume`` continues from."""
    cfg = tiny_config(folder, "algorithm.name=contrastive", "fusion.name=mean",
                      "training.batch_size=8", "training.epochs=10000",
                      "training.checkpoint_every=10000", "training.dist_timeout=5")
    preset = C.save(cfg, tmp_path / f"lost-{how}.toml")
    out = tmp_path / "run"
    proc = subprocess.Popen([*_torchrun(preset), "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        pid = _rank_pid(str(preset), 1, deadline)
        steps = out / "steps.jsonl"
        while not (steps.is_file() and steps.read_text().count("\n") >= 5):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        lost_at = time.monotonic()
        summary = out / "run.json"
        while json.loads(summary.read_text()).get("status") == "running":
            assert time.monotonic() < deadline, "rank 0 never ended"
            time.sleep(0.1)
        waited = time.monotonic() - lost_at
    finally:
        # torchrun starts each rank in a session of its own; a stopped rank 1 would keep
        # torchrun (and the output pipe) waiting 30 s more
        for group in (proc.pid, pid):
            with contextlib.suppress(ProcessLookupError, UnboundLocalError):
                os.killpg(group, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
    ours = [line for line in stderr.splitlines() if not line.startswith(("W", "E", "I"))]
    errors = [line for line in ours if line.startswith("error")]
    state = "is gone (killed, or crashed)" if how == "killed" else "is stopped"
    assert len(errors) == 1 and f"rank 1 (pid {pid}) {state}" in errors[0], stderr[-3000:]
    assert "rank 0 wrote a checkpoint of step" in errors[0]
    # Only torchrun's own report may hold a traceback, after rank 0's line.
    assert "Traceback" not in "\n".join(ours[:ours.index(errors[0]) + 1])
    assert waited < (5 + 15 if how == "stopped" else 15)
    run = json.loads((out / "run.json").read_text())
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    logged = [json.loads(x)["step"] for x in (out / "steps.jsonl").read_text().splitlines()]
    assert run["status"] == "failed" and ckpt["step"] == run["steps"] >= logged[-1] >= 5
    resumed = subprocess.run(
        [sys.executable, "-m", "workbench", "train", str(preset), "--out", str(out),
         "--resume", str(out / "checkpoints" / "last.pt"), "--json",
         "--set", f"training.epochs={ckpt['epoch'] + 1}"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["epochs"] == ckpt["epoch"] + 1


def test_outside_a_group_no_failure_is_taken_for_a_lost_peer():
    assert distributed.lost_peer(RuntimeError("gloo: Connection reset by peer")) is None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states in /proc")
def test_a_peers_state_is_read_as_gone_stopped_or_running():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert distributed._process_state(child.pid) is None
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while distributed._process_state(child.pid) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert distributed._process_state(child.pid).startswith("is stopped")
    finally:
        child.kill()
        child.wait()
    assert distributed._process_state(child.pid).startswith("is gone")


def test_streamed_shards_train_in_two_processes(folder, tmp_path):
    """Issue 18: the training split streamed from Parquet shards of uneven sizes, split
    between two processes: both run the same steps (no hang) and the run finishes, with as
    many steps as the split needs (which pairs each rank takes: test_streamed_training)."""
    pytest.importorskip("pyarrow")
    from workbench.core.config import DataConfig
    from workbench.core.data.convert import convert
    convert(DataConfig(source=str(folder)), "parquet", tmp_path / "pq", shard_size=7)
    cfg = tiny_config(tmp_path / "pq", "algorithm.name=contrastive", "fusion.name=mean",
                      "data.streaming=on", "training.batch_size=4", "training.epochs=2",
                      "training.drop_last=false")
    result, out, stderr = _torchrun_train(cfg, tmp_path)
    assert "streams from 4 shards" in stderr
    train = load_dataset(cfg).split.sizes()["train"]
    epochs = [json.loads(x)["epoch"] for x in (out / "steps.jsonl").read_text().splitlines()]
    per_rank = -(-train // 2)  # every rank the same share, one pair repeated at most
    assert epochs.count(1) == epochs.count(2) == -(-per_rank // 2)  # 2 pairs a rank a step


def test_a_peer_still_exiting_when_the_collective_fails_is_named_once_it_is_gone(monkeypatch):
    """A killed peer's connection closes a moment before the system shows it gone: the
    lost-peer message waits for it (a race that once made the message generic)."""
    import socket
    import subprocess
    import sys
    import threading
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        monkeypatch.setattr(distributed, "current", lambda: distributed.Context(
            0, 2, 0, torch.device("cpu"), "gloo"))
        monkeypatch.setattr(distributed, "_peers", [(socket.gethostname(), os.getpid()),
                                                    (socket.gethostname(), child.pid)])
        threading.Timer(0.3, child.kill).start()
        line = distributed.lost_peer(RuntimeError("gloo: Connection closed by peer"))
        assert line == (f"lost a process of the 2-process group: rank 1 (pid {child.pid}) "
                        "is gone (killed, or crashed)")
    finally:
        child.kill()
        child.wait()
