"""From a data config to checked, decoded pairs: read the source, check every row, decode.

``load_pairs`` is the slow part (image decoding, cached on disk); the result, a
:class:`PairTable`, is independent of the vocabulary and the split, so changing those only
re-runs :func:`workbench.core.data.dataset.build_dataset`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import DataConfig
from ..errors import DataError, RowProblem
from ..gc_pause import collector_paused
from .cache import ImageCache
from .images import resize_array
from .memory import Budget, DataEstimate, image_refusal, memory_budget
from .rows import Problems, SourceRows, check_left, keep_rows, natural_key, problem_order
from .sources import read_source
from .text import tokenize

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class PairTable:
    """Checked pairs with decoded images, before tokenising and splitting.

    Images are stored once per distinct file (``image_index`` maps pair -> image row), so
    several captions of one COCO image share its pixels and stay in one split.
    """

    source: str
    kind: str
    file: str
    rows: list[int]
    captions: list[str] | None
    tokens: list[list[str]] | None
    images: np.ndarray | None  # (M, 3, S, S) uint8
    image_index: np.ndarray  # (N,) int64
    image_paths: list[str] | None  # (M,)
    original_sizes: np.ndarray | None  # (M, 2) width, height
    text_features: np.ndarray | None  # (N, Dt) float32
    image_features: np.ndarray | None  # (N, Di) float32
    labels: np.ndarray | None  # (N,) int64
    label_names: list[str]
    label_column: str | None
    extras: dict[str, list] = field(default_factory=dict)
    skipped: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader ignored or assumed
    cache_hits: int = 0
    seconds: float = 0.0
    #: (M, P, D) float16 a frozen pretrained image model's patch states of each image (then
    #: ``image_features`` holds its vectors and ``images`` are for display only)
    image_states: np.ndarray | None = None
    #: a quick look (``quick_look``): the pairs the whole source holds, of which this table
    #: is the first few; None: the table is the whole source
    sampled_of: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    def label_counts(self) -> dict[str, int]:
        if self.labels is None:
            return {}
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        return {name: int(c) for name, c in zip(self.label_names, counts)}

    def caption(self, i: int) -> str:
        if self.captions is not None:
            return self.captions[i]
        extra = self.extras.get("caption")
        return extra[i] if extra else f"pair {self.rows[i]}"


def load_pairs(cfg: DataConfig, image_size: int, *, progress: Progress | None = None,
               cache: ImageCache | None = None) -> PairTable:
    """Read, check and decode the pairs ``cfg`` names.

    With ``on_error = "fail"`` any bad row raises a :class:`DataError` listing the first ones;
    with ``"skip"`` bad rows are left out and each is reported in ``PairTable.skipped``.
    """
    with collector_paused():
        return _load_pairs(cfg, image_size, progress, cache)


def _load_pairs(cfg: DataConfig, image_size: int, progress: Progress | None,
                cache: ImageCache | None) -> PairTable:
    t0 = time.perf_counter()
    problems = Problems(cfg.on_error)
    # Every stage leaves its bad rows out and goes on, in "fail" mode too, so that one load
    # lists every bad row of every kind (fields, captions, images) before it stops.
    src = read_source(cfg, problems)
    return table_from_rows(cfg, src, problems, image_size, progress, cache, t0)


def table_from_rows(cfg: DataConfig, src: SourceRows, problems: Problems, image_size: int,
                    progress: Progress | None, cache: ImageCache | None,
                    t0: float) -> PairTable:
    """The rows a source read, checked and decoded into a table (``t0``: when reading
    began, for the table's ``seconds``)."""
    src, tokens = check_rows(src, problems)
    images, image_index, image_paths, sizes, hits = None, None, None, None, 0
    if src.image_paths is not None or src.image_bytes is not None:
        src, kept, images, image_index, image_paths, sizes, hits = _decode(
            src, image_size, problems, progress, cache or ImageCache(),
            memory_budget(cfg.max_memory_gb))
        if kept is not None and tokens is not None:
            tokens = [tokens[i] for i in np.flatnonzero(kept)]
    elif src.images is not None:
        _check_memory(src, DataEstimate(len(src.images), image_size),
                      memory_budget(cfg.max_memory_gb))
        images = resize_array(src.images, image_size)
        sizes = np.tile(src.images.shape[2:][::-1], (len(src), 1)).astype(np.int64)
    check_left(src, problems, "the dataset is empty")
    if image_index is None:
        image_index = np.arange(len(src), dtype=np.int64)
    labels, names = label_ids(src)
    return PairTable(
        source=cfg.source, kind=src.kind, file=str(src.file), rows=src.rows,
        captions=src.captions, tokens=tokens, images=images, image_index=image_index,
        image_paths=image_paths, original_sizes=sizes, text_features=src.text_features,
        image_features=src.image_features, labels=labels, label_names=names,
        label_column=src.label_column,
        # a sharded source's pairs say where they are (a column in the Data panel's table)
        extras=src.extras if src.places is None else {**src.extras, "sample": src.places},
        skipped=sorted(problems.items, key=problem_order),
        notes=list(src.notes), cache_hits=hits, seconds=time.perf_counter() - t0)


def check_rows(src: SourceRows, problems: Problems) -> tuple[SourceRows, list | None]:
    """Captions, labels and duplicates, row by row. Returns the rows kept and their captions'
    tokens (tokenised once here: tokenising is a good part of a cached load)."""
    keep = np.ones(len(src), dtype=bool)
    tokens: list[list[str]] | None = [] if src.captions is not None else None
    labels = src.labels.get(src.label_column) if src.label_column else None
    images = src.image_paths if src.image_paths is not None else src.image_bytes
    seen: dict[tuple, int] = {}
    for i in range(len(src.rows)):
        reason = None
        if src.captions is not None:
            caption = src.captions[i]
            words = tokenize(caption)
            tokens.append(words)
            if not caption.strip():
                reason = "empty caption"
            elif not words:
                reason = f"caption {caption[:40]!r} has no words"
        if reason is None and labels is not None and labels[i] is None:
            reason = f"no label in column {src.label_column!r}"
        if reason is None and images is not None:
            # encoded images compare by content: the same picture stored twice in shards
            key = (images[i], src.captions[i] if src.captions else None)
            if key in seen:
                reason = (f"duplicate of {src.where(seen[key])} (same image and caption)"
                          if src.places is not None else
                          f"duplicate of row {src.rows[seen[key]]} (same image and caption)")
            else:
                seen[key] = i
        if reason:
            src.problem(problems, i, reason)
            keep[i] = False
    if keep.all():
        return src, tokens
    if tokens is not None:
        tokens = [tokens[i] for i in np.flatnonzero(keep)]
    return keep_rows(src, keep), tokens


def _check_memory(src: SourceRows, estimate: DataEstimate, budget: Budget) -> None:
    problem = image_refusal(str(src.file), estimate, budget)
    if problem:
        raise DataError(problem)


def _decode(src: SourceRows, size: int, problems: Problems, progress: Progress | None,
            cache: ImageCache, budget: Budget):
    """Decode each distinct image once (a file, or encoded bytes read from shards). Returns
    the source with the rows whose image failed left out, the mask of rows kept (None when
    all were), the pixels, the pair -> image index, the distinct paths (None for encoded
    images), their original sizes and the cache hits."""
    encoded = src.image_paths is None
    unique: dict = {}  # path, or bytes (equal bytes: one image, shared as a file would be)
    index = np.array([unique.setdefault(p, len(unique)) for p in
                      (src.image_bytes if encoded else src.image_paths)], dtype=np.int64)
    paths = list(unique)
    # Before the first image is decoded: the pixels are one array for the whole run.
    _check_memory(src, DataEstimate(len(paths), size), budget)
    report = (lambda done, total: progress("decoding images", done, total)) if progress else None
    if encoded:
        _, first = np.unique(index, return_index=True)  # each image's first pair
        result = cache.decode_encoded(paths, [src.places[i] for i in first],
                                      [src.shards[i] for i in first], size, source=src.file,
                                      progress=report)
    else:
        result = cache.decode(paths, size, source=src.file, progress=report)
    if not encoded and len(paths) >= 5 and len(result.problems) == len(paths) and all(
            r == "image file not found" for r in result.problems.values()):
        # Not a few bad rows (a handful could be): the images are somewhere else.
        raise DataError(f"{src.file}: none of its {len(paths)} images were found under "
                        f"{src.root} (e.g. {show_path(paths[0], src.root)}); if they are in another "
                        "folder, give it with --images DIR (data.images)")
    kept = None
    if result.problems:
        for i, img in enumerate(index):
            reason = result.problems.get(int(img))
            if reason:
                src.problem(problems, i, reason if encoded else
                            f"{show_path(paths[img], src.root)}: {reason}")
        keep_img = np.array([i not in result.problems for i in range(len(paths))])
        kept = keep_img[index]
        src = keep_rows(src, kept)
        remap = np.cumsum(keep_img) - 1
        index = remap[index[kept]]
        pixels, sizes = result.pixels[keep_img], result.sizes[keep_img]
        paths = [p for p, k in zip(paths, keep_img) if k]
    else:
        pixels, sizes = result.pixels, result.sizes
    return src, kept, pixels, index, None if encoded else paths, sizes, result.hits


def show_path(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def label_ids(src: SourceRows) -> tuple[np.ndarray | None, list[str]]:
    if not src.label_column:
        return None, []
    values = src.labels[src.label_column]
    names = sorted(set(values), key=natural_key)
    ids = {n: i for i, n in enumerate(names)}
    return np.array([ids[v] for v in values], dtype=np.int64), names
