"""Streaming check: training that streams from shards against training that holds every
pair in memory, on the same generated shards (issue 18's targets).

    python -m workbench.tools.stream_check [--n 100000] [--format parquet|webdataset]
        [--dir DIR] [--png-size 64] [--shards 10] [--repeats 2] [--modes ...]

Steps:

1. generate N pairs (``--png-size`` pixel PNGs of coloured shapes, ``scale_check``'s, with
   their captions and colours as labels) straight into ``--shards`` shards in the layout
   ``workbench data convert`` writes (reused when the folder already holds them);
2. one epoch of ``contrastive-emoji``'s model (``preprocess.image_size`` 32), each run in a
   fresh process, the modes taking turns ``--repeats`` times:

   - ``memory``: ``data.streaming = off``, image cache off: the load decodes every image
     (in worker processes), then the epoch trains on the decoded pixels;
   - ``streamed``: ``data.streaming = on``: the epoch decodes as it trains;
   - ``decoded``: ``data.streaming = off`` with the images already in the image cache (a
     load before the first repeat fills it, not timed): training alone, nearly;
   - ``streamed-thread`` (not run unless asked): streamed, decoding on a thread of the
     training process instead of in worker processes (``data.stream_workers = 0``).

``--set KEY=VALUE`` changes a setting in every mode (``data.stream_workers=2``).

It prints each run's wall time (the load, decode and epoch: what a user waits for) and peak
memory (the process and every process it started, their proportional set sizes summed,
sampled every 0.1 s), then the
ratios: the in-memory path's mean time over the streamed path's (above 1: streaming is the
faster).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

MODES = ("memory", "streamed", "decoded", "streamed-thread")
# each mode's settings (over the preset's)
SETTINGS = {"memory": ["data.streaming=off"], "decoded": ["data.streaming=off"],
            "streamed": ["data.streaming=on"],
            "streamed-thread": ["data.streaming=on", "data.stream_workers=0"]}
DEFAULT_MODES = "memory,streamed,decoded"
PRESET = "contrastive-emoji"


# --- generating the shards ---------------------------------------------------------------

def _shard_samples(start: int, stop: int, size: int, seed: int, names: list[str]):
    from PIL import Image

    from workbench.core.data.convert import Sample
    from workbench.tools.scale_check import draw_pair

    rng = np.random.default_rng([seed, start])
    for i in range(start, stop):
        px, caption, colour = draw_pair(rng, size)
        buf = io.BytesIO()
        Image.fromarray(px).save(buf, format="PNG")
        key = f"{i:08d}"
        yield Sample(key=key, caption=caption, label=names.index(colour), name=f"{key}.png",
                     ext="png", image=buf.getvalue())


def _write_shard(fmt: str, path: str, start: int, stop: int, size: int, seed: int) -> int:
    from workbench.core.data.convert import FORMATS
    from workbench.tools.scale_check import COLOURS

    FORMATS[fmt].write(Path(path), _shard_samples(start, stop, size, seed, list(COLOURS)),
                       list(COLOURS))
    return stop - start


def generate_shards(out: Path, n: int, fmt: str, *, shards: int, size: int = 64,
                    seed: int = 0, workers: int | None = None) -> Path:
    """``n`` generated pairs in ``shards`` shards of ``fmt`` under ``out`` (kept, and reused
    when ``out/manifest.json`` says the same)."""
    from workbench.core.data.convert import FORMATS
    from workbench.tools.scale_check import COLOURS

    want = {"n": n, "format": fmt, "shards": shards, "png_size": size, "seed": seed}
    manifest = out / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()) == want:
        return out
    out.mkdir(parents=True, exist_ok=True)
    form = FORMATS[fmt]
    for name, data in form.sidecars(list(COLOURS)).items():
        (out / name).write_bytes(data)
    bounds = np.linspace(0, n, shards + 1).astype(int)
    t0 = time.perf_counter()
    # spawn: the pool's processes import what they need, nothing of this one is copied
    with ProcessPoolExecutor(workers or os.cpu_count() or 1,
                             mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(_write_shard, fmt, str(out / form.shard_name(i, shards)),
                            int(bounds[i]), int(bounds[i + 1]), size, seed)
                for i in range(shards)]
        done = 0
        for job in jobs:
            done += job.result()
            print(f"  generated {done:,}/{n:,} ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    manifest.write_text(json.dumps(want))
    return out


# --- one measured run ----------------------------------------------------------------------

def child(data: str, mode: str, epochs: int, settings: list[str]) -> dict:
    """One run in this (fresh) process: load and train as ``workbench train`` does."""
    from workbench.core.config import apply_overrides
    from workbench.core.data import load_dataset
    from workbench.core.presets import load_preset
    from workbench.core.training import Trainer

    cfg = apply_overrides(load_preset(PRESET), [
        f"data.source={data}", "data.format=auto", *SETTINGS[mode],
        f"training.epochs={max(1, epochs)}", *settings])
    t0 = time.perf_counter()
    ds = load_dataset(cfg)
    load_s = time.perf_counter() - t0
    if epochs == 0:  # a load alone (filling the image cache)
        return {"load_s": load_s, "wall_s": load_s, "status": "loaded"}
    end = Trainer(cfg, ds).fit()
    return {"load_s": load_s, "wall_s": time.perf_counter() - t0, "status": end.status,
            "reason": end.reason, "train_pairs": ds.split.sizes()["train"],
            "streamed": bool(getattr(ds, "streamed", False)),
            "val": {k: v for k, v in end.metrics.items() if isinstance(v, (int, float))}}


def _tree_memory_mb(pid: int) -> float:
    """Memory of ``pid`` and all its descendants (Linux /proc), in MB: the sum of their
    proportional set sizes (PSS: a page that n processes share counts 1/n in each), so the
    image pages that decoding processes map from one file are not counted once per process
    as resident sizes would; RSS where PSS is not to be had."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(_memory_mb(p) for p in tree)


