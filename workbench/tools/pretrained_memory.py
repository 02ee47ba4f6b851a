"""Memory check for frozen pretrained caption features: N captions through all-MiniLM-L6-v2,
cached memory-mapped, then one epoch on them in a fresh process per algorithm and fusion.

    python -m workbench.tools.pretrained_memory [--n 100000] [--dir DIR] [--fresh]

Issue 15's target: 100,000 captions' MiniLM features (pooled and word-piece states, float16,
memory-mapped: about 1.8 GB on disk for 24 word pieces x 384) trained on for one contrastive
epoch with peak *private* memory under 2 GB.

Steps, each in its own fresh process so its memory is its own:

1. generate N small PNG images with captions of varied length (``scale_check``'s coloured
   shapes, each caption grown by 0 to 4 phrases, so word-piece counts spread from 6 to
   past the ``--max-tokens`` + 2 kept), reused when N matches;
2. ``encode``: load the pairs and encode the captions through the real cached path
   (``data.pretrained_captions`` -> ``pretrained.cache.caption_states``); the first run
   computes them with the model (minutes on a few CPU cores), later runs read the cache
   (``--fresh`` deletes it first);
3. ``train ALGORITHM/FUSION`` (``--runs``; by default contrastive/mean, which reads the
   pooled vectors only, and classifier/coattention, which reads the word-piece states too:
   the contrastive algorithm refuses co-attention): the dataset loaded from the cache, then
   one epoch with the text model frozen, reported in phases: ``setup`` (the model built,
   the training split's feature statistics), ``epoch`` (the steps and the validation after
   them), ``final`` (snapshots and the Trainer's final scores).

What is measured: a thread samples ``/proc/self/status`` every ``--sample-ms`` (10 ms):
``RssAnon`` is private memory (heap, tensors, numpy arrays), ``RssFile`` the resident pages
of mapped files (the feature cache, shared libraries), clean pages the kernel drops under
pressure and shares with the page cache, so not the process's own. The peak of RssAnon is
the target's figure; the peak of VmRSS (both) is reported beside it, with the kernel's own
VmHWM (its exact peak of the sum; Linux keeps no peak of RssAnon alone, so that one is
sampled and a spike shorter than the interval could be missed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from workbench.bench.result import peak_rss_mb, proc_status_mb
from workbench.tools.scale_check import generate_image_folder

TARGET_MB = 2000.0  # "under 2 GB" of private memory
# contrastive with mean fusion reads the pooled vectors only; the contrastive algorithm refuses
# co-attention (each caption would see its own image before the loss), so the word-piece
# states are read by the classifier with co-attention
RUNS = ("contrastive/mean", "classifier/coattention")

# Phrases the captions grow by: everyday words (one word piece each, mostly) and a few that
# MiniLM's vocabulary splits ("watercolour", "lighthouse"), as real captions have.
PLACES = ("on a wooden table", "in the middle of the picture", "near the top left corner",
          "against a pale grey background", "next to an old lighthouse",
          "beside two sleeping cats", "under a cloudy sky", "on a crumpled sheet of paper",
          "inside a thin black frame", "at the edge of a busy street")
STYLES = ("drawn with thick outlines", "painted in watercolour", "with slightly blurred edges",
          "in a hand drawn style", "with a faint drop shadow", "photographed from above",
          "rendered in low resolution", "sketched quickly in pencil")
EXTRAS = ("and nothing else is visible", "while the light comes from the left",
          "which looks a little faded", "surrounded by scattered noise",
          "as seen in an old children's book", "for a simple shapes quiz")


def varied_captions(base: list[str], seed: int = 0) -> list[str]:
    """``base`` captions ("a small red circle") each grown by 0 to 4 different phrases (a
    place, a style, an aside; some commas), so their lengths vary as real captions' do: with
    MiniLM's word pieces from 6 to about 30, a fifth of them past 24."""
    rng = np.random.default_rng(seed)
    pools = (PLACES, STYLES, EXTRAS)
    out = []
    for text in base:
        parts = [text]
        for k in range(int(rng.integers(0, 5))):
            pool = pools[k % 3] if rng.random() < 0.7 else pools[int(rng.integers(3))]
            phrase = pool[int(rng.integers(len(pool)))]
            if phrase not in parts:
                parts.append(phrase)
        caption = parts[0] + "".join((", " if rng.random() < 0.3 else " ") + p
                                     for p in parts[1:])
        out.append(caption[0].upper() + caption[1:] + ("." if rng.random() < 0.5 else ""))
    return out


