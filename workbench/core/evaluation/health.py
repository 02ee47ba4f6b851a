"""Has an embedding space collapsed? Two figures per modality's vectors, and the verdict.

- **centred cosine**: the mean cosine between two different vectors after subtracting the
  mean vector. A shared offset (every vector = the same large vector + a small part that
  differs) makes raw cosines near 1 while the differing parts still carry everything, so
  the offset is taken out first; what is left near 1 means the vectors themselves coincide
  (all but a few outliers in one place).
- **effective rank** (Roy & Vetterli 2007): exp of the entropy of the centred vectors'
  singular values normalised to sum 1: about 1 when the vectors vary along one direction
  only, d when they use d directions alike.

A space has collapsed when its effective rank is below :data:`MIN_EFFECTIVE_RANK` or its
centred cosine is above :data:`MAX_CENTRED_COSINE`: nearest neighbours in it then say
little, however its recall reads.
"""

from __future__ import annotations

import numpy as np

MIN_EFFECTIVE_RANK = 2.0
MAX_CENTRED_COSINE = 0.9


def centred_cosine(x: np.ndarray) -> float:
    """Mean cosine over pairs i != j of the rows of ``x`` minus their mean."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < 2:
        return float("nan")
    c = x - x.mean(0)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    u = np.divide(c, norms, out=np.zeros_like(c), where=norms > 1e-12)
    # sum_{i != j} u_i.u_j = |sum u|^2 - sum |u_i|^2
    total = float(np.square(u.sum(0)).sum() - np.square(u).sum())
    return total / (n * (n - 1))


def effective_rank(x: np.ndarray) -> float:
    """exp(entropy of the normalised singular values of the centred rows of ``x``)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return float("nan")
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    total = s.sum()
    if total <= 1e-12 * max(1.0, float(np.abs(x).max())):
        return 1.0  # every vector the same: no direction at all, as collapsed as it gets
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def space_health(vectors: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``{modality: {"centred_cosine", "effective_rank"}}`` for each array given."""
    return {name: {"centred_cosine": centred_cosine(x), "effective_rank": effective_rank(x)}
            for name, x in vectors.items() if x is not None and len(x) >= 2}


def collapse_warning(health: dict[str, dict[str, float]]) -> str | None:
    """A sentence naming each collapsed modality and why it matters, or None."""
    bad = []
    for name, h in health.items():
        why = []
        if h["effective_rank"] < MIN_EFFECTIVE_RANK:
            why.append(f"effective rank {h['effective_rank']:.2f} < {MIN_EFFECTIVE_RANK:g}")
        if h["centred_cosine"] > MAX_CENTRED_COSINE:
            why.append(f"centred mean cosine {h['centred_cosine']:.2f} > "
                       f"{MAX_CENTRED_COSINE:g}")
        if why:
            bad.append(f"{name} ({', '.join(why)})")
    if not bad:
        return None
    return (f"the {' and '.join(bad)} vectors collapsed: they vary along so few directions "
            "that nearest neighbours among them mean little, whatever the recall says")
