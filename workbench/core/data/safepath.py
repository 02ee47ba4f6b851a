"""Resolving image paths named inside a dataset file, refusing ones that leave its folder."""

from __future__ import annotations

import os
from pathlib import Path


class PathRefused(Exception):
    """An image path the dataset may not use; the message says why and how to allow it."""


def resolve_image_path(root: Path, value: str, *, allow_outside: bool) -> Path:
    """``value`` (relative to ``root``, or absolute) as an absolute path.

    A dataset file should only reach images in its own folder: ``../../`` or an absolute path
    in a downloaded CSV could read any file on the machine, so both are refused unless the
    user allows them (``data.allow_outside_paths``).
    """
    value = value.strip()
    if not value:
        raise PathRefused("empty image path")
    raw = Path(value.replace("\\", "/")) if os.sep == "/" else Path(value)
    path = raw if raw.is_absolute() else root / raw
    # normpath, not resolve(): symlinks inside the folder are the user's business, but '..'
    # segments are judged by what they say.
    path = Path(os.path.normpath(path))
    if not allow_outside:
        if raw.is_absolute():
            raise PathRefused(f"absolute image path {value!r} (set data.allow_outside_paths = "
                              "true to allow paths outside the dataset folder)")
        try:
            path.relative_to(Path(os.path.normpath(root)))
        except ValueError:
            raise PathRefused(f"image path {value!r} leaves the dataset folder (set "
                              "data.allow_outside_paths = true to allow it)") from None
    return path