def generate(root: Path, n: int, *, png_size: int, seed: int = 0,
             progress: bool = False) -> Path:
    """``scale_check``'s image folder with its captions made varied (once: a marker file
    says it was done, so a rerun with the same N reuses the folder and the caption cache)."""
    generate_image_folder(root, n, size=png_size, seed=seed, progress=progress)
    marker = root / ".varied-captions"
    meta = root / "metadata.jsonl"
    if not marker.exists():
        rows = [json.loads(line) for line in meta.read_text().splitlines() if line.strip()]
        for row, caption in zip(rows, varied_captions([r["text"] for r in rows], seed)):
            row["text"] = caption
        meta.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        marker.write_text("1\n")
    return root


class MemorySampler:
    """Peaks of this process's private (RssAnon) and total (VmRSS) resident memory, sampled
    by a daemon thread every ``interval`` seconds; :meth:`phase` returns the peaks since the
    previous call and starts a new phase."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self._lock = threading.Lock()
        self._reset()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()

    def _reset(self) -> None:
        self.anon = self.total = self.file_at_total = 0.0
        self.samples = 0

    def _sample(self) -> None:
        values = _status("RssAnon", "RssFile", "VmRSS")
        with self._lock:
            self.samples += 1
            anon, file_, total = (values.get(k, 0.0) for k in ("RssAnon", "RssFile", "VmRSS"))
            self.anon = max(self.anon, anon)
            if total >= self.total:
                self.total, self.file_at_total = total, file_

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def phase(self) -> dict:
        self._sample()
        with self._lock:
            out = {"peak_anon_mb": self.anon, "peak_rss_mb": self.total,
                   "file_at_peak_rss_mb": self.file_at_total, "samples": self.samples}
            self._reset()
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _status(*fields: str) -> dict[str, float]:
    """Lines of /proc/self/status in MB (empty where there is none)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key = line.split(":", 1)[0]
                if key in fields:
                    out[key] = int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


def config(folder: Path, args, run: str = "contrastive/mean"):
    from workbench.core import config as C
    algorithm, fusion = run.split("/")
    return C.apply_overrides(C.ExperimentConfig(), [
        f"data.source={folder}", f"preprocess.image_size={args.image_size}",
        f"preprocess.max_tokens={args.max_tokens}", "model.text_encoder=pretrained",
        f"model.text_model={args.model}", f"model.embed_dim={args.embed_dim}",
        f"model.hidden_dim={args.hidden_dim}", f"algorithm.name={algorithm}",
        f"fusion.name={fusion}", f"training.batch_size={args.batch}", "training.epochs=1",
        "device=cpu", f"data.val_fraction={args.val_fraction}",
        f"data.test_fraction={args.test_fraction}", "training.snapshot_every=1000",
        "training.probe_samples=4"])


def child(args) -> dict:
    """One measured step, in this (fresh) process."""
    import torch  # noqa: F401 - in the baseline, so what the step adds stands alone

    sampler = MemorySampler(args.sample_ms / 1000)
    try:
        out = {"baseline": sampler.phase(), "baseline_anon_mb": proc_status_mb("RssAnon")}
        if args.child == "encode":
            out.update(encode_step(args, sampler))
        else:
            out.update(train_step(args, args.child.split(":", 1)[1], sampler))
        out["vm_hwm_mb"] = peak_rss_mb()
        out["anon_end_mb"] = proc_status_mb("RssAnon")
        return out
    finally:
        sampler.close()


def encode_step(args, sampler: MemorySampler) -> dict:
    from workbench.core.data import load_pairs, pretrained_captions
    cfg = config(Path(args.dir), args)
    t0 = time.perf_counter()
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    load_s = time.perf_counter() - t0
    load = sampler.phase()
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            print(f"  encoded {done}/{total} captions ({last[0] - t1:.0f} s)",
                  file=sys.stderr, flush=True)

    t1 = time.perf_counter()
    states = pretrained_captions(cfg, table, progress=progress)
    encode_s = time.perf_counter() - t1
    lengths = np.asarray(states.lengths)
    return {"pairs": len(table), "load_s": load_s, "load": load, "encode_s": encode_s,
            "encode": sampler.phase(), "from_cache": bool(states.from_cache),
            "states_shape": list(states.states.shape), "states_dtype": str(states.states.dtype),
            "pieces_mean": float(lengths.mean()), "pieces_min": int(lengths.min()),
            "pieces_max": int(lengths.max()),
            "at_keep": float((lengths >= states.states.shape[1]).mean())}


