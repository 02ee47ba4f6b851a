"""Frozen caption and image features, computed once and kept on disk.

A frozen model gives the same states for the same input every time, so they are computed once
(:meth:`.text.TextModel.encode_states`, :meth:`.image.ImageModel.encode_states`) and stored
under the user cache folder, keyed by the model's weights
(:meth:`.locate.Located.fingerprint`), the inputs themselves (captions; images, with the image
processor's settings) and how much is kept (word pieces; the patch grid); a second load of
the same data reads them back memory-mapped and never builds the model. An entry is written to a temporary folder and renamed when whole,
so a crash leaves none half-written; one that does not read back (cut short, from another
version) is computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..paths import user_cache_dir
from .locate import locate

Progress = Callable[[str, int, int], None]
VERSION = 2  # bump when what an entry holds changes


@dataclass
class CaptionStates:
    """A model's features of a list of captions (see :meth:`TextModel.encode_states`)."""

    model: str
    pooled: np.ndarray  # (N, D) float32
    states: np.ndarray  # (N, L, D) float16, memory-mapped when read from the cache
    lengths: np.ndarray  # (N,) word pieces kept per caption
    pieces: list[list[str]]
    from_cache: bool = False


def cache_dir() -> Path:
    return user_cache_dir() / "features"


def caption_states(model: str, captions: Sequence[str], *, keep: int, device: str = "cpu",
                   batch_size: int = 64, progress: Progress | None = None,
                   allow_download: bool = False) -> CaptionStates:
    """The features of ``captions`` by ``model``, from the cache or computed (and cached)."""
    located = locate(model, allow_download=allow_download)
    digest = _digest("text", located.fingerprint(), keep, len(captions))
    for caption in captions:
        digest.update(str(caption).encode("utf-8", "surrogatepass") + b"\x1f")
    folder = cache_dir() / digest.hexdigest()[:32]
    expect = {"n": len(captions), "keep": keep}

    def read() -> CaptionStates | None:
        entry = _read(folder, expect, mapped=("states",), shapes={
            "pooled": (len(captions),), "states": (len(captions), keep),
            "lengths": (len(captions),)})
        if entry is None or len(entry.json.get("pieces", ())) != len(captions):
            return None
        return CaptionStates(located.name, entry.arrays["pooled"], entry.arrays["states"],
                             entry.arrays["lengths"], entry.json["pieces"], from_cache=True)

    cached = read()
    if cached is not None:
        return cached
    from .text import TextModel
    encoder = TextModel(model, device, allow_download=allow_download)
    # The word-piece states are written straight to a file beside the entry (1.8 GB for
    # 100,000 captions x 24 pieces would otherwise all sit in private memory); where the
    # disk has no room for them they are kept in memory.
    spill = _spill(folder, (len(captions), keep, encoder.dim))
    try:
        encoded = encoder.encode_states(
            captions, keep=keep, batch_size=batch_size, progress=progress,
            out=None if spill is None else np.load(spill, mmap_mode="r+", allow_pickle=False))
        arrays = {k: encoded[k] for k in ("pooled", "lengths")}
        if spill is None:
            arrays["states"] = encoded["states"]
        else:
            encoded["states"].flush()
            encoded["states"] = None  # unmapped: Windows renames no mapped file
        _write(folder, arrays, {**expect, "model": located.name},
               {"pieces": encoded["pieces"]}, files={} if spill is None else {"states": spill})
        # read back mapped, as the next load will be (the states need not stay in memory)
        written = read()
        if written is None and spill is not None:  # not cached (a full disk): put back
            encoded["states"] = np.load(spill, mmap_mode="r", allow_pickle=False)
    finally:  # moved into the entry, or not needed, or cancelled: nothing half-made is kept
        if spill is not None:
            try:
                spill.unlink(missing_ok=True)  # a mapping stays readable where allowed
            except OSError:
                pass
    if written is not None:
        written.from_cache = False
        return written
    return CaptionStates(located.name, encoded["pooled"], encoded["states"],
                         encoded["lengths"], encoded["pieces"])


def _spill(folder: Path, shape: tuple[int, ...]) -> Path | None:
    """A new zeroed float16 ``.npy`` file of ``shape`` beside the entry ``folder``, its disk
    space reserved up front (a full disk is then an error here, not a crash while the mapped
    file is written); None where it cannot be made."""
    path = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{folder.name}.", suffix=".states.npy",
                                    dir=folder.parent)
        os.close(fd)
        path = Path(name)
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
        del array  # the header and the file's size written
        if hasattr(os, "posix_fallocate"):
            with open(path, "r+b") as fh:
                os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)
        return path
    except (OSError, ValueError):
        if path is not None:
            path.unlink(missing_ok=True)
        return None


