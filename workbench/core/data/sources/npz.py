"""Precomputed features: an ``.npz`` with ``text`` (N, Dt) and ``image`` (N, Di) float arrays,
optional ``label`` (N,) and optional ``caption`` (N,) strings shown in previews."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ...config import DataConfig
from ...errors import DataError
from ..rows import Problems, SourceRows, keep_rows

REQUIRED = ("text", "image")
OPTIONAL = ("label", "caption")


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    arrays = _load(path)
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing array {missing[0]!r}; an .npz needs 'text' (N, Dt) "
                        f"and 'image' (N, Di), optionally 'label' and 'caption'; it has: "
                        f"{', '.join(arrays) or 'nothing'}")
    unknown = [k for k in arrays if k not in REQUIRED + OPTIONAL]
    if unknown:
        raise DataError(f"{path}: unknown array {unknown[0]!r} (expected text, image, label, "
                        "caption)")
    feats = {k: _features(path, k, arrays[k]) for k in REQUIRED}
    n = len(feats["text"])
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise DataError(f"{path}: arrays have different lengths ({shown}); every array needs "
                        "one row per pair")
    rows = list(range(1, n + 1))
    bad = ~(np.isfinite(feats["text"]).all(axis=1) & np.isfinite(feats["image"]).all(axis=1))
    for i in np.flatnonzero(bad):
        which = [k for k in REQUIRED if not np.isfinite(feats[k][i]).all()]
        if all(np.isfinite(arrays[k][i]).all() for k in which):
            # Finite in the file, infinite once cast: say so, or "inf" would puzzle the user.
            problems.add(path, int(i) + 1, f"{' and '.join(which)} features too large for "
                                           "32-bit floats (beyond ±3.4e38)")
        else:
            problems.add(path, int(i) + 1, f"NaN or inf in {' and '.join(which)} features")
    labels: dict[str, list[str | None]] = {}
    label_column = None
    if cfg.label_column.lower() not in ("", "none", "label"):
        raise DataError(f"{path}: no label column {cfg.label_column!r} (data.label_column); an "
                        ".npz has one, 'label' (or 'none' for no labels)")
    if "label" in arrays and cfg.label_column.lower() != "none":
        labels = {"label": _labels(path, arrays["label"])}
        label_column = "label"
    captions = None
    if "caption" in arrays:
        if arrays["caption"].dtype.kind not in "US":
            raise DataError(f"{path}: 'caption' must be an array of strings, got "
                            f"{arrays['caption'].dtype}")
        captions = [str(c) for c in arrays["caption"]]
    extras = {"caption": captions} if captions is not None else {}
    src = SourceRows(kind="npz", file=path, root=path.parent, rows=rows,
                     text_features=feats["text"], image_features=feats["image"],
                     labels=labels, label_column=label_column, extras=extras)
    # Reported rows are left out, as every other source does (in "skip" mode they must not
    # reach training; in "fail" mode the load stops anyway).
    return keep_rows(src, ~bad) if bad.any() else src


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(f"{path}: holds an object (pickled) array; save plain numeric "
                            "arrays (object arrays are refused because loading them can run "
                            "code)") from None
        raise DataError(f"{path}: not a readable .npz ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz ({exc})") from None


def _features(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    if a.ndim != 2:
        raise DataError(f"{path}: {key!r} has shape {a.shape}, expected (N, D): one row of "
                        "features per pair")
    if a.shape[1] == 0:
        raise DataError(f"{path}: {key!r} has no feature columns (shape {a.shape})")
    if a.dtype.kind not in "fiub":
        raise DataError(f"{path}: {key!r} has dtype {a.dtype}, expected numbers (float)")
    with np.errstate(over="ignore"):  # values beyond float32 become inf: reported per row
        return np.ascontiguousarray(a, dtype=np.float32)


def _labels(path: Path, a: np.ndarray) -> list[str | None]:
    if a.ndim != 1:
        raise DataError(f"{path}: 'label' has shape {a.shape}, expected (N,)")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise DataError(f"{path}: 'label' holds NaN or inf")
        if (a != np.round(a)).any():
            raise DataError(f"{path}: 'label' holds fractions; labels are classes (integers "
                            "or strings)")
        a = a.astype(np.int64)
    if a.dtype.kind not in "iuUSb":
        raise DataError(f"{path}: 'label' has dtype {a.dtype}, expected integers or strings")
    return [str(v) for v in a.tolist()]
