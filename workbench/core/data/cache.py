"""An on-disk cache of decoded images, keyed by path, file size and modification time.

One cache entry per (dataset file, image size) is two files: ``<key>.npz``, the index (for
every image its path, the (size, mtime) it was decoded from and its original size, plus the
name of the pixel file), and ``<key>.<token>.npy``, the decoded pixels as one plain array. A
second load stats the files, reuses every row whose stat still matches and decodes only new or
changed files, so editing one image in a folder of 20,000 costs one decode.

The pixel file is memory-mapped, not read: when every image comes from the cache in the order
it was stored (the common second load), the mapping itself is returned, so a 100,000-image
folder costs no private memory for its pixels and no copy; pages are read as batches touch
them and the kernel can drop them again. Each write makes a pixel file with a new name and
then atomically replaces the index, so a reader (or a process still holding a mapping of the
old pixels) never sees a half-written or overwritten file; a damaged entry is ignored and
rebuilt.

Images read from shards (Parquet, WebDataset) are cached the same way, each keyed by its
shard file and its place there, and checked against the shard's size and modification time:
rewriting a shard decodes its images again.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..atomic import atomic_write
from ..paths import user_cache_dir
from .images import decode_many

FORMAT = 2  # 2: index .npz + memory-mapped .npy pixels (1 kept the pixels in the .npz)


@dataclass
class CachedDecode:
    # (N, 3, S, S) uint8. May be a copy-on-write memory map of the cache file: reading and
    # writing work as on any array, and a write stays private to this process.
    pixels: np.ndarray
    sizes: np.ndarray  # (N, 2) original (width, height)
    problems: dict[int, str]  # index -> reason, for files that could not be decoded
    hits: int  # images taken from the cache


class ImageCache:
    def __init__(self, root: Path | None = None, *, enabled: bool = True):
        self.root = Path(root) if root is not None else user_cache_dir() / "images"
        self.enabled = enabled and os.environ.get("WORKBENCH_NO_CACHE", "") == ""

    def file_for(self, source: Path, size: int) -> Path:
        """The index file of ``source``'s entry (its pixel file sits beside it)."""
        # Keyed by the dataset file (CSV, metadata, COCO JSON), not its folder: two CSVs in
        # one folder naming different images must not overwrite each other's cache.
        key = hashlib.sha1(f"{FORMAT}|{Path(source).resolve()}|{size}".encode()).hexdigest()[:20]
        return self.root / f"{key}.npz"

    def decode(self, paths: Sequence[Path], size: int, *, source: Path,
               progress: Callable[[int, int], None] | None = None) -> CachedDecode:
        """Decode ``paths`` at ``size``, taking unchanged files from the cache."""
        paths = [os.fspath(p) for p in paths]  # strings: a Path each costs ~10 us per image
        n = len(paths)
        # One stat per file is the price of noticing a changed image: on Linux a directory
        # listing (os.scandir) carries only names and types, so DirEntry.stat() would make
        # the same system call. A list of tuples, then one array: item assignment into a
        # numpy array per file costs more than the stat itself.
        stats = np.array([_stat(p) for p in paths], dtype=np.int64).reshape(n, 2)
        return self._decode(paths, _keys(paths), stats, size, source, progress)

    def decode_encoded(self, images: Sequence[bytes], places: Sequence[str],
                       shards: Sequence[str], size: int, *, source: Path,
                       progress: Callable[[int, int], None] | None = None) -> CachedDecode:
        """Decode encoded images read from shards, each known to the cache by its shard
        file and its place in it (key or row): an image is taken from the cache while its
        shard's size and modification time are unchanged."""
        shard_stat = {s: _stat(s) for s in dict.fromkeys(shards)}
        absolute = {s: os.path.abspath(s) for s in shard_stat}
        stats = np.array([shard_stat[s] for s in shards], dtype=np.int64).reshape(-1, 2)
        keys = [f"{absolute[s]}|{p}" for s, p in zip(shards, places)]
        return self._decode(list(images), keys, stats, size, source, progress)

    def _decode(self, paths: list, keys: list[str], stats: np.ndarray, size: int,
                source: Path, progress: Callable[[int, int], None] | None) -> CachedDecode:
        n = len(paths)
        cache_file = self.file_for(source, size)
        cached = _read(cache_file, size) if self.enabled else None
        pixels = sizes = None
        match = np.zeros(n, dtype=bool)
        if cached is not None:
            c_pixels, c_sizes, c_keys, c_stats = cached
            if c_keys == keys:
                # The same files in the same order (a second load of an unchanged dataset):
                # no lookup table, row j of the cache is row j here.
                where = np.arange(n)
            else:
                index = {k: j for j, k in enumerate(c_keys)}
                where = np.array([index.get(k, -1) for k in keys], dtype=np.int64)
            found = where >= 0
            # A missing file has stat (-1, -1), which no cached row has: it is never a hit.
            match[found] = (c_stats[where[found]] == stats[found]).all(axis=1)
            if match.all() and len(c_keys) == n and (where == np.arange(n)).all():
                # Everything cached, in order: hand out the mapping itself, no copy.
                pixels, sizes = c_pixels, c_sizes
        if pixels is None:
            pixels = np.zeros((n, 3, size, size), dtype=np.uint8)
            sizes = np.zeros((n, 2), dtype=np.int64)
            hit = np.flatnonzero(match)
            if len(hit):
                # Sorted source rows read the mapped file front to back.
                pixels[hit] = c_pixels[where[hit]]
                sizes[hit] = c_sizes[where[hit]]
        todo = ~match
        hits = int(n - todo.sum())
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
            good = np.ones(n, dtype=bool)
            good[list(problems)] = False
            try:
                _write(cache_file, pixels[good] if problems else pixels, sizes[good],
                       [k for k, g in zip(keys, good) if g], stats[good])
            except OSError:
                pass  # a read-only or full cache folder only costs speed next time
        return CachedDecode(pixels, sizes, problems, hits)


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return (-1, -1)  # the decoder reports why, with the reason
    return (st.st_size, st.st_mtime_ns)