@dataclass
class ImageStates:
    """A model's features of a list of images (see :meth:`.image.ImageModel.encode_states`):
    per image its vector and its ``grid`` x ``grid`` patch states."""

    model: str
    pooled: np.ndarray  # (M, D) float32
    states: np.ndarray  # (M, grid * grid, Ds) float16, memory-mapped when read from the cache
    grid: int
    from_cache: bool = False


def image_states(model: str, images: np.ndarray, *, load: Callable[[int], np.ndarray],
                 about: str = "", grid: int = 8, device: str = "cpu", batch_size: int = 32,
                 progress: Progress | None = None,
                 allow_download: bool = False) -> ImageStates:
    """The features of ``images`` (M, 3, S, S) uint8 by ``model``, from the cache or computed.

    ``images`` identify the entry (they are hashed with the weights, the processor's settings
    and ``about``: where the data came from); the model reads the images ``load(size)`` gives,
    the same ones at its processor's own input size, called only when the cache misses, so a
    second load decodes nothing large and builds no model."""
    from .transformers_io import processor_settings
    located = locate(model, allow_download=allow_download)
    digest = _digest("image", located.fingerprint(), processor_settings(located), grid,
                     len(images), about)
    digest.update(np.ascontiguousarray(images).data)
    folder = cache_dir() / digest.hexdigest()[:32]
    expect = {"n": len(images), "grid": grid}

    def read() -> ImageStates | None:
        entry = _read(folder, expect, mapped=("states",), shapes={
            "pooled": (len(images),), "states": (len(images),)})
        side = entry.json.get("side") if entry is not None else None
        if entry is None or not isinstance(side, int) or \
                entry.arrays["states"].shape[1] != side * side:
            return None
        return ImageStates(located.name, entry.arrays["pooled"], entry.arrays["states"], side,
                           from_cache=True)

    cached = read()
    if cached is not None:
        return cached
    from .image import ImageModel
    encoder = ImageModel(model, device, allow_download=allow_download)
    encoded = encoder.encode_states(load(encoder.input_size), grid=grid,
                                    batch_size=batch_size, progress=progress)
    _write(folder, {k: encoded[k] for k in ("pooled", "states")},
           {**expect, "model": located.name}, {"side": encoded["grid"]})
    written = read()
    if written is not None:
        written.from_cache = False
        return written
    return ImageStates(located.name, encoded["pooled"], encoded["states"], encoded["grid"])


def _digest(*parts):
    return hashlib.sha256("|".join(str(p) for p in (f"v{VERSION}", *parts, "")).encode())


@dataclass
class _Entry:
    arrays: dict[str, np.ndarray]
    json: dict


def _read(folder: Path, expect: dict, *, mapped: tuple[str, ...],
          shapes: dict[str, tuple]) -> _Entry | None:
    """The entry in ``folder``, or None when it is missing, was made for other settings
    (``expect``: values its meta must hold) or does not read back whole (``shapes``: the
    leading dimensions each array must have)."""
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        if meta.get("version") != VERSION or any(meta.get(k) != v for k, v in expect.items()):
            return None
        arrays = {}
        for name, lead in shapes.items():
            array = np.load(folder / f"{name}.npy", mmap_mode="r" if name in mapped else None,
                            allow_pickle=False)
            if array.shape[:len(lead)] != lead:
                return None
            # the unmapped ones are copied (small; a dataset's tensors must be writable);
            # the mapped states are read a batch at a time
            arrays[name] = array if name in mapped else np.array(array)
        extra = json.loads((folder / "extra.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return _Entry(arrays, extra if isinstance(extra, dict) else {})


def _write(folder: Path, arrays: dict[str, np.ndarray], meta: dict, extra: dict, *,
           files: dict[str, Path] | None = None) -> None:
    """Write an entry whole or not at all (a temporary folder renamed). ``files``: arrays
    already written as ``.npy`` files, moved in (and put back where the entry fails)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    moved: dict[Path, Path] = {}
    try:
        # its own folder for each writer: the Data panel and a training start may write the
        # same entry at once, in one process
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp",
                                    dir=folder.parent))
        for name, path in (files or {}).items():
            os.replace(path, tmp / f"{name}.npy")
            moved[tmp / f"{name}.npy"] = path
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", array)
        (tmp / "extra.json").write_text(json.dumps(extra), "utf-8")
        (tmp / "meta.json").write_text(json.dumps({"version": VERSION, **meta}), "utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # an entry that did not read back
        os.replace(tmp, folder)
    except OSError:  # a full disk, or another writer's entry in place: the features serve
        for inside, outside in moved.items():
            try:
                os.replace(inside, outside)
            except OSError:
                pass
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
