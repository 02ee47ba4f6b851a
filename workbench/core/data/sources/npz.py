"""Precomputed features: an ``.npz`` with ``text`` (N, Dt) and ``image`` (N, Di) float arrays,
optional ``label`` (N,) and optional ``caption`` (N,) strings shown in previews.

Integer labels are named from ``label_names`` (or scikit-learn's ``target_names``): one
string per class, label ``i`` is ``label_names[i]``. Any other array (ids, a second
representation) is left out, with a note naming it, so a file made for another tool still
loads."""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ...config import DataConfig
from ...errors import DataError
from ..memory import Budget, memory_budget, size_text
from ..rows import Problems, SourceRows, keep_rows
from ..safepath import special_file

REQUIRED = ("text", "image")
OPTIONAL = ("label", "caption")
NAMES = ("label_names", "target_names")  # the class names of integer labels, in order


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    arrays, others = _load(path, memory_budget(cfg.max_memory_gb))
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing array {missing[0]!r}; an .npz needs 'text' (N, Dt) "
                        f"and 'image' (N, Di), optionally 'label' and 'caption'; it has: "
                        f"{', '.join(arrays) or 'nothing'}"
                        + "".join(f" (and {k!r}, not a .npy array)" for k in others[:3]))
    names_key = next((k for k in NAMES if k in arrays), None)
    unknown = [k for k in arrays if k not in REQUIRED + OPTIONAL + NAMES]
    notes = [f"{path.name}: array{'s' if len(unknown) > 1 else ''} "
             f"{', '.join(repr(k) for k in unknown)} left out (read: text, image, label, "
             f"caption, {' or '.join(NAMES)})"] if unknown else []
    if others:
        notes.append(f"{path.name}: {', '.join(repr(k) for k in others)} left out (not "
                     ".npy arrays)")
    extra_names = [k for k in NAMES if k in arrays and k != names_key]
    if extra_names:
        notes.append(f"{path.name}: {extra_names[0]!r} left out ({names_key!r} names the "
                     "labels)")
    feats = {k: _features(path, k, arrays[k]) for k in REQUIRED}
    for k in OPTIONAL:
        if k in arrays and arrays[k].ndim != 1:  # a 0-d array has no length to compare
            raise DataError(f"{path}: {k!r} has shape {arrays[k].shape}, expected (N,): one "
                            "per pair")
    n = len(feats["text"])
    lengths = {k: len(v) for k, v in arrays.items() if k in REQUIRED + OPTIONAL}
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
        labels = {"label": _labels(path, arrays["label"],
                                   arrays[names_key] if names_key else None, names_key)}
        label_column = "label"
    elif names_key:
        notes.append(f"{path.name}: {names_key!r} left out (no labels are read)")
    captions = None
    if "caption" in arrays:
        if arrays["caption"].dtype.kind not in "US":
            raise DataError(f"{path}: 'caption' must be an array of strings, got "
                            f"{arrays['caption'].dtype}")
        captions = [str(c) for c in arrays["caption"]]
    extras = {"caption": captions} if captions is not None else {}
    src = SourceRows(kind="npz", file=path, root=path.parent, rows=rows,
                     text_features=feats["text"], image_features=feats["image"],
                     labels=labels, label_column=label_column, extras=extras, notes=notes)
    # Reported rows are left out, as every other source does (in "skip" mode they must not
    # reach training; in "fail" mode the load stops anyway).
    return keep_rows(src, ~bad) if bad.any() else src


def _load(path: Path, budget: Budget) -> tuple[dict[str, np.ndarray], list[str]]:
    """The arrays by name, and the names of the members that are not .npy arrays."""
    arrays, others = _check_headers(path, budget)
    try:
        with np.load(path, allow_pickle=False) as z:
            # By member name: z["text"] reads a member named "text" (raw bytes, no array)
            # before "text.npy". Only the members whose headers were checked are read.
            return {k: z[f"{k}.npy"] for k in arrays}, others
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
    except zlib.error as exc:  # a compressed member damaged past its header
        raise DataError(f"{path}: not a readable .npz: damaged compressed data ({exc})") from None


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


