"""Decoding images into one uint8 array: any mode to RGB, letterboxed to a square.

Big images decode in a thread pool: Pillow releases the GIL while it inflates and
resamples, so threads use every core without the start-up cost of processes. Many small
images decode in worker processes (``decode_processes``): their time is Pillow's Python
code, under the GIL.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .safepath import special_file

# Larger than any sensible training image, far below a decompression bomb: checked from the
# header before any pixel is decoded.
MAX_PIXELS = 64_000_000
BACKGROUND = (255, 255, 255)

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never half an image
# MAX_PIXELS is checked from the header, with a clear message; Pillow's own warning for
# large images (raised before that check) would only repeat it less clearly.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageProblem(Exception):
    """Why one image could not be used (the caller adds the file and row)."""


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray  # (3, size, size) uint8
    original_size: tuple[int, int]  # (width, height) as stored


def decode_image(path: str | Path, size: int) -> Decoded:
    """Read ``path`` and return it as RGB on white, fitted into a ``size`` square."""
    special = special_file(path)
    if special:  # Pillow would wait for ever on a FIFO
        raise ImageProblem(f"{special}, not an image file")
    return _decode(path, size)


def decode_bytes(data: bytes, size: int) -> Decoded:
    """An encoded image (a PNG, JPEG, ... file's bytes, as a shard holds it) decoded as
    :func:`decode_image` decodes a file."""
    if not data:
        raise ImageProblem("empty image (0 bytes)")
    return _decode(io.BytesIO(data), size)


@contextlib.contextmanager
def image_problems() -> Iterator[None]:
    """Pillow's and the file system's errors while opening or decoding one image, as the
    :class:`ImageProblem` a user reads (shared by decoding and by header-only checks)."""
    try:
        yield
    except ImageProblem:
        raise
    except FileNotFoundError:
        raise ImageProblem("image file not found") from None
    except IsADirectoryError:
        raise ImageProblem("expected an image file, found a folder") from None
    except PermissionError:
        raise ImageProblem("image file cannot be read (permission denied)") from None
    except UnidentifiedImageError:
        raise ImageProblem("not an image Pillow can read (empty, corrupt or another kind "
                           "of file)") from None
    except Image.DecompressionBombError:
        # Pillow's own limit, hit in Image.open before MAX_PIXELS can be checked.
        raise ImageProblem(f"image declares more than the {MAX_PIXELS:,} pixels allowed "
                           "(a decompression bomb or a huge scan)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageProblem(f"corrupt or truncated image ({exc})") from None


def check_pixels(w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise ImageProblem(f"image is {w}x{h} pixels, more than the {MAX_PIXELS:,} allowed "
                           "(a decompression bomb or a huge scan)")


def _decode(source, size: int) -> Decoded:
    with image_problems(), Image.open(source) as im:
        w, h = im.size
        check_pixels(w, h)
        # JPEG can decode straight at a reduced scale: much faster for big photos.
        im.draft("RGB", (size, size))
        im.load()
        if _has_exif(im):  # reading EXIF costs a fifth of a small PNG's decode
            im = ImageOps.exif_transpose(im)
        rgb = to_rgb(im)
    return Decoded(letterbox(rgb, size), (w, h))


def _is_encoded(item) -> bool:
    return isinstance(item, (bytes, bytearray, memoryview))


def _has_exif(im: Image.Image) -> bool:
    """Whether ``im`` may carry an EXIF orientation (JPEG, TIFF, WebP; a PNG's eXIf chunk
    or one in its text chunks)."""
    return im.format not in ("PNG", "GIF", "BMP") or "exif" in im.info or any(
        "exif" in str(k).lower() for k in im.info)


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode as RGB; transparency is composited onto white."""
    if im.mode == "RGB" and "transparency" not in im.info:
        return im  # already RGB: no copy
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = _to_8bit(np.asarray(im, dtype=np.float64), full_scale=65535.0)
    elif im.mode == "F":
        im = _to_8bit(np.nan_to_num(np.asarray(im, dtype=np.float64)), full_scale=1.0)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, BACKGROUND)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return im.convert("RGB")


def _to_8bit(arr: np.ndarray, *, full_scale: float) -> Image.Image:
    """High-depth greyscale to 8 bits, stretched over the image's own range (16-bit scans
    often use a small part of 0..65535); a flat image keeps its level on the type's scale."""
    lo, hi = float(arr.min()), float(arr.max())
    if hi > lo:
        arr = (arr - lo) * (255.0 / (hi - lo))
    else:
        arr = np.clip(arr * (255.0 / full_scale), 0, 255)
    return Image.fromarray(arr.round().astype(np.uint8), "L")


