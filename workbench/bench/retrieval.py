"""Measure 8: ranking every caption and image for the retrieval metrics.

- **memory**: 50,000 captions x 10,000 images (5,000 x 1,000 with --quick) ranked in a fresh
  process; its peak memory over the same process holding only the vectors. The ranks are
  computed in blocks of captions (``evaluation.ranking``), so memory grows with the block
  times the candidates, not with captions x images (the whole similarity matrix would be
  2 GB here, and validating on 20,000 pairs peaked at 5.6 GB before).
- **speed**: the blocked ranking against the full-matrix code it replaced, on a size that
  code can still hold (10,000 x 10,000; 2,000 x 2,000 with --quick), best of alternated
  tries in this process. The full-matrix code counted ties for the model (1 + the number of
  images scoring strictly higher); the blocked one counts them as random tie-breaking would,
  with more comparisons, and must still be at least as fast.
"""

from __future__ import annotations

import argparse
import json
import sys

from .result import Result, best_alternated, json_from_child, peak_rss_mb, rss_mb

MEMORY_TARGET_MB = 1024
SPEED_TARGET = 1.0
DIM = 128


def sizes(quick: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """(captions, images) for the memory row and for the speed row."""
    return ((5_000, 1_000), (2_000, 2_000)) if quick else ((50_000, 10_000), (10_000, 10_000))


def vectors(captions: int, images: int, seed: int = 0):
    """Caption and image vectors per pair (captions / images captions per image), the
    captions near their image's vector: what a trained joint embedding gives."""
    import torch
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(captions) % images
    image = torch.randn(images, DIM, generator=g)[ids]
    text = image + 1.5 * torch.randn(captions, DIM, generator=g)
    return text, image, ids


def full_matrix_ranks(text, image, image_ids):
    """The ranking before blocks: the whole (captions x images) similarity matrix at once,
    rank = 1 + the candidates scoring strictly higher (ties counted for the model)."""
    import torch
    import torch.nn.functional as F

    from ..core.evaluation.ranking import first_occurrence

    unique, first = first_occurrence(image_ids)
    t = F.normalize(text.float(), dim=-1)
    g = F.normalize(image[first].float(), dim=-1)
    sim = t @ g.T
    target = torch.searchsorted(unique, image_ids)
    true = sim.gather(1, target[:, None])
    t2i = 1 + (sim > true).sum(1)
    best_true = torch.full((len(unique),), -float("inf"))
    best_true = best_true.scatter_reduce(0, target, true.squeeze(1), reduce="amax")
    i2t = 1 + (sim.T > best_true[:, None]).sum(1)
    return t2i, i2t


def child(captions: int, images: int) -> dict:
    """In a fresh process: memory before and after ranking (the vectors already made)."""
    import time

    from ..core.evaluation.ranking import retrieval_counts

    text, image, ids = vectors(captions, images)
    before = rss_mb()
    t0 = time.perf_counter()
    t2i, i2t = retrieval_counts(text, image, ids)
    seconds = time.perf_counter() - t0
    return {"baseline_mb": before, "peak_mb": peak_rss_mb(), "seconds": seconds,
            "queries": len(t2i) + len(i2t)}


def run(quick: bool) -> list[Result]:
    from ..core.evaluation.ranking import retrieval_counts

    (n, m), (sn, sm) = sizes(quick)
    got = json_from_child([sys.executable, "-m", "workbench.bench.retrieval",
                           "--captions", str(n), "--images", str(m)])
    if "error" in got:
        raise RuntimeError(f"the ranking child failed: {got['error']}")
    grown = got["peak_mb"] - got["baseline_mb"]
    whole = n * m * 4 / 2**20
    rows = [Result(f"retrieval: rank {n:,} captions x {m:,} images, peak memory over the "
                   "vectors", grown, "MB", whole, "the whole similarity matrix alone (float32)",
                   None, f"< {MEMORY_TARGET_MB:,} MB", grown < MEMORY_TARGET_MB,
                   note=f"{got['seconds']:.1f} s", details=got)]
    text, image, ids = vectors(sn, sm, seed=1)
    times = best_alternated({
        "blocked": lambda: _timed(lambda: retrieval_counts(text, image, ids)),
        "full": lambda: _timed(lambda: full_matrix_ranks(text, image, ids)),
    }, 2 if quick else 3)
    ratio = times["full"] / times["blocked"]
    rows.append(Result(f"retrieval: rank {sn:,} x {sm:,}, blocked with ties vs the full matrix",
                       times["blocked"], "s", times["full"],
                       "full-matrix code, ties counted for the model", ratio,
                       f">= {SPEED_TARGET:g}x", ratio >= SPEED_TARGET))
    return rows


def _timed(fn) -> float:
    import time
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one retrieval ranking, for workbench bench")
    parser.add_argument("--captions", type=int, required=True)
    parser.add_argument("--images", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(child(args.captions, args.images)))
