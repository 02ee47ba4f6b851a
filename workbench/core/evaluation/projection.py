"""Embeddings to 2-D for the Embeddings tab: PCA (numpy, immediate), t-SNE (openTSNE, else
scikit-learn) and UMAP (umap-learn).

Every method is seeded, so the same vectors and seed give the same picture. The optional
packages are imported only when their method runs (importing umap-learn alone takes seconds,
for its numba compilation); :func:`available_methods` asks whether they are installed without
importing them. Long projections take ``should_stop``, a flag the optimisation checks between
iterations where the package allows it, so a superseded request stops early.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from typing import Callable

import numpy as np

from ..errors import WorkbenchError

METHODS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}  # name -> what a user reads
# What to install for a method, in order of preference: (module, pip name).
PACKAGES = {"tsne": (("openTSNE", "openTSNE"), ("sklearn.manifold", "scikit-learn")),
            "umap": (("umap", "umap-learn"),)}
MIN_POINTS = 5  # fewer points have no neighbourhoods for t-SNE or UMAP to keep


class ProjectionStopped(Exception):
    """``should_stop`` said stop before the projection finished."""


def _installed(module: str) -> bool:
    try:
        # The top-level package only: finding ``a.b`` would import ``a``.
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def available_methods() -> dict[str, str | None]:
    """Each method mapped to None when it can run here, else to what to install (for a
    disabled combo entry's tooltip)."""
    out: dict[str, str | None] = {"pca": None}
    for method, choices in PACKAGES.items():
        ok = any(_installed(module) for module, _ in choices)
        out[method] = None if ok else missing_message(method)
    return out


def missing_message(method: str) -> str:
    names = " or ".join(f"pip install {pip}" for _, pip in PACKAGES[method])
    return f"{METHODS[method]} needs an optional package that is not installed: {names}"


def project(vectors: np.ndarray, method: str = "pca", seed: int = 0, *,
            should_stop: Callable[[], bool] | None = None, **opts) -> np.ndarray:
    """(N, D) vectors to (N, 2) float32 coordinates by ``method`` ("pca", "tsne", "umap").
    ``opts`` go to the method (``perplexity``, ``n_neighbors``, ...)."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise WorkbenchError(f"projection needs a 2-D array of vectors, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise WorkbenchError("the embeddings contain NaN or infinite values: nothing to project")
    if method not in METHODS:
        raise WorkbenchError(f"unknown projection method {method!r}; "
                             f"allowed: {', '.join(METHODS)}")
    if method == "pca":
        return pca(x)
    if len(x) < MIN_POINTS:
        raise WorkbenchError(f"{METHODS[method]} needs at least {MIN_POINTS} points, "
                             f"got {len(x)}; use PCA")
    return (_tsne if method == "tsne" else _umap)(x, seed, should_stop, **opts)


def pca(x: np.ndarray) -> np.ndarray:
    """The first two principal components of centred ``x`` (N, D): (N, 2) float32. Each
    component's sign is fixed (its largest-magnitude loading positive), so training the same
    model twice, or replaying epochs, does not flip the picture at random."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    out = np.zeros((n, 2), dtype=np.float32)
    if n == 0 or d == 0:
        return out
    xc = x - x.mean(axis=0)
    # The right singular vectors of xc are those of its D x D scatter matrix, whose SVD is
    # ~10x cheaper than xc's own when N >> D (5,000 x 128: ~20 ms instead of ~200 ms).
    with _one_blas_thread():
        _, _, vt = np.linalg.svd(xc.T @ xc if d <= n else xc, full_matrices=False)
    k = min(2, vt.shape[0])
    comps = vt[:k]
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    out[:, :k] = xc @ comps.T
    return out


def _one_blas_thread():
    """BLAS on one thread while it runs, where threadpoolctl is installed: products this small
    gain nothing from threads, and beside a training run (or on a shared machine) BLAS threads
    spin against its threads: 5,000 x 128 took 60-2,000 ms with two threads, 30-50 ms with
    one, on a busy 2-core machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _import_first(method: str):
    for module, _ in PACKAGES[method]:
        try:
            return module, importlib.import_module(module)
        except ImportError:
            continue
    raise WorkbenchError(missing_message(method))


# openTSNE's threads: a fixed number, not the machine's cores. Its approximate neighbour
# search (Annoy) builds its trees per thread, so the embedding of one seed depends on the
# thread count (with exact neighbours it does not); a fixed count gives every machine the
# same picture. With 2, 5,000 x 128 takes 12.4 s instead of 25 s on a 2-core machine, and
# repeated runs were identical, also beside a process spinning on a core.
TSNE_THREADS = 2


def _tsne(x, seed, should_stop, **opts) -> np.ndarray:
    module, lib = _import_first("tsne")
    # A perplexity near N/3 or above leaves every point the whole set as neighbours.
    opts.setdefault("perplexity", float(min(30.0, max(1.0, (len(x) - 1) / 3.0))))
    if module == "openTSNE":
        def check(iteration, error, embedding):
            return bool(should_stop and should_stop())
        opts.setdefault("n_jobs", TSNE_THREADS)
        tsne = lib.TSNE(n_components=2, random_state=seed, callbacks=check,
                        callbacks_every_iters=25, verbose=False, **opts)
        y = np.asarray(tsne.fit(x))
        if should_stop and should_stop():
            raise ProjectionStopped()
    else:
        tsne = lib.TSNE(n_components=2, random_state=seed, init="pca", **opts)
        y = tsne.fit_transform(x)
    return np.asarray(y, dtype=np.float32)


def _umap(x, seed, should_stop, **opts) -> np.ndarray:
    _, lib = _import_first("umap")
    opts.setdefault("n_neighbors", min(15, len(x) - 1))
    # A random_state makes umap-learn run single-threaded, and reproducible (it warns
    # unless told so).
    opts.setdefault("n_jobs", 1)
    reducer = lib.UMAP(n_components=2, random_state=seed, **opts)
    y = reducer.fit_transform(x)
    if should_stop and should_stop():
        raise ProjectionStopped()
    return np.asarray(y, dtype=np.float32)


def project_modalities(vectors: dict[str, np.ndarray], method: str = "pca", seed: int = 0,
                       *, should_stop: Callable[[], bool] | None = None,
                       normalise: bool = True, **opts) -> dict[str, np.ndarray]:
    """Project several modalities' vectors (each (N_m, D_m)) TOGETHER, so they share one
    plane: stacked, projected once, split back. With ``normalise`` each vector is scaled to
    unit length first (cosine geometry, as the models compare them). Vectors of a narrower
    width are padded with zeros: a fused vector of another width shares no axes with the
    others, so only its own points' layout means something."""
    names = [k for k, v in vectors.items() if v is not None and len(v)]
    if not names:
        return {}
    fewest = min(len(vectors[k]) for k in names)
    if method in PACKAGES and fewest < MIN_POINTS:
        # Counted per modality: six points that are three pairs have no neighbourhoods either.
        raise WorkbenchError(f"{METHODS[method]} needs at least {MIN_POINTS} points per "
                             f"modality, got {fewest}; use PCA")
    width = max(vectors[k].shape[1] for k in names)
    parts = []
    for k in names:
        v = np.asarray(vectors[k], dtype=np.float64)
        if normalise:
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        parts.append(np.pad(v, ((0, 0), (0, width - v.shape[1]))))
    y = project(np.concatenate(parts), method, seed, should_stop=should_stop, **opts)
    out, start = {}, 0
    for k, v in zip(names, parts):
        out[k] = y[start:start + len(v)]
        start += len(v)
    return out
