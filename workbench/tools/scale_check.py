"""Scale check: generate N small image/caption pairs, load them, train one epoch, report.

    python -m workbench.tools.scale_check [--n 100000] [--dir DIR] [--epochs 1]

Steps, each measured in its own fresh process so its peak memory is its own:

1. generate N PNG images (``--png-size`` pixels, coloured shapes) with ``metadata.jsonl``
   (the Hugging Face image-folder layout);
2. ``load (cold)``: the data layer reads, checks and decodes every image, and writes the
   on-disk image cache;
3. ``load (cached) + train``: the same load again (from the cache), then ``--epochs`` of
   contrastive training through the Trainer;
4. ``preview table`` (when PySide6 is present): the Data panel's table model over the N
   pairs, timing a scroll from top to bottom one screenful (30 rows) at a time, thumbnails
   included.

It prints one line per step (seconds, peak resident memory) and what the pixels alone take.
Decoded pixels are held in memory at the training size (``--image-size``), so memory grows
with N by about 3 x image-size^2 bytes per distinct image plus the captions and tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.bench.result import json_from_child, peak_rss_mb, proc_status_mb, rss_mb

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220),
           "yellow": (230, 210, 30), "purple": (140, 50, 170), "orange": (240, 140, 20)}
SHAPES = ("square", "circle", "cross")
SIZES = ("small", "large")


def draw_pair(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str, str]:
    """One generated pair: a ``size`` x ``size`` RGB image of a coloured shape on white
    with pixel noise, its caption ("a small red circle") and its colour (the label)."""
    names = list(COLOURS)
    colour, shape, big = names[rng.integers(len(names))], SHAPES[rng.integers(3)], \
        SIZES[rng.integers(2)]
    yy, xx = np.mgrid[:size, :size]
    r = size * (0.4 if big == "large" else 0.25)
    cy, cx = rng.uniform(r, size - r, 2)
    if shape == "square":
        mask = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r)
    elif shape == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    else:
        mask = ((np.abs(yy - cy) < r / 3) & (np.abs(xx - cx) < r)) | \
            ((np.abs(xx - cx) < r / 3) & (np.abs(yy - cy) < r))
    px = np.full((size, size, 3), 255, dtype=np.uint8)
    px[mask] = COLOURS[colour]
    px = np.clip(px.astype(np.int16) + rng.integers(-12, 13, px.shape), 0, 255)
    return px.astype(np.uint8), f"a {big} {colour} {shape}", colour


def generate_image_folder(root: Path, n: int, *, size: int = 16, seed: int = 0,
                          progress: bool = False) -> Path:
    """``n`` PNG images of coloured shapes with captions ("a small red circle") and the
    colour as label, plus ``metadata.jsonl``. Images are spread over 1,000 subfolders, as
    a large real folder would be (one folder of 100,000 files is slow on some filesystems)."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    meta = root / "metadata.jsonl"
    if meta.exists() and sum(1 for _ in meta.open()) == n:
        return root  # already generated (same N): reuse it
    rng = np.random.default_rng(seed)
    lines = []
    t0 = time.perf_counter()
    for i in range(n):
        px, caption, colour = draw_pair(rng, size)
        name = f"{i // 100:04d}/{i:06d}.png"
        (root / name).parent.mkdir(exist_ok=True)
        Image.fromarray(px).save(root / name)
        lines.append(json.dumps({"file_name": name, "text": caption, "label": colour}))
        if progress and (i + 1) % 10000 == 0:
            print(f"  generated {i + 1}/{n} ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    meta.write_text("\n".join(lines) + "\n")
    return root


def rss_anon_mb() -> float:
    """Private (anonymous) resident memory: what the process itself holds. Resident pages of
    memory-mapped files (the image cache) count in RSS too, but they are clean, shared with
    the page cache and dropped by the kernel under pressure, so this is the bounded part."""
    anon = proc_status_mb("RssAnon")
    return float("nan") if anon is None else anon


def config(folder: Path, image_size: int, epochs: int, batch: int, val_fraction: float = 0.02):
    from workbench.core import config as C
    return C.apply_overrides(C.ExperimentConfig(), [
        f"data.source={folder}", f"preprocess.image_size={image_size}", "model.embed_dim=32",
        "model.hidden_dim=32", "algorithm.name=contrastive", "fusion.name=mean",
        f"training.batch_size={batch}", f"training.epochs={epochs}", "device=cpu",
        f"data.val_fraction={val_fraction}", "data.test_fraction=0.0",
        "training.snapshot_every=1000", "training.probe_samples=4"])


def child(args) -> dict:
    """One measured step, in this (fresh) process."""
    import torch  # noqa: F401 - in the baseline, so what the load adds stands alone

    from workbench.core.data import load_dataset
    cfg = config(Path(args.dir), args.image_size, args.epochs, args.batch, args.val_fraction)
    base = rss_mb()
    t0 = time.perf_counter()
    if args.child == "table":
        return table_check(cfg, base, t0)
    ds = load_dataset(cfg)
    out = {"load_s": time.perf_counter() - t0, "pairs": len(ds),
           "cache_hits": ds.table.cache_hits, "rss_after_load_mb": rss_mb(),
           "anon_after_load_mb": rss_anon_mb(),
           "baseline_mb": base,
           "pixels_mb": ds.images.numel() / 2**20 if ds.images is not None else 0.0}
    if args.child == "train":
        from workbench.core.training import Trainer
        t1 = time.perf_counter()
        end = Trainer(cfg, ds).fit()
        out.update(train_s=time.perf_counter() - t1, status=end.status, reason=end.reason,
                   val=end.metrics, steps=end.step, anon_after_train_mb=rss_anon_mb())
    out["peak_mb"] = peak_rss_mb()
    return out


def table_check(cfg, base: float, t0: float) -> dict:
    """Scroll the preview table's model over every row, a screenful at a time."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from workbench.core.data import load_pairs
    from workbench.ui.panels.pair_table_model import PairTableModel

    app = QApplication.instance() or QApplication([])  # noqa: F841 - pixmaps need one
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    model = PairTableModel(table)
    build_s = time.perf_counter() - t1
    screen, worst, n = 30, 0.0, model.rowCount()
    t2 = time.perf_counter()
    screens = 0
    for top in range(0, n, screen):
        s = time.perf_counter()
        for row in range(top, min(n, top + screen)):
            for col in range(model.columnCount()):
                idx = model.index(row, col)
                model.data(idx, Qt.ItemDataRole.DisplayRole)
                model.data(idx, Qt.ItemDataRole.DecorationRole)
        worst = max(worst, time.perf_counter() - s)
        screens += 1
    scroll_s = time.perf_counter() - t2
    return {"load_s": load_s, "model_build_s": build_s, "screens": screens,
            "mean_screen_ms": 1000 * scroll_s / max(screens, 1), "worst_screen_ms": 1000 * worst,
            "cached_thumbnails": model.cached_thumbnails, "peak_mb": peak_rss_mb(),
            "baseline_mb": base}


def run_child(args, step: str, env: dict[str, str] | None = None) -> dict:
    """One step in a fresh process (``env``: its environment, this one's by default)."""
    cmd = [sys.executable, "-m", "workbench.tools.scale_check", "--child", step,
           "--dir", args.dir, "--image-size", str(args.image_size), "--epochs",
           str(args.epochs), "--batch", str(args.batch), "--val-fraction",
           str(args.val_fraction)]
    return json_from_child(cmd, env)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="pairs to generate (100,000)")
    p.add_argument("--dir", help="where the pairs go (kept; reused when N matches)")
    p.add_argument("--png-size", type=int, default=32, help="generated image size (32)")
    p.add_argument("--image-size", type=int, default=16, help="training image size (16)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--val-fraction", type=float, default=0.02,
                   help="pairs validated on (0.02; 0.2 of 100,000 ranks 20,000 x 20,000)")
    p.add_argument("--no-table", action="store_true", help="skip the preview-table step")
    p.add_argument("--child", choices=("load", "train", "table"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0

    args.dir = args.dir or str(Path(tempfile.gettempdir()) / f"workbench-scale-{args.n}")
    # The check's own image cache: a cold first load, whatever ran before.
    os.environ["WORKBENCH_HOME"] = str(Path(args.dir) / "home")
    t0 = time.perf_counter()
    generate_image_folder(Path(args.dir) / "data", args.n, size=args.png_size, progress=True)
    print(f"generate {args.n} pairs ({args.png_size} px PNG): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    args.dir = str(Path(args.dir) / "data")
    ok = True
    steps = [("load (cold)", "load"), ("load (cached) + train", "train")]
    if not args.no_table:
        steps.append(("preview table", "table"))
    for title, step in steps:
        if step == "load":
            import shutil
            shutil.rmtree(Path(os.environ["WORKBENCH_HOME"]) / "cache", ignore_errors=True)
        r = run_child(args, step)
        if "error" in r:
            ok = step == "table" and "PySide6" in r["error"] and ok  # no Qt: skipped
            print(f"{title}: FAILED\n{r['error']}" if not ok else f"{title}: skipped (no Qt)")
            continue
        line = f"{title}: load {r['load_s']:.1f} s"
        if step == "table":
            line += (f", model {r['model_build_s'] * 1000:.0f} ms, scroll {r['screens']} "
                     f"screens: mean {r['mean_screen_ms']:.2f} ms, worst "
                     f"{r['worst_screen_ms']:.1f} ms per screen; thumbnails cached "
                     f"{r['cached_thumbnails']}")
        else:
            line += (f" ({r['cache_hits']} images from the cache), {r['pairs']} pairs, "
                     f"pixels {r['pixels_mb']:.0f} MB, RSS after load "
                     f"{r['rss_after_load_mb']:.0f} MB (private "
                     f"{r.get('anon_after_load_mb', float('nan')):.0f} MB)")
        if step == "train":
            line += (f"; train {r['train_s']:.1f} s ({r['steps']} steps, {r['status']}, "
                     f"private after {r.get('anon_after_train_mb', float('nan')):.0f} MB)")
            if r["status"] != "finished":
                ok = False
                line += f": {r['reason']}"
            else:
                line += "; val " + ", ".join(f"{k} {r['val'][k]:.3f}" for k in
                                            ("loss", "t2i_r10", "mean_recall")
                                            if k in r["val"])
        line += f"; peak RSS {r['peak_mb']:.0f} MB (python + torch at start " \
                f"{r['baseline_mb']:.0f} MB)"
        print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
