"""An on-disk cache of decoded images, keyed by path, file size and modification time.

One cache file per (dataset file, image size) holds the decoded pixels and, for every image,
the (size, mtime) it was decoded from. A second load stats the files, reuses every row whose
stat still matches and decodes only new or changed files, so editing one image in a folder of
20,000 costs one decode. The file is written atomically; a damaged one is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..atomic import atomic_write
from ..paths import user_cache_dir
from .images import decode_many

FORMAT = 1


@dataclass
class CachedDecode:
    pixels: np.ndarray  # (N, 3, S, S) uint8
    sizes: np.ndarray  # (N, 2) original (width, height)
    problems: dict[int, str]  # index -> reason, for files that could not be decoded
    hits: int  # images taken from the cache


class ImageCache:
    def __init__(self, root: Path | None = None, *, enabled: bool = True):
        self.root = Path(root) if root is not None else user_cache_dir() / "images"
        self.enabled = enabled and os.environ.get("WORKBENCH_NO_CACHE", "") == ""

    def file_for(self, source: Path, size: int) -> Path:
        # Keyed by the dataset file (CSV, metadata, COCO JSON), not its folder: two CSVs in
        # one folder naming different images must not overwrite each other's cache.
        key = hashlib.sha1(f"{FORMAT}|{Path(source).resolve()}|{size}".encode()).hexdigest()[:20]
        return self.root / f"{key}.npz"

    def decode(self, paths: Sequence[Path], size: int, *, source: Path,
               progress: Callable[[int, int], None] | None = None) -> CachedDecode:
        """Decode ``paths`` at ``size``, taking unchanged files from the cache."""
        paths = list(paths)  # Paths or strings; a new Path each costs ~10 us per image
        n = len(paths)
        stats = np.full((n, 2), -1, dtype=np.int64)
        for i, p in enumerate(paths):
            try:
                st = os.stat(p)
                stats[i] = (st.st_size, st.st_mtime_ns)
            except OSError:
                pass  # the decoder reports it, with the reason
        # Absolute, normalised paths as keys, not resolve()'d ones: resolving costs a few
        # syscalls per file (most of a cached load), and a symlink whose target changes
        # changes the stat, which already forces a new decode.
        keys = [os.path.abspath(p) for p in paths]
        pixels = np.zeros((n, 3, size, size), dtype=np.uint8)
        sizes = np.zeros((n, 2), dtype=np.int64)
        todo = np.ones(n, dtype=bool)
        cache_file = self.file_for(source, size)
        if self.enabled:
            cached = _read(cache_file, size)
            if cached is not None:
                c_pixels, c_sizes, c_keys, c_stats = cached
                where = {k: j for j, k in enumerate(c_keys)}
                for i, k in enumerate(keys):
                    j = where.get(k)
                    if j is not None and stats[i, 0] >= 0 and (c_stats[j] == stats[i]).all():
                        pixels[i] = c_pixels[j]
                        sizes[i] = c_sizes[j]
                        todo[i] = False
        hits = int((~todo).sum())
        missing = np.flatnonzero(todo)
        problems: dict[int, str] = {}
        if len(missing):
            sub = [paths[i] for i in missing]
            # Progress counts the cached images as done, so the bar ends at the total.
            report = (lambda done, total: progress(hits + done, n)) if progress else None
            new_pixels, new_sizes, sub_problems = decode_many(sub, size, progress=report)
            pixels[missing] = new_pixels
            sizes[missing] = new_sizes
            problems = {int(missing[j]): reason for j, reason in sub_problems.items()}
        elif progress:
            progress(n, n)
        if self.enabled and len(missing) > len(problems):
            good = np.array([i not in problems for i in range(n)], dtype=bool)
            try:
                _write(cache_file, pixels[good], sizes[good],
                       [k for k, g in zip(keys, good) if g], stats[good])
            except OSError:
                pass  # a read-only or full cache folder only costs speed next time
        return CachedDecode(pixels, sizes, problems, hits)


def _read(path: Path, size: int):
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != FORMAT:
                return None
            pixels = z["pixels"]
            if pixels.ndim != 4 or pixels.shape[1:] != (3, size, size):
                return None
            return pixels, z["sizes"], [str(k) for k in z["keys"]], z["stats"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def _write(path: Path, pixels, sizes, keys, stats) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, format=np.int64(FORMAT), pixels=pixels, sizes=sizes,
                     keys=np.array(keys, dtype=str), stats=stats)
    atomic_write(path, write)
