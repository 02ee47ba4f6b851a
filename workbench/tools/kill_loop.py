"""Kill loop: kill -9 a process at random moments while it saves a checkpoint or a preset.

    python -m workbench.tools.kill_loop [--kills 50] [--kind checkpoint|preset] [--seed N]

For each kind, ``--kills`` times: a writer process saves two alternating versions of one file
(an 8 MB checkpoint through ``save_checkpoint``, a 1 MB user preset through
``save_user_preset`` under a temporary ``WORKBENCH_HOME``) and is killed with SIGKILL at a
random moment of a save: half the kills a delay drawn between 0 and 1.2 times a save's length
after the save begins (most of a preset save is making its text, so few of these land in the
write), the other half a delay between 0 and the length of a save's atomic write after its
temporary file appears (aimed at the write). Then the file must load and be exactly the
version of the last completed save ("old") or of the save under way ("new": the kill came
after its rename), never half; and the next writer's first saves ("the next run") must leave
no temporary file behind. A last writer saves once after the last kill for the same check.

It prints a report per kind (kills, how many were aimed at the write and how many landed
mid-write, i.e. left a temporary file, old/new counts, temporaries left by the kills, and
temporaries found after the next saves, summed over the kills: 0 unless a leftover outlives
a save) and exits 1 on any failure. ``tests/core/test_kill_during_save.py`` runs a few kills through the same
functions.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("checkpoint", "preset")
REPO = Path(__file__).resolve().parents[2]


def versions(kind: str) -> list:
    """The two versions a writer alternates between: large enough that a save is not over in
    one instant."""
    if kind == "preset":
        from ..core import config as C
        return [C.ExperimentConfig(description=c * 1_000_000, seed=i)
                for i, c in enumerate("AB")]
    import torch
    return [torch.full((1 << 21,), float(i)) for i in range(2)]  # 8 MB each


def save(kind: str, path: Path, version) -> None:
    if kind == "preset":
        from ..core.presets import save_user_preset, user_path
        if user_path(path.stem) != path:
            raise SystemExit(f"{path} is not where WORKBENCH_HOME puts the preset "
                             f"{path.stem!r}")
        save_user_preset(version, path.stem)
    else:
        from ..core.training.checkpoint import save_checkpoint
        save_checkpoint(path, model_state={"w": version}, optim_state={}, epoch=1,
                        step=int(version[0]), config={}, info={}, vocab=None, rng={})


def read_version(kind: str, path: Path) -> int:
    """Which version ``path`` holds (0 or 1); raises if it does not load or is neither."""
    if kind == "preset":
        from ..core import config as C
        cfg = C.load(path)
        index = cfg.seed
    else:
        import torch
        from ..core.training.checkpoint import load_checkpoint
        ckpt = load_checkpoint(path)
        index, cfg = ckpt["step"], ckpt["model"]["w"]
    expected = versions(kind)
    if index not in (0, 1):
        raise AssertionError(f"{path}: holds version {index!r}, neither 0 nor 1")
    same = (cfg == expected[index]) if kind == "preset" else (
        cfg.shape == expected[index].shape and torch.equal(cfg, expected[index]))
    if not same:
        raise AssertionError(f"{path}: not exactly version {index}: a mix of versions")
    return index


def temporaries(path: Path) -> list[Path]:
    """The temporary files of saves of ``path`` (workbench/core/atomic.py names them)."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def writer(kind: str, path: Path, once: bool) -> None:
    """The writer process: saves 0 and 1, then says ``ready <seconds> <write seconds>`` (of
    save 1: all of it, and the atomic write, from its temporary file's creation to the
    rename) and waits for a line on stdin (so the saves before the kill can be checked while
    none is under way), then saves on, announcing each save (``begin i`` / ``done i``).
    ``once``: one save, then exit (the next run after the last kill)."""
    from ..core import atomic

    vs = versions(kind)
    write_seconds = [0.0]
    atomic_write = atomic.atomic_write

    def timed_atomic_write(*args, **kwargs):
        t = time.perf_counter()
        try:
            return atomic_write(*args, **kwargs)
        finally:
            write_seconds[0] = time.perf_counter() - t

    atomic.atomic_write = timed_atomic_write  # atomic_write_bytes calls it through the module
    for i in range(1 if once else 2):
        t0 = time.perf_counter()
        save(kind, path, vs[i % 2])
    if once:
        return
    print("ready", time.perf_counter() - t0, write_seconds[0], flush=True)
    sys.stdin.readline()
    i = 2
    while True:
        print("begin", i, flush=True)
        save(kind, path, vs[i % 2])
        print("done", i, flush=True)
        i += 1


