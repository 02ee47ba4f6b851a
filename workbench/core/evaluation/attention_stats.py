"""How much an attention map differs from uniform, shown beside the Attention tab's heatmap.

An attention row is a probability distribution of one query (a word, say) over its keys (the
image patches). With K keys, uniform attention puts 1/K on each: the model looks everywhere
alike and so has learned nothing about where to look.

- normalised entropy: the row's entropy (nats) divided by log K, its largest possible value;
  1 for uniform attention, 0 when one key takes everything. Rows that are padding (a caption's
  positions past its last word) or that attend to nothing (an absent modality: all zeros) are
  left out, and so are keys that are masked; a row with fewer than two real keys has no
  uniform to differ from and is left out too. A map's figure is the mean over its real rows.
- word specificity (text -> image): the mean Jensen-Shannon divergence (nats) between each
  word's distribution over the patches and the caption's mean map (the mean over its words);
  0 when every word looks at the same patches, at most log 2.
- foreground gain (text -> image, on images drawn on a white background such as the
  built-in emoji): (m - s) / (1 - s), with m the attention mass on the foreground patches
  (at least half of a patch's pixels non-white: some channel below 240) and s their share of
  the image; 1 when all attention is on the drawing, 0 for attention that ignores it, below
  0 when it prefers the background. Images whose foreground share is under 5% or over 90%
  (nothing drawn, or no background to tell it from) are left out. The mask measures; no
  model ever reads it.
- null share (co-attention with a null key): the mean share of a word's attention that went
  to the null key rather than to any patch. The three figures above are then of the share
  that went to the patches (each row renormalised over them: where a word looks when it
  looks at the image), and each word counts by that share: a word that sends 99% of its
  attention to the null key hardly counts, however its last 1% is spread.
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


def _weighted_mean(values: np.ndarray, row_weight: np.ndarray | None) -> float:
    """Mean of ``values`` over its non-NaN entries, each weighted by ``row_weight`` (same
    shape; None: all alike); NaN when nothing counts."""
    values = np.asarray(values, dtype=np.float64)
    w = np.ones_like(values) if row_weight is None else np.asarray(row_weight, np.float64)
    real = ~np.isnan(values) & (w > 0)
    if not real.any():
        return float("nan")
    return float((values[real] * w[real]).sum() / w[real].sum())


def normalised_entropy(weights: np.ndarray, row_mask: np.ndarray | None = None,
                       key_mask: np.ndarray | None = None,
                       row_weight: np.ndarray | None = None) -> float:
    """Mean normalised entropy over the real rows of ``weights`` (..., K).

    ``row_mask`` (``weights.shape[:-1]``) is True on real rows (a caption's words, not its
    padding); rows without weight or with fewer than two real keys never count. Each row
    counts by ``row_weight`` (``weights.shape[:-1]``; None: alike). NaN when no row counts.
    """
    per_row = row_normalised_entropy(weights, key_mask)
    if row_mask is not None:
        per_row = np.where(np.asarray(row_mask, dtype=bool), per_row, np.nan)
    return _weighted_mean(per_row, row_weight)


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


def attention_rows(weights, key_mask=None) -> np.ndarray:
    """Each row of ``weights`` (..., K) as a distribution over its real keys (zeros where a
    row has no weight)."""
    w = np.asarray(weights, dtype=np.float64)
    if key_mask is not None:
        w = np.where(np.broadcast_to(np.asarray(key_mask, dtype=bool), w.shape), w, 0.0)
    w = np.clip(w, 0.0, None)
    total = w.sum(-1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    ratio = np.where(p > 0, p / np.where(q > 0, q, 1.0), 1.0)
    return np.where(p > 0, p * np.log(ratio), 0.0).sum(-1)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (nats) of distributions along the last axis."""
    m = 0.5 * (p + q)
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def word_specificity(weights: np.ndarray, row_mask: np.ndarray | None = None,
                     row_weight: np.ndarray | None = None) -> float:
    """Mean JS divergence (nats) between each real word's map and its caption's mean map,
    for text -> image maps (captions, words, patches); NaN without a caption of two words.
    With ``row_weight`` (captions, words) the words count by it, in the caption's mean map
    and in the mean over words."""
    p = attention_rows(weights)
    n, words = p.shape[0], p.shape[1]
    real = np.ones((n, words), dtype=bool) if row_mask is None else \
        np.asarray(row_mask, dtype=bool)
    real &= p.sum(-1) > 0
    w = np.ones((n, words)) if row_weight is None else np.asarray(row_weight, np.float64)
    values, counts = [], []
    for i in range(n):
        rows, wi = p[i][real[i]], w[i][real[i]]
        if len(rows) < 2 or wi.sum() <= 0:
            continue
        mean = (rows * wi[:, None]).sum(0, keepdims=True) / wi.sum()
        values.extend(js_divergence(rows, mean).tolist())
        counts.extend(wi.tolist())
    return _weighted_mean(np.array(values), np.array(counts)) if values else float("nan")


WHITE = 240  # a channel below this is ink, not the white background
FOREGROUND_SHARE = (0.05, 0.9)  # images outside it have no foreground to tell apart


