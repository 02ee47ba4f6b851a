"""Resolving image paths named inside a dataset file, refusing ones that leave its folder."""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path


class PathRefused(Exception):
    """An image path the dataset may not use; the message says why and how to allow it."""


def resolve_image_path(root: str | Path, value: str, *, allow_outside: bool) -> str:
    """``value`` (relative to ``root``, or absolute) as a normalised path string.

    A dataset file should only reach images in its own folder: ``../../`` or an absolute path
    in a downloaded CSV could read any file on the machine, so both are refused unless the
    user allows them (``data.allow_outside_paths``).

    A string, not a Path: a folder of 20,000 images resolves 20,000 of these on every load,
    and building Path objects (and pathlib's parsing) was most of a cached load's time.
    """
    value = value.strip()
    if not value:
        raise PathRefused("empty image path")
    if "\x00" in value:  # no file system takes it, and os.stat() raises ValueError on it
        raise PathRefused(f"image path {value!r} holds a NUL character")
    raw = value.replace("\\", "/") if os.sep == "/" else value
    base = _base(os.fspath(root))
    # The common case, a plain relative name like "images/000001.png": joining it to the
    # normalised folder is already normal and inside the folder, so skip the general path.
    if (os.sep == "/" and base not in (".", "/") and raw[0] != "/" and raw != "."
            and not raw.startswith("..") and os.path.normpath(raw) == raw):
        return f"{base}/{raw}"
    absolute = os.path.isabs(raw)
    # normpath, not resolve(): symlinks inside the folder are the user's business, but '..'
    # segments are judged by what they say.
    path = os.path.normpath(raw if absolute else os.path.join(base, raw))
    if not allow_outside:
        if absolute:
            raise PathRefused(f"absolute image path {value!r} (set data.allow_outside_paths = "
                              "true to allow paths outside the dataset folder)")
        inside, folder = os.path.normcase(path), os.path.normcase(base)
        if not (inside == folder or inside.startswith(folder.rstrip(os.sep) + os.sep)):
            raise PathRefused(f"image path {value!r} leaves the dataset folder (set "
                              "data.allow_outside_paths = true to allow it)")
    return path


@lru_cache(maxsize=64)
def _base(root: str) -> str:
    return os.path.normpath(root)


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_file(path: str | Path) -> str | None:
    """What ``path`` is when it exists but is neither a regular file nor a folder (a FIFO, a
    device, a socket: reading one can block for ever), else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: a NUL in the name (e.g. in data.images)
        return None  # missing or unreadable: reported where it is opened
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")