def writer_env(home: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "WORKBENCH_HOME": str(home)}


def _writer_argv(kind: str, path: Path, once: bool = False) -> list[str]:
    return ([sys.executable, "-m", "workbench.tools.kill_loop", "--writer", kind, str(path)]
            + (["--once"] if once else []))


@dataclass
class Kill:
    """What one kill left: ``possible`` versions (the last completed save's, and the one
    under way if any), the temporaries left by this writer's first saves (the previous kill's
    "next run": must be none) and by the kill, the killed writer's pid."""
    possible: tuple[int, ...]
    after_first_saves: list[Path] = field(default_factory=list)
    left: list[Path] = field(default_factory=list)
    pid: int = 0


def kill_while_saving(kind: str, path: Path, when, env: dict) -> Kill:
    """Start a writer, let it complete two saves, kill it during the next: ``when`` seconds
    after it began, or (``"mid-write"``) as soon as its temporary file appears, or
    (``("mid-write", seconds)``) that long after; or ``when(seconds a save takes, seconds
    its write takes)`` says which."""
    proc = subprocess.Popen(_writer_argv(kind, path), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            raise AssertionError(f"writer exited: {line}{proc.stderr.read()}")
        seconds = [float(x) for x in line.split()[1:]]
        kill = Kill(possible=(1,), after_first_saves=temporaries(path), pid=proc.pid)
        before = set(kill.after_first_saves)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if line.split() != ["begin", "2"]:
            raise AssertionError(f"writer exited: {line}{proc.stderr.read()}")
        if callable(when):
            when = when(*seconds)
        anchor, delay = when if isinstance(when, tuple) else \
            (when, 0.0) if when == "mid-write" else ("begin", when)
        if anchor == "mid-write":
            deadline = time.monotonic() + 30
            while not set(temporaries(path)) - before:
                if time.monotonic() > deadline:
                    raise AssertionError("never saw a save's temporary file")
        if delay:
            time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)  # reaped: a zombie would still count as alive
        said = ["begin 2"] + proc.stdout.read().splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    done = [int(s.split()[1]) for s in said if s.startswith("done")]
    begun = [int(s.split()[1]) for s in said if s.startswith("begin")]
    last_done = max(done, default=1)
    under_way = max(begun) if max(begun) > last_done else None
    kill.possible = (last_done % 2,) + (() if under_way is None else (under_way % 2,))
    kill.left = sorted(set(temporaries(path)) - before)
    return kill


def kill_inside_a_write(kind: str, path: Path, env: dict, tries: int = 5) -> Kill:
    """``kill_while_saving(..., "mid-write")`` until the kill lands inside the write (the
    save's temporary file is left behind): on a busy machine the save can finish between
    seeing its temporary file and the kill arriving. Fails if it never lands."""
    for _ in range(tries):
        kill = kill_while_saving(kind, path, "mid-write", env)
        if kill.left:
            return kill
    raise AssertionError(f"no kill out of {tries} landed inside a {kind} save")


def next_save(kind: str, path: Path, env: dict) -> list[Path]:
    """The next run: a fresh process saves once. Returns the temporaries left after it."""
    done = subprocess.run(_writer_argv(kind, path, once=True), env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"the next save failed: {done.stderr}")
    if read_version(kind, path) != 0:
        raise AssertionError(f"{path}: not the version the next save wrote")
    return temporaries(path)


