"""Atomic file writes: the old file stays whole until the new one is complete on disk."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from pathlib import Path
from typing import Callable


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then replace ``path``.

    The temporary file is in the same folder so ``os.replace`` is a rename on one file system,
    which is atomic: a reader (or a process killed mid-save) sees the old file or the new one,
    never a half-written mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        # (or keep the mode of the file it replaces).
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    remove_stale_temporaries(path)
    return path


# A temporary file older than this was left by a process killed mid-save (a live save takes
# seconds); younger ones may belong to another process saving the same file right now.
STALE_SECONDS = 3600


def remove_stale_temporaries(path: Path) -> int:
    """Delete ``path``'s leftover temporary files from killed saves; returns how many."""
    removed = 0
    limit = time.time() - STALE_SECONDS
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if tmp.stat().st_mtime < limit:
                tmp.unlink()
                removed += 1
        except OSError:
            pass  # gone already, or not ours to delete: harmless either way
    return removed


# Read once at import (os.umask can only be read by setting it, which is not thread-safe).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