def foreground_patches(images: np.ndarray, grid: tuple[int, int],
                       white: int = WHITE) -> np.ndarray:
    """(N, rows * cols) bool: the patches of each image (N, 3, H, W uint8) at least half of
    whose pixels are not white (some channel below ``white``)."""
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images (N, 3, H, W), got shape {x.shape}")
    rows, cols = grid
    n, _, h, w = x.shape
    ink = (x < white).any(1)  # (N, H, W)
    ph, pw = h // rows, w // cols
    ink = ink[:, :rows * ph, :cols * pw].reshape(n, rows, ph, cols, pw)
    return (ink.mean((2, 4)) >= 0.5).reshape(n, rows * cols)


def foreground_gain(weights: np.ndarray, foreground: np.ndarray,
                    row_mask: np.ndarray | None = None,
                    share: tuple[float, float] = FOREGROUND_SHARE,
                    row_weight: np.ndarray | None = None) -> float:
    """Mean over images of (m - s) / (1 - s) (see the module docstring) for text -> image
    maps (N, words, patches) and their patches' foreground (N, patches), m the mean over the
    words (each counting by ``row_weight``, (N, words); None: alike); NaN when no image has
    a foreground share inside ``share``."""
    p = attention_rows(weights)
    fg = np.asarray(foreground, dtype=bool)
    real = np.ones(p.shape[:2], dtype=bool) if row_mask is None else \
        np.asarray(row_mask, dtype=bool)
    real &= p.sum(-1) > 0
    w = np.ones(p.shape[:2]) if row_weight is None else np.asarray(row_weight, np.float64)
    gains = []
    for i in range(p.shape[0]):
        s = fg[i].mean()
        if not share[0] <= s <= share[1] or not real[i].any():
            continue
        m = _weighted_mean((p[i][real[i]] * fg[i]).sum(-1), w[i][real[i]])
        if not math.isnan(m):
            gains.append((m - s) / (1 - s))
    return float(np.mean(gains)) if gains else float("nan")


def null_share(null: np.ndarray, row_mask: np.ndarray | None = None) -> float:
    """Mean over the real rows (``row_mask``) of ``null`` (..., rows): each query's weight on
    the null key; NaN when no row is real."""
    return _weighted_mean(null, None if row_mask is None else np.asarray(row_mask, float))


def neighbour_entropy(graph: list[dict]) -> float:
    """Mean normalised entropy of each probe node's weights over its neighbours (the graph
    algorithm's GAT attention, or GCN's fixed 1/c_ij), as ``AttentionSnapshot.graph`` lists
    them; a node with fewer than two neighbours has no uniform to differ from."""
    rows = [[w for _, _, w in node["neighbours"]] for node in graph]
    values = [normalised_entropy(np.asarray(r, dtype=np.float64)) for r in rows if len(r) > 1]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def describe_neighbours(rows, graph: list[dict]) -> str:
    """How far one node's neighbour weights ``rows`` ((label, kind, weight), as the Attention
    tab lists them) and all the probes' (``graph``) are from uniform, in words."""
    this = neighbour_entropy([{"neighbours": rows}])
    over = neighbour_entropy(graph)
    if not rows:
        return ""
    if math.isnan(this):
        return "This node has one neighbour: its weight says nothing about where it looks."
    text = (f"Normalised entropy of this node's {len(rows)} neighbour weights: {this:.3f}, "
            f"{uniformity_words(this)} (1 = uniform, 0 = one neighbour)")
    if not math.isnan(over):
        text += f"; over the probes: {over:.3f}"
    return text + "."


def snapshot_stats(snap) -> dict[str, float]:
    """The figures of an attention snapshot's maps (those it has): ``t2i_entropy``,
    ``t2i_specificity``, ``t2i_foreground_gain``, ``t2i_null_share``, ``i2t_entropy``,
    ``modality_entropy``, ``graph_entropy``; NaN-free (a figure that cannot be measured is
    left out)."""
    out: dict[str, float] = {}
    maps = snap.maps
    lengths = [len(p.tokens) for p in snap.probes]
    t2i = maps.get("text_to_image")
    if t2i is not None and len(t2i):
        words = token_mask(lengths, t2i.shape[1])
        # With a null key, each word counts by the share of its attention on the image.
        on_image = np.asarray(t2i, np.float64).sum(-1) if "text_to_null" in maps else None
        out["t2i_entropy"] = normalised_entropy(t2i, row_mask=words, row_weight=on_image)
        out["t2i_specificity"] = word_specificity(t2i, row_mask=words, row_weight=on_image)
        images = [p.image for p in snap.probes]
        if snap.grid is not None and all(im is not None for im in images) and \
                snap.grid[0] * snap.grid[1] == t2i.shape[-1]:
            fg = foreground_patches(np.stack(images), snap.grid)
            out["t2i_foreground_gain"] = foreground_gain(t2i, fg, row_mask=words,
                                                         row_weight=on_image)
        if maps.get("text_to_null") is not None:
            out["t2i_null_share"] = null_share(maps["text_to_null"], row_mask=words)
    i2t = maps.get("image_to_text")
    if i2t is not None and len(i2t):
        out["i2t_entropy"] = normalised_entropy(i2t, key_mask=token_mask(
            lengths, i2t.shape[-1])[:, None, :])
    weights = maps.get("modality_weights")
    if weights is not None and len(weights):
        out["modality_entropy"] = normalised_entropy(weights)
    if snap.graph:
        out["graph_entropy"] = neighbour_entropy(snap.graph)
    return {k: round(float(v), 6) for k, v in out.items() if not math.isnan(v)}