def _labels(path: Path, a: np.ndarray, names: np.ndarray | None = None,
            names_key: str | None = None) -> list[str | None]:
    if a.ndim != 1:
        raise DataError(f"{path}: 'label' has shape {a.shape}, expected (N,)")
    if names is not None:
        return _named(path, a, names, names_key)
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


def _named(path: Path, a: np.ndarray, names: np.ndarray, key: str) -> list[str | None]:
    """Integer labels as their names: label ``i`` is ``names[i]``."""
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(f"{path}: {key!r} must be a 1-d array of strings (one name per "
                        f"class), got shape {names.shape} of {names.dtype}")
    if a.dtype.kind not in "iu":
        raise DataError(f"{path}: {key!r} names integer labels, and 'label' has dtype "
                        f"{a.dtype}; give integers 0 to {len(names) - 1}, or leave "
                        f"{key!r} out")
    outside = np.flatnonzero((a < 0) | (a >= len(names)))
    if len(outside):
        row = int(outside[0])
        raise DataError(f"{path}: row {row + 1}: label {int(a[row])} has no name in "
                        f"{key!r} ({len(names)} names, so labels 0 to {len(names) - 1})")
    text = [str(v) for v in names.tolist()]
    return [text[i] for i in a.tolist()]


def _check_headers(path: Path, budget: Budget) -> tuple[list[str], list[str]]:
    """Read each array's header before any array: refuse a file that is not a zip archive,
    an array whose declared shape needs more bytes than its member holds (a forged header
    asked for terabytes), object arrays, and a total above the memory ``budget``.
    Returns the names of the .npy members (checked) and of the other members."""
    special = special_file(path)
    if special:
        raise DataError(f"{path}: is {special}, not a regular file")
    try:
        if not zipfile.is_zipfile(path):
            raise DataError(f"{path}: not a readable .npz: it is not a zip archive (an .npz "
                            "is a zip of .npy arrays, as numpy.savez writes it)")
        total = 0
        arrays, others = [], []
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    others.append(info.filename)
                    continue
                name = info.filename[:-4]
                arrays.append(name)
                if info.flag_bits & 0x1:  # zipfile would ask for a password
                    raise DataError(f"{path}: array {name!r} is encrypted; save the .npz "
                                    "without a password (numpy.savez)")
                with archive.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                              np.lib.format.read_array_header_2_0)
                    shape, _, dtype = reader(fh)
                if dtype.hasobject:
                    raise DataError(f"{path}: array {name!r} is an object (pickled) array; "
                                    "save plain numeric arrays (object arrays are refused "
                                    "because loading them can run code)")
                # Exact Python ints: a forged shape overflows a float or an int64 product.
                needed = math.prod(shape) * dtype.itemsize
                if any(d < 0 for d in shape) or max((*shape, needed)) > np.iinfo(np.intp).max:
                    raise DataError(f"{path}: array {name!r} declares shape {shape} of "
                                    f"{dtype}, which no array can have: a damaged or forged "
                                    "file")
                if needed > info.file_size:
                    raise DataError(f"{path}: array {name!r} declares shape {shape} of "
                                    f"{dtype} ({size_text(needed)}) but its member holds "
                                    f"{size_text(info.file_size)}: a damaged or forged file")
                total += info.file_size
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz ({exc})") from None
    except zlib.error as exc:  # a compressed member damaged within its header
        raise DataError(f"{path}: not a readable .npz: damaged compressed data ({exc})") from None
    except NotImplementedError as exc:  # a compression method or zip version zipfile lacks
        raise DataError(f"{path}: not a readable .npz: its zip uses a feature Python's "
                        f"zipfile cannot read ({exc}); save it with numpy.savez") from None
    if not budget.allows(total):
        raise DataError(f"{path}: its arrays take {size_text(total)} once read, more than the "
                        f"{size_text(budget.bytes)} data may take ({budget.origin})")
    return arrays, others