def train_step(args, run: str, sampler: MemorySampler) -> dict:
    from workbench.core.data import load_dataset
    from workbench.core.training import Callback, Trainer
    cfg = config(Path(args.dir), args, run)
    t0 = time.perf_counter()
    ds = load_dataset(cfg)
    out = {"load_s": time.perf_counter() - t0, "pairs": len(ds),
           "mapped": isinstance(ds.text_states, np.memmap),
           "train_pairs": len(ds.indices("train")), "load": sampler.phase()}
    phases: dict[str, dict] = {}

    class Phases(Callback):
        """Memory and time of the Trainer's setup (the model built, the training split's
        feature statistics), of the epoch (its steps and the validation after it) and,
        after ``fit``, of the rest (snapshots, the final scores)."""

        def mark(self, name: str) -> None:
            phases[name] = {**sampler.phase(), "s": time.perf_counter() - self.since}
            self.since = time.perf_counter()

        def on_fit_start(self, trainer, event):
            self.mark("setup")

        def on_epoch_end(self, trainer, event):
            self.mark("epoch")

    marks = Phases()
    t1 = marks.since = time.perf_counter()
    end = Trainer(cfg, ds, callbacks=[marks]).fit()
    marks.mark("final")
    out.update(train_s=time.perf_counter() - t1, status=end.status, reason=end.reason,
               steps=end.step, val={k: v for k, v in end.metrics.items()
                                    if k in ("loss", "t2i_r10", "accuracy")},
               phases=phases, train={
                   "peak_anon_mb": max(p["peak_anon_mb"] for p in phases.values()),
                   **max(({k: p[k] for k in ("peak_rss_mb", "file_at_peak_rss_mb")}
                          for p in phases.values()), key=lambda p: p["peak_rss_mb"])})
    return out


