"""The pointing game's scoring, on attention maps alone (numpy; no torch, so the Attention
tab reads it without loading a model): which half of the patch grid a caption's words look
at, and how often that is the captioned emoji's half. The composites themselves are made in
:mod:`.grounding`."""

from __future__ import annotations

import math

import numpy as np

from ..training.events import AttentionSnapshot
from .attention_stats import attention_rows, token_mask

SIDES = ("left", "right")


def patch_halves(grid: tuple[int, int]) -> np.ndarray:
    """(2, rows * cols) bool: the patches (row-major) of the left and the right half, by
    column; for an odd number of columns the middle one is in neither."""
    rows, cols = grid
    col = np.tile(np.arange(cols), rows)
    return np.stack([col < cols // 2, col >= cols - cols // 2])


def half_masses(t2i: np.ndarray, lengths, grid: tuple[int, int]) -> np.ndarray:
    """(n, 2) the attention mass on the left and the right half of the patch grid of each
    composite's text -> image map (n, L, P): the mean over its caption's first ``lengths``
    words of each word's weights (as a distribution over the patches)."""
    p = attention_rows(t2i)
    words = token_mask(lengths, p.shape[1]) & (p.sum(-1) > 0)
    count = np.maximum(words.sum(1), 1)[:, None]
    mean_map = (p * words[..., None]).sum(1) / count  # (n, P)
    return mean_map @ patch_halves(grid).T.astype(np.float64)


def pointing_hits(masses: np.ndarray, side: np.ndarray) -> np.ndarray:
    """(n,) bool: the captioned half (``side``: 0 left, 1 right) got more mass than the
    other (a tie is no hit)."""
    idx = np.arange(len(side))
    return masses[idx, side] > masses[idx, 1 - side]


def pointing_score(hits: int, n: int) -> dict:
    """The pointing game's figures: ``hits``, ``n``, ``rate``, ``chance`` (0.5) and the
    rate's binomial standard error, sqrt(rate (1 - rate) / n)."""
    rate = hits / n if n else float("nan")
    se = math.sqrt(rate * (1 - rate) / n) if n else float("nan")
    return {"hits": int(hits), "n": int(n), "rate": rate, "chance": 0.5, "se": se}


def snapshot_pointing(snap: AttentionSnapshot) -> dict | None:
    """The pointing game over a composite snapshot's probes (:func:`pointing_score`, plus
    ``masses`` (n, 2) left and right), or None when it has no composites to score."""
    t2i = snap.maps.get("text_to_image")
    if t2i is None or not snap.probes or snap.grid is None or \
            any(p.captioned not in SIDES for p in snap.probes):
        return None
    masses = half_masses(t2i, [len(p.tokens) for p in snap.probes], snap.grid)
    side = np.array([SIDES.index(p.captioned) for p in snap.probes])
    return {**pointing_score(int(pointing_hits(masses, side).sum()), len(side)),
            "masses": masses}
