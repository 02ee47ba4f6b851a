"""Measure 10: streaming. Generated pairs (64x64 PNGs with captions; 100,000 in 10 Parquet
shards, 5,000 in 2 with --quick), one epoch of ``contrastive-emoji``'s model in fresh
processes, taking turns: streamed from the shards (decoding in worker processes), held in
memory (the load decodes every image first), streamed decoding on a thread, and held in
memory with the images already decoded (the image cache) — what ``python -m
workbench.tools.stream_check`` does. Then ``data inspect``'s quick look at the shards.

The issue's target is the first: streaming at least 0.9x the in-memory path's load, decode
and train time (both decode). The others are reported: against images already decoded
streaming does more work (decoding and training share the cores), and threads against
processes is why the default decodes in processes.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

from .result import Result

TARGET = 0.9


def sizes(quick: bool) -> tuple[int, int, int]:
    """(pairs, shards, repeats)"""
    return (5_000, 2, 1) if quick else (100_000, 10, 2)


def run(quick: bool) -> list[Result]:
    if importlib.util.find_spec("pyarrow") is None:
        return [Result("streaming: streamed vs in memory", None, "s",
                       note="the formats extra is not installed (pip install -e "
                       "\".[formats]\")")]
    from ..tools import stream_check as S

    n, shards, repeats = sizes(quick)
    folder = Path(tempfile.mkdtemp(prefix="workbench-bench-stream-"))
    try:
        t0 = time.perf_counter()
        data = S.generate_shards(folder / "data", n, "parquet", shards=shards, size=64)
        generated_s = time.perf_counter() - t0
        got = S.compare(data, folder / "home", ["memory", "streamed", "streamed-thread",
                                                "decoded"], repeats)
        inspect_s = _inspect_seconds(data)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not got["ok"]:
        failed = [r.get("error") or r.get("reason") for rs in got["runs"].values() for r in rs
                  if "error" in r or r.get("status") != "finished"]
        raise RuntimeError(f"a streaming run failed: {failed[0]}")
    means, ratios, runs = got["means_s"], got["ratios"], got["runs"]
    what = f"{n:,} pairs, one epoch"
    common = {"pairs": n, "shards": shards, "repeats": repeats, "generate_s": generated_s,
              "runs_s": {m: [r["wall_s"] for r in rs] for m, rs in runs.items()}}
    ratio = ratios["memory/streamed"]
    peak = {m: max(r["peak_mb"] for r in rs) for m, rs in runs.items()}
    return [
        Result(f"streaming: streamed vs in memory (both decode), {what}", means["streamed"],
               "s", means["memory"], "in memory: load decodes every image, then trains",
               ratio, f">= {TARGET}x", ratio >= TARGET,
               note="mean wall time of load + epoch over the repeats", details=common),
        Result(f"streaming: streamed vs in memory, images already decoded, {what}",
               means["streamed"], "s", means["decoded"], "in memory from the image cache",
               ratios["decoded/streamed"], "", None,
               note="reported: streaming decodes while it trains, on the same cores"),
        Result(f"streaming: decoding in a worker process vs on a thread, {what}",
               means["streamed"], "s", means["streamed-thread"],
               "data.stream_workers = 0 (a thread of the training process)",
               ratios["streamed-thread/streamed"], "", None,
               note="reported: why the default decodes in processes"),
        Result(f"streaming: peak memory streamed, {what}", peak["streamed"], "MB",
               peak["memory"], "in memory (its peak)", None, "", None,
               note="the process and its decoding processes together"),
        Result(f"streaming: workbench data inspect of {n:,} Parquet pairs", inspect_s, "s",
               None, "", None, "", None,
               note="a quick look above 20,000 pairs (metadata and the first 1,000), a whole "
                    "load below; Python's start included"),
    ]


def _inspect_seconds(data: Path) -> float:
    """``workbench data inspect DATA`` from the command line (a fresh process: Python's start
    included), the best of three."""
    import subprocess
    import sys

    def once() -> None:
        subprocess.run([sys.executable, "-m", "workbench", "data", "inspect", str(data)],
                       check=True, capture_output=True)

    from .result import best_time
    return best_time(once, 3)
