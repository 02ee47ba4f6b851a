"""Measure 7: scale. A generated image folder of small pairs (100,000; 5,000 with --quick)
loaded as training data in fresh processes, cold (decode + write the image cache) and then
from the cache, each with its peak memory: what ``python -m workbench.tools.scale_check``
does, without the training epoch and the table scroll (minutes at this size).

Memory is reported, not judged: it grows with the number of pairs (captions, tokens and
the index arrays), and the decoded pixels are a memory-mapped cache file whose resident
pages the kernel can drop. The rows give peak RSS, the private part of it after the load,
and the pixels' size, so the per-pair cost can be read off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from .result import Result


def sizes(quick: bool) -> int:
    return 5_000 if quick else 100_000


def run(quick: bool) -> list[Result]:
    from ..tools import scale_check as S

    n = sizes(quick)
    folder = Path(tempfile.mkdtemp(prefix="workbench-bench-scale-"))
    # The children get a cold image cache of their own.
    env = {**os.environ, "WORKBENCH_HOME": str(folder / "home")}
    try:
        t0 = time.perf_counter()
        S.generate_image_folder(folder / "data", n, size=32)
        generated_s = time.perf_counter() - t0
        args = argparse.Namespace(dir=str(folder / "data"), image_size=16, epochs=1, batch=256,
                                  val_fraction=0.02)
        cold = S.run_child(args, "load", env)
        warm = S.run_child(args, "load", env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for r in (cold, warm):
        if "error" in r:
            raise RuntimeError(f"a scale load failed: {r['error']}")
    if warm["cache_hits"] != n:
        raise RuntimeError(f"the cached load took {warm['cache_hits']} of {n} from the cache")
    rows = []
    for what, r in (("first load (decode + write cache)", cold), ("cached load", warm)):
        grown = r["peak_mb"] - r["baseline_mb"]
        rows.append(Result(
            f"scale: {what}, {n:,} pairs, peak memory", r["peak_mb"], "MB",
            r["baseline_mb"], "same process before loading (python, numpy, torch)", None,
            "", None,
            note=f"{r['load_s']:.1f} s; {grown * 1024 / n:.1f} KB a pair over the baseline",
            details={"pairs": r["pairs"], "load_s": r["load_s"],
                     "private_after_load_mb": r["anon_after_load_mb"],
                     "pixels_mb": r["pixels_mb"], "generate_s": generated_s}))
    return rows
