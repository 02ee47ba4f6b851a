"""Measure 4: loading data. The built-in emoji; a generated image folder decoded by the
workbench (a thread pool) against a one-thread Pillow loop; and the same folder loaded a
second time, from the on-disk cache, against the first load."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from .result import Result, best_alternated, best_time

EMOJI_TARGET_S = 1.0
DECODE_TARGET = 1.5
CACHE_TARGET = 10.0
IMAGE_SIZE = 32  # the workbench's default preprocess.image_size


def sizes(quick: bool) -> int:
    """Images in the generated folder."""
    return 2_000 if quick else 20_000


def run(quick: bool) -> list[Result]:
    from ..core.config import DataConfig
    from ..core.data import load_pairs

    t0 = time.perf_counter()
    table = load_pairs(DataConfig(source="builtin:emoji"), IMAGE_SIZE)
    emoji_s = time.perf_counter() - t0
    rows = [Result("data: builtin:emoji load", emoji_s, "s", None, "", None,
                   f"< {EMOJI_TARGET_S:g} s", emoji_s < EMOJI_TARGET_S,
                   details={"pairs": len(table)})]
    n = sizes(quick)
    folder = Path(tempfile.mkdtemp(prefix="workbench-bench-images-"))
    try:
        paths = make_folder(folder, n)
        rows += _decode_rows(paths)
        rows += _cache_rows(folder, 1 if quick else 2)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def make_folder(folder: Path, n: int) -> list[Path]:
    """``n`` small PNGs (48x40 RGB: a coloured shape on noise, so they do not compress to
    nothing) with a ``metadata.jsonl``: an image folder as a user would bring one."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    images = folder / "images"
    images.mkdir(parents=True)
    paths, lines = [], []
    shapes = ("circle", "square")
    for i in range(n):
        pixels = rng.integers(180, 256, (40, 48, 3), dtype=np.uint8)
        im = Image.fromarray(pixels)
        colour = tuple(int(c) for c in rng.integers(0, 200, 3))
        box = [int(v) for v in (*rng.integers(2, 14, 2), *rng.integers(28, 38, 2))]
        shape = shapes[i % 2]
        draw = ImageDraw.Draw(im)
        (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=colour)
        name = f"images/{i:06d}.png"
        im.save(folder / name, compress_level=1)
        paths.append(folder / name)
        lines.append(json.dumps({"file_name": name, "text": f"a {shape} number {i}",
                                 "label": shape}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return paths


def pillow_loop(paths, size: int = IMAGE_SIZE):
    """The plain way: one thread, open, convert to RGB, resize, into one array."""
    import numpy as np
    from PIL import Image

    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            out[i] = np.asarray(im.convert("RGB").resize((size, size)))
    return out


def _decode_rows(paths) -> list[Result]:
    from ..core.data.images import decode_many, default_workers

    times = best_alternated({
        "pillow": lambda: best_time(lambda: pillow_loop(paths), 1),
        "workbench": lambda: best_time(lambda: decode_many(paths, IMAGE_SIZE), 1)}, 2)
    baseline, workbench = times["pillow"], times["workbench"]
    n = len(paths)
    ratio = baseline / workbench
    return [Result(f"data: decode {n:,} PNGs", n / workbench, "images/s", n / baseline,
                   "one-thread Pillow loop", ratio, f">= {DECODE_TARGET}x",
                   ratio >= DECODE_TARGET, details={"workers": default_workers()})]


def _cache_rows(folder: Path, repeats: int = 2) -> list[Result]:
    from ..core.config import DataConfig
    from ..core.data import load_pairs
    from ..core.data.cache import ImageCache

    cfg = DataConfig(source=str(folder))
    # Each try starts from an empty cache; best of ``repeats`` each, alternated, so a burst
    # of load from another process hurts one try, not one side.
    cold = warm = float("inf")
    for r in range(repeats):
        cache = ImageCache(folder / f"cache-{r}")
        t0 = time.perf_counter()
        first = load_pairs(cfg, IMAGE_SIZE, cache=cache)
        t1 = time.perf_counter()
        second = load_pairs(cfg, IMAGE_SIZE, cache=cache)
        t2 = time.perf_counter()
        if second.cache_hits != len(first.image_paths):
            raise RuntimeError(f"the second load took {second.cache_hits} of "
                               f"{len(first.image_paths)} images from the cache")
        cold, warm = min(cold, t1 - t0), min(warm, t2 - t1)
    return [Result(f"data: image folder, second load (cache), {len(first):,} pairs", warm, "s",
                   cold, "first load (decode + write cache)", cold / warm,
                   f">= {CACHE_TARGET:g}x", cold / warm >= CACHE_TARGET,
                   details={"repeats": repeats})]
