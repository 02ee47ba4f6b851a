"""How much an attention map differs from uniform, shown beside the Attention tab's heatmap.

An attention row is a probability distribution of one query (a word, say) over its keys (the
image patches). With K keys, uniform attention puts 1/K on each: the model looks everywhere
alike and so has learned nothing about where to look.

- normalised entropy: the row's entropy (nats) divided by log K, its largest possible value;
  1 for uniform attention, 0 when one key takes everything. Rows that are padding (a caption's
  positions past its last word) or that attend to nothing (an absent modality: all zeros) are
  left out, and so are keys that are masked; a row with fewer than two real keys has no
  uniform to differ from and is left out too. A map's figure is the mean over its real rows.
"""

from __future__ import annotations

import math

import numpy as np

# Upper bounds of normalised entropy and the words that say how the attention is spread:
# with 64 keys, half of them at 1.4/64 and half at 0.6/64 (±40% of uniform) scores 0.98; attention
# spread evenly over half the keys scores 0.83, over a quarter 0.67, over one key in 16 0.33.
UNIFORMITY_WORDS = ((0.33, "sharply focused"), (0.7, "focused"), (0.9, "somewhat focused"),
                    (0.98, "close to uniform"), (math.inf, "almost uniform"))


def uniform_weight(keys: int) -> float:
    """The weight each of ``keys`` keys gets from uniform attention: 1 / keys."""
    if keys < 1:
        raise ValueError(f"uniform attention needs at least one key, got {keys}")
    return 1.0 / keys


def token_mask(lengths, size: int) -> np.ndarray:
    """(len(lengths), size) bool: True on each caption's first ``length`` token positions (its
    words), False on the padding after them. The row mask of text -> image maps and the key
    mask of image -> text maps."""
    return np.arange(size)[None, :] < np.asarray(lengths, dtype=np.int64).reshape(-1, 1)


def row_normalised_entropy(weights: np.ndarray, key_mask: np.ndarray | None = None
                           ) -> np.ndarray:
    """Normalised entropy of each row of ``weights`` (..., K): entropy / log(real keys).

    ``key_mask`` (broadcastable to ``weights``) is True on real keys; weight on masked keys is
    ignored and each row renormalised over its real keys. NaN for a row with no weight or
    fewer than two real keys.
    """
    w = np.asarray(weights, dtype=np.float64)
    keys = np.ones_like(w, dtype=bool) if key_mask is None else np.broadcast_to(
        np.asarray(key_mask, dtype=bool), w.shape)
    w = np.where(keys, np.clip(w, 0.0, None), 0.0)
    total = w.sum(-1, keepdims=True)
    p = w / np.where(total > 0, total, 1.0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)  # 0 log 0 = 0
    entropy = -plogp.sum(-1)
    n = keys.sum(-1)
    valid = (total[..., 0] > 0) & (n >= 2)
    return np.where(valid, entropy / np.log(np.maximum(n, 2)), np.nan)


def normalised_entropy(weights: np.ndarray, row_mask: np.ndarray | None = None,
                       key_mask: np.ndarray | None = None) -> float:
    """Mean normalised entropy over the real rows of ``weights`` (..., K).

    ``row_mask`` (``weights.shape[:-1]``) is True on real rows (a caption's words, not its
    padding); rows without weight or with fewer than two real keys never count. NaN when no
    row counts.
    """
    per_row = row_normalised_entropy(weights, key_mask)
    if row_mask is not None:
        per_row = np.where(np.asarray(row_mask, dtype=bool), per_row, np.nan)
    real = per_row[~np.isnan(per_row)]
    return float(real.mean()) if real.size else float("nan")


def uniformity_words(value: float) -> str:
    """How a normalised entropy reads in words ("almost uniform" … "sharply focused")."""
    if math.isnan(value):
        return "no attention"
    return next(words for bound, words in UNIFORMITY_WORDS if value < bound)


def describe_entropy(value: float) -> str:
    """The figure as the Attention tab shows it: "normalised entropy 0.987: almost uniform"."""
    if math.isnan(value):
        return "normalised entropy: no attention to measure"
    return f"normalised entropy {value:.3f}: {uniformity_words(value)}"