def _keys(paths: list[str]) -> list[str]:
    """Absolute paths as cache keys. Not resolve()'d: resolving costs a few syscalls per file
    (most of a cached load), and a symlink whose target changes changes the stat, which
    already forces a new decode. Absolute paths (what the sources give) are used as they are;
    a non-normalised one only costs a cache miss, never a wrong hit, since a path string
    names one file either way."""
    cwd = None
    out = []
    for p in paths:
        if not os.path.isabs(p):
            cwd = cwd or os.getcwd()
            p = os.path.normpath(os.path.join(cwd, p))
        out.append(p)
    return out


def _pixel_files(index: Path) -> list[Path]:
    return list(index.parent.glob(f"{index.stem}.*.npy"))


def _read(path: Path, size: int):
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != FORMAT:
                return None
            name = str(z["pixels"])
            sizes, keys, stats = z["sizes"], z["keys"].tolist(), z["stats"]
        if os.sep in name or (os.altsep and os.altsep in name) or not name.endswith(".npy"):
            return None  # the index names a file beside it, nothing else
        # "c" (copy-on-write), not "r": the array goes on into torch tensors and user code
        # that may write into it; a write must never reach the cache file, and torch cannot
        # honour numpy's read-only flag (a write into a read-only mapping would crash).
        pixels = np.load(path.parent / name, mmap_mode="c", allow_pickle=False)
        n = len(keys)
        if (pixels.dtype != np.uint8 or pixels.shape != (n, 3, size, size)
                or sizes.shape != (n, 2) or stats.shape != (n, 2)):
            return None
        # A plain ndarray over the mapping (it keeps the mapping alive): slices and gathers
        # of it are ordinary arrays, not np.memmap objects.
        return pixels.view(np.ndarray), sizes, keys, stats
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile, EOFError):
        return None


def _write(path: Path, pixels, sizes, keys, stats) -> None:
    # A new pixel file each time, never overwritten: this process (or another) may still have
    # the previous one mapped, and the index must only ever name a complete file.
    name = f"{path.stem}.{secrets.token_hex(6)}.npy"
    old = _pixel_files(path)

    def write_pixels(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: given a name, np.save appends ".npy"
            np.save(fh, np.ascontiguousarray(pixels), allow_pickle=False)
    atomic_write(path.parent / name, write_pixels)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, format=np.int64(FORMAT), pixels=np.array(name), sizes=sizes,
                     keys=np.array(keys, dtype=str), stats=stats)
    try:
        atomic_write(path, write)
    except BaseException:
        (path.parent / name).unlink(missing_ok=True)
        raise
    for stale in old:
        try:
            # Unlinking a mapped file is safe on POSIX (the mapping keeps its pages); where
            # it is refused (Windows, a file still mapped) it goes on the next write.
            stale.unlink()
        except OSError:
            pass