@dataclass
class Tally:
    kills: int = 0
    aimed_at_write: int = 0
    mid_write: int = 0
    old: int = 0
    new: int = 0
    left_by_kills: int = 0
    left_after_next: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def loop(kind: str, kills: int, rng: random.Random, home: Path) -> Tally:
    if kind == "preset":
        from ..core.presets import user_path
        path = user_path("kill-loop")
    else:
        path = home / "run" / "checkpoints" / "last.pt"
    env = writer_env(home)
    tally = Tally()
    t0 = time.perf_counter()
    for n in range(kills):
        at_write = n % 2 == 1
        tally.aimed_at_write += at_write
        try:
            kill = kill_while_saving(
                kind, path, lambda save_s, write_s: ("mid-write", rng.uniform(0.0, write_s))
                if at_write else rng.uniform(0.0, 1.2 * save_s), env)
        except (AssertionError, OSError) as exc:  # the writer died, or never got going
            tally.failures.append(f"kill {n + 1}: {exc}")
            continue
        tally.kills += 1
        tally.left_after_next += len(kill.after_first_saves)
        if kill.after_first_saves:
            tally.failures.append(f"kill {n + 1}: the previous kill's temporaries outlived "
                                  f"the next saves: {[p.name for p in kill.after_first_saves]}")
        tally.left_by_kills += len(kill.left)
        tally.mid_write += bool(kill.left)
        strangers = [p.name for p in kill.left if f".{kill.pid}-" not in p.name]
        if strangers:
            tally.failures.append(f"kill {n + 1}: temporaries not of the killed writer "
                                  f"{kill.pid}: {strangers}")
        try:
            found = read_version(kind, path)
        except Exception as exc:  # noqa: BLE001 - anything that does not load is a failure
            tally.failures.append(f"kill {n + 1}: {exc}")
            continue
        if found not in kill.possible:
            tally.failures.append(f"kill {n + 1}: version {found}, expected one of "
                                  f"{kill.possible}")
        elif found == kill.possible[0]:
            tally.old += 1
        else:
            tally.new += 1
    try:
        left = next_save(kind, path, env)
    except AssertionError as exc:
        tally.failures.append(f"last next save: {exc}")
    else:
        tally.left_after_next += len(left)
        if left:
            tally.failures.append(f"the next save left temporaries: {[p.name for p in left]}")
    tally.seconds = time.perf_counter() - t0
    return tally


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workbench.tools.kill_loop", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=50, help="kills per kind (50)")
    p.add_argument("--kind", choices=KINDS, action="append",
                   help="checkpoint or preset (repeatable; default both)")
    p.add_argument("--seed", type=int, help="seed of the random kill moments (default: new)")
    p.add_argument("--writer", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    p.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.writer:
        writer(args.writer[0], Path(args.writer[1]), args.once)
        return 0

    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    print(f"kill loop: {args.kills} kill -9 per kind at random moments of a save, half of them "
          f"aimed at its write; seed {seed}", flush=True)
    print(f"{'kind':<11} {'kills':>5} {'aimed at write':>14} {'mid-write':>9} {'old':>4} "
          f"{'new':>4} "
          f"{'temps after kill':>16} {'temps after next save':>21} {'failures':>8} "
          f"{'seconds':>7}", flush=True)
    failed = False
    for kind in args.kind or KINDS:
        with tempfile.TemporaryDirectory(prefix="kill-loop-") as home:
            os.environ["WORKBENCH_HOME"] = home  # this process reads the preset there too
            t = loop(kind, args.kills, rng, Path(home))
        print(f"{kind:<11} {t.kills:>5} {t.aimed_at_write:>14} {t.mid_write:>9} {t.old:>4} "
              f"{t.new:>4} "
              f"{t.left_by_kills:>16} {t.left_after_next:>21} {len(t.failures):>8} "
              f"{t.seconds:>7.1f}", flush=True)
        for failure in t.failures:
            print(f"  FAIL {kind}: {failure}", flush=True)
        failed |= bool(t.failures) or t.kills < args.kills
    print("kill loop: " + ("FAILED" if failed else "every file old or new, never half; no "
                           "temporaries left after the next save"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
