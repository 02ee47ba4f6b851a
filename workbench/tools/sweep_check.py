"""Sweep check: the figures behind hyperparameter search's claims (issue 19's targets).

    python -m workbench.tools.sweep_check parallel [--preset P] [--epochs E] [--repeats R]
    python -m workbench.tools.sweep_check pruning  [--preset P] [--trials N] [--sampler-seed S]
    python -m workbench.tools.sweep_check retrain  --study NAME [--storage URL] [--seeds 2,3,4]

Every sweep runs as a user runs it (``python -m workbench sweep ... --json``, a fresh process,
a fresh study in a temporary user folder).

``parallel``: one grid (``optimizer.lr`` × ``model.hidden_dim``, six trials, pruning off: the
same trials every time) run by one process with cores torch threads and by ``--jobs 2``
(cores ÷ 2 threads each), taking turns ``--repeats`` times; the wall times and their ratio
(two processes over one; below 1: the two processes are faster).

``pruning``: the same ``--trials`` TPE trials (the same ``--sampler-seed``) with the median
pruner and without it, run side by side with one torch thread each (the epoch counts do not
depend on the timing); the epochs each trained, the share pruning saved, each study's best
validation value.

``retrain``: a finished study's best settings and its base preset, each trained again on
``--seeds`` (seeds the sweep did not use) with the split the sweep used; each one's
test-split value of the study's metric per seed, their mean and spread (the sample standard
deviation), and whether the best settings beat the preset by more than the seeds' spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESET = "contrastive-emoji"
# the pruning study's space: the four settings of contrastive learning
PRUNING_SPACE = ["optimizer.lr", "model.hidden_dim", "algorithm.params.init_temperature",
                 "training.drop_words"]
GRID = ["optimizer.lr=0.001,0.003", "model.hidden_dim=64,128,256"]


def sweep(args: list[str], home: Path, *, threads: int | None = None) -> tuple[dict, float]:
    """``workbench sweep ARGS --json`` in a fresh process; its summary and wall time."""
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "workbench", "sweep", *args, "--json"],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def parallel(opts) -> None:
    walls: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(opts.repeats):
            for jobs in (1, 2):
                home = Path(tmp) / f"j{jobs}-{r}"
                epochs = ["--epochs", str(opts.epochs)] if opts.epochs else []
                summary, wall = sweep([opts.preset, *sum((["--param", p] for p in GRID), []),
                                       "--grid", "--trials", "6", "--no-prune", *epochs,
                                       "--jobs", str(jobs), "--study", f"parallel-{jobs}",
                                       "--out", str(home / "runs")], home)
                if summary["complete"] != 6:
                    raise SystemExit(f"--jobs {jobs}: {summary['complete']} of 6 trials "
                                     "completed")
                walls[jobs].append(wall)
                print(f"repeat {r + 1}: --jobs {jobs}: {wall:.1f} s", flush=True)
    one, two = statistics.mean(walls[1]), statistics.mean(walls[2])
    each = f"{opts.epochs} epochs" if opts.epochs else "the preset's epochs"
    print(f"\n6 trials of {opts.preset} ({each} each), mean of {opts.repeats}:"
          f"\n  one process, {os.cpu_count()} threads: {one:.1f} s"
          f"\n  --jobs 2, one thread each:   {two:.1f} s"
          f"\n  ratio (two processes / one):  {two / one:.2f}")


def pruning(opts) -> None:
    base = [opts.preset, *sum((["--param", p] for p in PRUNING_SPACE), []), "--trials",
            str(opts.trials), "--sampler-seed", str(opts.sampler_seed)]
    if opts.epochs:
        base += ["--epochs", str(opts.epochs)]
    with tempfile.TemporaryDirectory() as tmp:
        from concurrent.futures import ThreadPoolExecutor
        runs = {"pruned": ["--study", "pruned"], "unpruned": ["--study", "unpruned",
                                                              "--no-prune"]}
        with ThreadPoolExecutor(2) as pool:
            futures = {name: pool.submit(sweep, base + extra + ["--out", str(Path(tmp) / name)],
                                         Path(tmp) / name, threads=1)
                       for name, extra in runs.items()}
            results = {name: f.result() for name, f in futures.items()}
    p, u = results["pruned"][0], results["unpruned"][0]
    saved = 1 - p["epochs"] / u["epochs"]
    print(f"{opts.trials} trials of {opts.preset}, sampler seed {opts.sampler_seed}:")
    for name, (s, wall) in results.items():
        print(f"  {name:9s} epochs {s['epochs']:5d}  pruned {s['pruned']:2d}  failed "
              f"{s['failed']}  best {s['metric']} {s['best_value']:.4f} (trial "
              f"{s['best_trial']})  {wall:.0f} s")
    print(f"  pruning saved {saved:.0%} of the epochs; best value "
          f"{'no worse' if p['best_value'] >= u['best_value'] else 'worse'} "
          f"({p['best_value']:.4f} vs {u['best_value']:.4f})")


def retrain(opts) -> None:
    from workbench.core import config as C
    from workbench.core.sweep.analysis import best_trial
    from workbench.core.sweep.study import default_storage, load_existing, open_storage
    from workbench.core.sweep.trial import best_config

    url = opts.storage or default_storage(opts.study)
    study, spec = load_existing(open_storage(url), opts.study)
    best = best_trial(study)
    if best is None:
        raise SystemExit("the study has no complete trial")
    seeds = [int(s) for s in opts.seeds.split(",")]
    base = spec.base_config()
    configs = {"preset": base, "best": best_config(spec, best.params)}
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in configs.items():
            for seed in seeds:
                run = cfg.copy()
                run.seed = seed
                run.data.split_seed = C.split_seed(base)
                path = Path(tmp) / f"{name}-{seed}.toml"
                C.save(run, path)
                done = subprocess.run([sys.executable, "-m", "workbench", "train", str(path),
                                       "--json", "--out", str(Path(tmp) / f"{name}-{seed}")],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(done.stderr[-3000:])
                out = json.loads(done.stdout.strip().splitlines()[-1])
                value = out["test_metrics"][spec.metric]
                results.setdefault(name, []).append(value)
                print(f"{name:6s} seed {seed}: test {spec.metric} {value:.4f}", flush=True)
    print(f"\nbest trial {best.number}: {best.params}")
    for name, values in results.items():
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {name:6s} test {spec.metric}: mean {statistics.mean(values):.4f}, "
              f"sd {sd:.4f} over seeds {seeds}")
    gain = statistics.mean(results["best"]) - statistics.mean(results["preset"])
    spread = max(statistics.stdev(v) if len(v) > 1 else 0.0 for v in results.values())
    print(f"  difference {gain:+.4f}; the larger spread {spread:.4f}: "
          + ("beats the preset by more than the spread" if gain > spread else
             "does NOT beat the preset by more than the spread"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workbench.tools.sweep_check",
                                description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("parallel")
    a.add_argument("--preset", default=PRESET)
    a.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    a.add_argument("--repeats", type=int, default=2)
    b = sub.add_parser("pruning")
    b.add_argument("--preset", default=PRESET)
    b.add_argument("--trials", type=int, default=20)
    b.add_argument("--sampler-seed", type=int, default=0)
    b.add_argument("--epochs", type=int, default=None)
    c = sub.add_parser("retrain")
    c.add_argument("--study", required=True)
    c.add_argument("--storage")
    c.add_argument("--seeds", default="2,3,4")
    opts = p.parse_args(argv)
    {"parallel": parallel, "pruning": pruning, "retrain": retrain}[opts.mode](opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