def _memory_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        rss_pages = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[21])
        return rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def run_child(data: Path, mode: str, epochs: int, home: Path, settings: list[str]) -> dict:
    """One run in a fresh process, its peak memory sampled over its process tree."""
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    if mode == "memory":
        env["WORKBENCH_NO_CACHE"] = "1"
    else:
        env.pop("WORKBENCH_NO_CACHE", None)
    cmd = [sys.executable, "-m", "workbench.tools.stream_check", "--child", mode,
           "--dir", str(data), "--epochs", str(epochs),
           *(a for kv in settings for a in ("--set", kv))]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = 0.0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.wait(0.1):
            peak = max(peak, _tree_memory_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"}
    result = json.loads(out.strip().splitlines()[-1])
    result.update(peak_mb=peak, process_s=elapsed)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="pairs to generate (100,000)")
    p.add_argument("--format", choices=("parquet", "webdataset"), default="parquet")
    p.add_argument("--dir", help="where the shards go (kept; reused when they match)")
    p.add_argument("--png-size", type=int, default=64, help="generated image size (64)")
    p.add_argument("--shards", type=int, default=10)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--modes", default=DEFAULT_MODES,
                   help=f"which runs, comma-separated ({DEFAULT_MODES}; also "
                        "streamed-thread)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for every mode (repeatable)")
    p.add_argument("--json", help="also write the runs and ratios here")
    p.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.dir, args.child, args.epochs, args.set)))
        return 0

    base = Path(args.dir or Path(tempfile.gettempdir()) /
                f"workbench-stream-{args.format}-{args.n}-{args.png_size}")
    t0 = time.perf_counter()
    data = generate_shards(base / "data", args.n, args.format, shards=args.shards,
                           size=args.png_size)
    print(f"data: {args.n:,} pairs, {args.png_size} px PNG, {args.shards} {args.format} "
          f"shards in {data} ({time.perf_counter() - t0:.1f} s)", flush=True)
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        p.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    result = compare(data, base / "home", modes, args.repeats, args.epochs, args.set,
                     say=lambda line: print(line, flush=True))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), **result}, indent=1))
    return 0 if result["ok"] else 1


def compare(data: Path, home: Path, modes: list[str], repeats: int, epochs: int = 1,
            settings: list[str] | None = None, say=lambda line: None) -> dict:
    """Each mode's runs over ``data``, taking turns ``repeats`` times: ``{"runs": {mode:
    [run, ...]}, "means_s": {mode: mean wall time}, "ratios": {"memory/streamed": ...},
    "ok": every run finished}``. ``home``: the runs' own image cache."""
    settings = settings or []
    if "decoded" in modes:
        warm = run_child(data, "decoded", 0, home, settings)  # fills the image cache
        if "error" in warm or warm["status"] != "loaded":
            say(f"filling the image cache: FAILED: {warm.get('error') or warm['status']}")
            return {"runs": {}, "means_s": {}, "ratios": {}, "ok": False}
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    ok = True
    for r in range(repeats):
        for mode in modes:
            res = run_child(data, mode, epochs, home, settings)
            runs[mode].append(res)
            if "error" in res or res["status"] != "finished":
                ok = False
                say(f"{mode} #{r + 1}: FAILED: {res.get('error') or res['reason']}")
                continue
            say(f"{mode} #{r + 1}: {res['wall_s']:.1f} s (load {res['load_s']:.1f} s), "
                f"peak {res['peak_mb'] / 1024:.2f} GB, {res['train_pairs']:,} training "
                f"pairs{' streamed' if res['streamed'] else ''}")
    means = {m: float(np.mean([r["wall_s"] for r in rs])) for m, rs in runs.items()
             if rs and all("wall_s" in r for r in rs)}
    ratios = {}
    if "streamed" in means:
        for other in ("memory", "decoded", "streamed-thread"):
            if other in means:
                ratios[f"{other}/streamed"] = means[other] / means["streamed"]
                say(f"{other} / streamed (mean wall time): {ratios[f'{other}/streamed']:.2f}")
    return {"runs": runs, "means_s": means, "ratios": ratios, "ok": ok}

if __name__ == "__main__":
    sys.exit(main())