def letterbox(im: Image.Image, size: int) -> np.ndarray:
    """Fit ``im`` into a ``size`` square keeping its aspect ratio, padded with white."""
    w, h = im.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
    if (nw, nh) == (size, size):
        return pixels
    out = np.empty((3, size, size), dtype=np.uint8)
    out[:] = np.asarray(BACKGROUND, dtype=np.uint8)[:, None, None]
    top, left = (size - nh) // 2, (size - nw) // 2
    out[:, top:top + nh, left:left + nw] = pixels
    return out


def resize_array(images: np.ndarray, size: int) -> np.ndarray:
    """Resize an (N, 3, H, W) uint8 array of squares to (N, 3, size, size)."""
    n, _, h, w = images.shape
    if (h, w) == (size, size):
        return images
    if h == w and h % size == 0:
        f = h // size  # exact box filter: fast and the same as Pillow's BOX resample
        total = images.reshape(n, 3, size, f, size, f).sum(axis=(3, 5), dtype=np.uint32)
        return ((total + f * f // 2) // (f * f)).astype(np.uint8)
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for i in range(n):
        im = Image.fromarray(images[i].transpose(1, 2, 0))
        out[i] = letterbox(im, size)
    return out


def decode_into(paths: Sequence, i: int, size: int, pixels: np.ndarray, sizes: np.ndarray,
                problems: dict[int, str]) -> None:
    """Decode ``paths[i]`` (a file, or an encoded image's bytes) into row ``i`` of ``pixels``
    and ``sizes``, or say why not in ``problems[i]``."""
    item = paths[i]
    try:
        d = decode_bytes(item, size) if _is_encoded(item) else decode_image(item, size)
    except ImageProblem as exc:
        problems[i] = str(exc)
        return
    pixels[i] = d.pixels
    sizes[i] = d.original_size


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


# Below this many pixels an image's decode is mostly Pillow's Python code, which holds the
# GIL: threads then only add switching (20,000 48x40 PNGs decoded 1.5x slower on two threads
# than on one, ``workbench bench``, data rows).
THREADS_MIN_PIXELS = 128 * 128
# Worker processes cost about 0.3 s each to start (Python, numpy, Pillow): worth it from
# about this many small images.
PROCESSES_MIN_IMAGES = 1_000


def _worth_threads(paths: Sequence[Path]) -> bool:
    """Whether the first readable image is big enough for decoding threads to overlap (only
    its header is read)."""
    for path in paths[:8]:
        try:
            with Image.open(io.BytesIO(path) if _is_encoded(path) else path) as im:
                w, h = im.size
        except Exception:  # noqa: BLE001 - unreadable here is reported by the decode itself
            continue
        return w * h >= THREADS_MIN_PIXELS
    return True


def decode_many(paths: Sequence[Path] | Sequence[bytes], size: int, *,
                workers: int | None = None,
                progress: Callable[[int, int], None] | None = None):
    """Decode ``paths`` in parallel (``workers`` threads; by default, the cores as threads
    for big images and as processes for many small ones). ``paths`` may be encoded images
    (bytes, as read from shards) instead of files: the same decoding, the same problems.

    Returns ``(pixels, sizes, problems)``: pixels (N, 3, size, size) uint8 (zeros where a
    file failed), original sizes (N, 2) and ``{index: reason}`` for the files that failed.
    """
    n = len(paths)
    pixels = np.zeros((n, 3, size, size), dtype=np.uint8)
    sizes = np.zeros((n, 2), dtype=np.int64)
    problems: dict[int, str] = {}

    def one(i: int) -> None:
        decode_into(paths, i, size, pixels, sizes, problems)

    if workers is None:
        workers = default_workers()
        if not _worth_threads(paths):
            if workers > 1 and n >= PROCESSES_MIN_IMAGES:
                from .decode_processes import decode_in_processes
                return decode_in_processes(paths, size, workers, progress)
            workers = 1
    if workers == 1 or n < 64:
        for i in range(n):
            one(i)
            if progress and (i % 256 == 0 or i == n - 1):
                progress(i + 1, n)
        return pixels, sizes, problems
    chunk = 128
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        done = 0
        for start in range(0, n, chunk * workers):
            idx = range(start, min(n, start + chunk * workers))
            list(pool.map(one, idx, chunksize=chunk))
            done = idx.stop
            if progress:
                progress(done, n)
    return pixels, sizes, problems