def run_child(args, step: str) -> dict:
    cmd = [sys.executable, "-m", "workbench.tools.pretrained_memory", "--child", step,
           "--dir", args.dir]
    for name in ("image_size", "max_tokens", "model", "embed_dim", "hidden_dim", "batch",
                 "val_fraction", "test_fraction", "sample_ms"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return child_json(cmd)


def child_json(cmd: list[str]) -> dict:
    """``bench.result.json_from_child``, with the child's progress lines (its stderr) shown
    as they come: the first encoding takes many minutes."""
    import subprocess
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tail: list[str] = []

    def relay() -> None:
        for line in proc.stderr:
            tail.append(line)
            del tail[:-40]
            if line.startswith("  "):  # a progress line
                print(line, end="", file=sys.stderr, flush=True)

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait()
    reader.join()
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {''.join(tail).strip()[-1500:]}"}
    return json.loads(out.strip().splitlines()[-1])


def cache_size(home: Path) -> dict:
    """Bytes on disk of the caption-feature cache under ``home`` (every entry, and the
    word-piece states alone)."""
    root = home / "cache" / "features"
    files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
    return {"bytes": sum(p.stat().st_size for p in files),
            "states_bytes": sum(p.stat().st_size for p in files if p.name == "states.npy"),
            "entries": sum(1 for p in root.iterdir() if p.is_dir()) if root.is_dir() else 0}


def _mb(phase: dict) -> str:
    return (f"peak private (RssAnon) {phase['peak_anon_mb']:.0f} MB, peak RSS "
            f"{phase['peak_rss_mb']:.0f} MB ({phase['file_at_peak_rss_mb']:.0f} MB of it "
            "mapped files)")


def measure(args) -> tuple[bool, dict]:
    """Every step, printed as it ends; (all within the target, the steps' results)."""
    home = Path(os.environ["WORKBENCH_HOME"])
    if args.fresh:
        shutil.rmtree(home / "cache" / "features", ignore_errors=True)
    results: dict = {"n": args.n}
    r = results["encode"] = run_child(args, "encode")
    if "error" in r:
        print(f"encode: FAILED\n{r['error']}", flush=True)
        return False, results
    size = results["cache"] = cache_size(home)
    shape = " x ".join(str(s) for s in r["states_shape"])
    print(f"encode {r['pairs']} captions: load pairs {r['load_s']:.1f} s; "
          f"{'read from the cache' if r['from_cache'] else 'encoded'} in {r['encode_s']:.1f} s "
          f"({r['pairs'] / max(r['encode_s'], 1e-9):.0f} captions/s); states {shape} "
          f"{r['states_dtype']}, word pieces per caption mean {r['pieces_mean']:.1f} (min "
          f"{r['pieces_min']}, max {r['pieces_max']}, {100 * r['at_keep']:.0f}% cut at "
          f"{r['states_shape'][1]}); cache on disk {size['bytes'] / 1e9:.2f} GB "
          f"({size['states_bytes'] / 1e9:.2f} GB states, {size['entries']} entr"
          f"{'y' if size['entries'] == 1 else 'ies'}); {_mb(r['encode'])}", flush=True)
    ok = True
    for run in args.runs:
        r = results[f"train:{run}"] = run_child(args, f"train:{run}")
        if "error" in r:
            print(f"train {run}: FAILED\n{r['error']}", flush=True)
            ok = False
            continue
        peak = max(r["load"]["peak_anon_mb"], r["train"]["peak_anon_mb"])
        within = peak < TARGET_MB and r["status"] == "finished"
        ok = ok and within
        again = cache_size(home)["entries"] != size["entries"]
        phases = r.get("phases", {})
        print(f"train {run} on {r['train_pairs']} of {r['pairs']} pairs "
              f"(states {'memory-mapped' if r['mapped'] else 'IN MEMORY'}"
              + ("; THE CACHE MISSED: the captions were encoded again" if again else "")
              + f"): load {r['load_s']:.1f} s; fit {r['train_s']:.1f} s ({r['steps']} steps, "
              f"{r['status']}" + (f": {r['reason']}" if r["status"] != "finished" else "")
              + "; " + ", ".join(f"{name} {p['s']:.1f} s" for name, p in phases.items())
              + "); val " + ", ".join(f"{k} {v:.3f}" for k, v in r["val"].items())
              + f"\n  load: {_mb(r['load'])}"
              + "".join(f"\n  {name}: {_mb(p)}" for name, p in phases.items())
              + f"\n  VmHWM {r['vm_hwm_mb']:.0f} MB; python + torch at start "
              f"{r['baseline']['peak_anon_mb']:.0f} MB private -> peak private "
              f"{peak:.0f} MB: {'under' if within else 'OVER'} {TARGET_MB:.0f} MB", flush=True)
    return ok, results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="captions (100,000)")
    p.add_argument("--dir", help="where the pairs and the cache go (kept; reused when N "
                   "matches)")
    p.add_argument("--png-size", type=int, default=8, help="generated image size (8)")
    p.add_argument("--image-size", type=int, default=8, help="training image size (8)")
    p.add_argument("--max-tokens", type=int, default=22,
                   help="preprocess.max_tokens (22: 24 word pieces kept with [CLS], [SEP])")
    p.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--hidden-dim", type=int, default=128)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--val-fraction", type=float, default=0.02)
    p.add_argument("--test-fraction", type=float, default=0.02)
    p.add_argument("--runs", nargs="*", default=list(RUNS), metavar="ALGORITHM/FUSION",
                   help="what trains, each in its own process (contrastive/mean "
                   "classifier/coattention; none: the encoding alone)")
    p.add_argument("--sample-ms", type=float, default=10.0,
                   help="how often memory is sampled (10 ms)")
    p.add_argument("--fresh", action="store_true",
                   help="delete the feature cache first, so the captions are encoded again")
    p.add_argument("--json", help="also write the steps' results to this file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0

    root = Path(args.dir or Path(tempfile.gettempdir()) / f"workbench-pretrained-{args.n}")
    os.environ["WORKBENCH_HOME"] = str(root / "home")  # the check's own caches
    t0 = time.perf_counter()
    generate(root / "data", args.n, png_size=args.png_size, progress=True)
    print(f"generate {args.n} pairs ({args.png_size} px PNG, varied captions): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    args.dir = str(root / "data")
    ok, results = measure(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
