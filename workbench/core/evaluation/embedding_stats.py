"""Figures that say how the text and image embeddings sit on the unit sphere, shown beside the
Embeddings tab's scatter, and the cross-modal nearest neighbours it lists.

- modality gap (Liang et al. 2022, "Mind the Gap"): the distance between the centroids of
  the L2-normalised text and image vectors; 0 when the two clouds are centred alike.
- alignment (Wang & Isola 2020): mean squared distance between a pair's normalised vectors;
  0 when every caption sits on its image. Lower is better.
- uniformity (Wang & Isola 2020): log of the mean Gaussian potential exp(-t ||xi - xj||^2)
  over all pairs i < j of normalised vectors; more negative means more evenly spread.
"""

from __future__ import annotations

import numpy as np

UNIFORMITY_BLOCK = 1024  # rows of the pairwise matrix at a time: 5,000 points in ~40 MB


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), as float64."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def modality_gap(text: np.ndarray, image: np.ndarray) -> float:
    """||mean(normalised text) - mean(normalised image)||."""
    if len(text) == 0 or len(image) == 0:
        return float("nan")
    return float(np.linalg.norm(normalise(text).mean(0) - normalise(image).mean(0)))


def alignment(text: np.ndarray, image: np.ndarray) -> float:
    """Mean over pairs of ||t_i - v_i||^2 of the normalised vectors (rows are pairs)."""
    if len(text) != len(image):
        raise ValueError(f"alignment needs paired rows, got {len(text)} texts and "
                         f"{len(image)} images")
    if len(text) == 0:
        return float("nan")
    return float(((normalise(text) - normalise(image)) ** 2).sum(1).mean())


def uniformity(x: np.ndarray, t: float = 2.0) -> float:
    """log mean_{i<j} exp(-t ||x_i - x_j||^2) over the normalised rows of ``x``."""
    x = normalise(x)
    n = len(x)
    if n < 2:
        return float("nan")
    total = 0.0
    for start in range(0, n, UNIFORMITY_BLOCK):
        block = x[start:start + UNIFORMITY_BLOCK]
        # ||a - b||^2 = 2 - 2 a.b for unit vectors; only j > i counts.
        d2 = np.maximum(2.0 - 2.0 * block @ x.T, 0.0)
        rows = np.arange(start, start + len(block))[:, None]
        total += np.exp(-t * d2)[np.arange(n)[None, :] > rows].sum()
    return float(np.log(total / (n * (n - 1) / 2)))


def nearest_neighbours(query: np.ndarray, gallery: np.ndarray,
                       k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``gallery`` (M, D) most cosine-similar to ``query`` (D,): their
    indices and similarities, best first (ties: the lower index first)."""
    gallery = normalise(gallery)
    if len(gallery) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    scores = gallery @ normalise(query)
    order = np.argsort(-scores, kind="stable")[:k]
    return order.astype(np.int64), scores[order]


def embedding_stats(text: np.ndarray | None, image: np.ndarray | None,
                    fused: np.ndarray | None = None) -> dict[str, float]:
    """The figures a snapshot has data for: ``gap``, ``alignment``, and ``uniformity_<m>``
    per modality present."""
    out: dict[str, float] = {}
    if text is not None and image is not None and len(text) == len(image):
        out["gap"] = modality_gap(text, image)
        out["alignment"] = alignment(text, image)
    for name, x in (("text", text), ("image", image), ("fused", fused)):
        if x is not None:
            out[f"uniformity_{name}"] = uniformity(x)
    return out
