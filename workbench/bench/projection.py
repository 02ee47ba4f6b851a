"""Measure 5: projecting embeddings to 2-D. The workbench's t-SNE (openTSNE where
installed) against scikit-learn's TSNE with its defaults and the same perplexity; the
workbench's PCA against its 0.2 s budget (scikit-learn's PCA timed beside it for scale).
Both baselines need scikit-learn, an optional package: without it the rows say so."""

from __future__ import annotations

import importlib.util

from .result import Result, best_time

PCA_TARGET_S = 0.2
TSNE_TARGET = 1.0  # not slower than scikit-learn (the issue asks for the ratio only)


def sizes(quick: bool) -> tuple[int, int]:
    """(points, dimensions)."""
    return (500, 128) if quick else (5_000, 128)


def vectors(n: int, d: int, seed: int = 0):
    """Ten Gaussian clusters: embeddings with structure, as a trained model gives."""
    import numpy as np
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (10, d))
    return (centres[rng.integers(0, 10, n)] + rng.normal(0, 1, (n, d))).astype(np.float32)


def run(quick: bool) -> list[Result]:
    from ..core.evaluation import projection as P

    n, d = sizes(quick)
    x = vectors(n, d)
    have_sklearn = importlib.util.find_spec("sklearn") is not None
    rows = []

    pca_s = best_time(lambda: P.pca(x), 3)
    base = None
    if have_sklearn:
        from sklearn.decomposition import PCA
        base = best_time(lambda: PCA(n_components=2).fit_transform(x), 3)
    rows.append(Result(f"projection: PCA of {n:,} x {d}", pca_s, "s", base,
                       "scikit-learn PCA" if base else "", base / pca_s if base else None,
                       f"< {PCA_TARGET_S:g} s", pca_s < PCA_TARGET_S))

    engine = "openTSNE" if importlib.util.find_spec("openTSNE") else "scikit-learn"
    title = f"projection: t-SNE of {n:,} x {d} ({engine})"
    if engine == "scikit-learn" and not have_sklearn:
        rows.append(Result(title, None, "s", target=f">= {TSNE_TARGET:g}x",
                           note="neither openTSNE nor scikit-learn is installed"))
        return rows
    tsne_s = best_time(lambda: P.project(x, "tsne", seed=0), 1)
    if not have_sklearn or quick:
        # scikit-learn's TSNE takes half a minute even on 500 points (1,000 iterations):
        # too long for a smoke test.
        why = "--quick: scikit-learn's TSNE not run" if have_sklearn else \
            "scikit-learn (the baseline) is not installed"
        rows.append(Result(title, tsne_s, "s", target=f">= {TSNE_TARGET:g}x", note=why))
        return rows
    from sklearn.manifold import TSNE
    perplexity = min(30.0, (n - 1) / 3.0)
    base = best_time(lambda: TSNE(n_components=2, random_state=0, init="pca",
                                  perplexity=perplexity).fit_transform(x), 1)
    rows.append(Result(title, tsne_s, "s", base, "scikit-learn TSNE", base / tsne_s,
                       f">= {TSNE_TARGET:g}x", base / tsne_s >= TSNE_TARGET,
                       details={"perplexity": perplexity}))
    return rows
