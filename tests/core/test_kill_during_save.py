"""A process killed with SIGKILL while saving a preset or a checkpoint leaves the previous file
whole (issue 7, item 2). Nothing in the process can react to SIGKILL, so only the atomic write
(workbench/core/atomic.py: a temporary file beside the target, fsync, then os.replace) stands
between a kill and a half-written file.

A child process saves two alternating versions in a loop, announcing each save on stdout; the
test kills it at once, or a few milliseconds, after a save begins, several times, and then
reads the file back: it must load, and be exactly one of the two versions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.core import config as C
from workbench.core.presets import list_presets, user_path

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "preset":
        from workbench.core import config as C
        from workbench.core.presets import save_user_preset
        # Large enough (about 1 MB) that a write is not over in one instant.
        versions = [C.ExperimentConfig(description=c * 1_000_000, seed=i)
                    for i, c in enumerate("AB")]
        save = lambda v: save_user_preset(v, "mine")
    else:
        import torch
        from workbench.core.training.checkpoint import save_checkpoint
        versions = [torch.full((1 << 21,), float(i)) for i in range(2)]  # 8 MB each
        save = lambda v: save_checkpoint(path, model_state={"w": v}, optim_state={}, epoch=1,
                                         step=int(v[0]), config={}, info={}, vocab=None,
                                         rng={})
    i = 0
    while True:
        print("begin", i, flush=True)
        save(versions[i % 2])
        print("done", i, flush=True)
        i += 1
""")

# When to kill, after a save began: this many seconds later (at once: mid-serialisation), or
# "mid-write": as soon as the save's temporary file appears (between its creation and the
# rename, the moment a non-atomic save would leave half a file behind).
WHEN = {"preset": [0.0, 0.005, "mid-write", "mid-write"],
        "checkpoint": [0.0, "mid-write"]}


def kill_while_saving(kind: str, path: Path, when, env: dict) -> list[Path]:
    """Start the writer, let it complete two saves, kill it during a later one as ``when``
    says. Returns the temporary files the kill left (new ones only)."""
    pattern = f".{path.name}.*.tmp"
    before = set(path.parent.glob(pattern))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, kind, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while True:
            line = proc.stdout.readline()
            assert line, f"writer exited: {proc.stderr.read()}"
            word, number = line.split()
            if word == "begin" and int(number) >= 2:
                break
        if when == "mid-write":
            deadline = time.monotonic() + 30
            while not set(path.parent.glob(pattern)) - before:
                assert time.monotonic() < deadline, "never saw a save's temporary file"
        else:
            time.sleep(when)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return sorted(set(path.parent.glob(pattern)) - before)


@pytest.fixture
def env(_workbench_home):
    return {**os.environ, "PYTHONPATH": str(REPO), "WORKBENCH_HOME": str(_workbench_home)}


def kill_inside_a_write(kind: str, path: Path, env: dict, tries: int = 5) -> list[Path]:
    """``kill_while_saving(..., "mid-write")`` until the kill lands inside the write (the
    save's temporary file is left behind): on a busy machine the save can finish between
    the test seeing its temporary file and the kill arriving. Fails if it never lands."""
    for _ in range(tries):
        left = kill_while_saving(kind, path, "mid-write", env)
        if left:
            return left
    raise AssertionError(f"no kill out of {tries} landed inside a {kind} save")


def test_killed_while_saving_a_preset(env):
    path = user_path("mine")
    for when in WHEN["preset"]:
        if when == "mid-write":
            kill_inside_a_write("preset", path, env)
        else:
            kill_while_saving("preset", path, when, env)
        cfg = C.load(path)  # loads: never half a file
        assert cfg.description in ("A" * 1_000_000, "B" * 1_000_000)
        assert cfg.seed == "AB".index(cfg.description[0])  # and one version, not a mix
        # The preset list shows the preset, never the temporary file the kill left.
        assert [p.name for p in list_presets() if not p.builtin] == ["mine"]


def test_killed_while_saving_a_checkpoint(env, tmp_path):
    import torch
    from workbench.core.training.checkpoint import load_checkpoint
    path = tmp_path / "checkpoints" / "last.pt"
    for when in WHEN["checkpoint"]:
        if when == "mid-write":
            kill_inside_a_write("checkpoint", path, env)
        else:
            kill_while_saving("checkpoint", path, when, env)
        ckpt = load_checkpoint(path)
        w = ckpt["model"]["w"]
        assert w.shape == (1 << 21,) and ckpt["step"] in (0, 1)
        assert torch.equal(w, torch.full_like(w, float(ckpt["step"])))  # whole, one version
