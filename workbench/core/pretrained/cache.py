"""Frozen caption features, computed once and kept on disk.

A frozen text model gives the same states for the same captions every time, so they are
computed once (:meth:`.text.TextModel.encode_states`) and stored under the user cache folder,
keyed by the model's weights (:meth:`.locate.Located.fingerprint`), the captions themselves and
how many word pieces are kept; a second load of the same data reads them back memory-mapped
and never builds the model. An entry is written to a temporary folder and renamed when whole,
so a crash leaves none half-written; one that does not read back (cut short, from another
version) is computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..paths import user_cache_dir
from .locate import locate

Progress = Callable[[str, int, int], None]
VERSION = 1  # bump when what an entry holds changes


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
                   batch_size: int = 64, progress: Progress | None = None) -> CaptionStates:
    """The features of ``captions`` by ``model``, from the cache or computed (and cached)."""
    located = locate(model)
    key = _key(located.fingerprint(), captions, keep)
    folder = cache_dir() / key
    cached = _read(folder, located.name, len(captions), keep)
    if cached is not None:
        return cached
    from .text import TextModel
    encoded = TextModel(model, device).encode_states(captions, keep=keep,
                                                     batch_size=batch_size, progress=progress)
    _write(folder, encoded, located.name)
    # read back mapped, as the next load will be (the states need not stay in memory)
    written = _read(folder, located.name, len(captions), keep)
    if written is not None:
        written.from_cache = False
        return written
    return CaptionStates(located.name, encoded["pooled"], encoded["states"],
                         encoded["lengths"], encoded["pieces"])


def _key(fingerprint: str, captions: Sequence[str], keep: int) -> str:
    digest = hashlib.sha256(f"v{VERSION}|{fingerprint}|{keep}|{len(captions)}|".encode())
    for caption in captions:
        digest.update(str(caption).encode("utf-8", "surrogatepass") + b"\x1f")
    return digest.hexdigest()[:32]


def _read(folder: Path, model: str, n: int, keep: int) -> CaptionStates | None:
    """The entry in ``folder``, or None when it is missing or does not read back whole."""
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        if meta.get("version") != VERSION or meta.get("n") != n or meta.get("keep") != keep:
            return None
        pooled = np.load(folder / "pooled.npy", mmap_mode="r", allow_pickle=False)
        states = np.load(folder / "states.npy", mmap_mode="r", allow_pickle=False)
        lengths = np.load(folder / "lengths.npy", allow_pickle=False)
        pieces = json.loads((folder / "pieces.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if pooled.shape[0] != n or states.shape[:2] != (n, keep) or len(lengths) != n \
            or len(pieces) != n:
        return None
    # the sentence vectors are copied (small, and the dataset's tensors must be writable);
    # the word-piece states stay mapped, read a batch at a time
    return CaptionStates(model, np.array(pooled, dtype=np.float32), states, lengths,
                         pieces, from_cache=True)


def _write(folder: Path, encoded: dict, model: str) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name in ("pooled", "states", "lengths"):
            np.save(tmp / f"{name}.npy", encoded[name])
        (tmp / "pieces.json").write_text(json.dumps(encoded["pieces"]), "utf-8")
        (tmp / "meta.json").write_text(json.dumps({
            "version": VERSION, "model": model, "n": len(encoded["pooled"]),
            "keep": int(encoded["states"].shape[1]), "dim": int(encoded["pooled"].shape[1])}),
            "utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # an entry that did not read back
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk: the features still serve
