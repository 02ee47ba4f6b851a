"""Atomic file writes: the old file stays whole until the new one is complete on disk."""

from __future__ import annotations

import glob
import hashlib
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Callable


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then replace ``path``.

    The temporary file is in the same folder so ``os.replace`` is a rename on one file system,
    which is atomic: a reader (or a process killed mid-save) sees the old file or the new one,
    never a half-written mix. The temporary's name says who writes it
    (``.name.<pid>-<host hash>.<random>.tmp``), so the next save can tell a killed save's
    leftover from another process's save in progress.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-{HOST}.",
                                    suffix=".tmp", dir=path.parent)
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
    remove_temporaries(path.parent, path.name)
    return path


# Who writes a temporary: a short hash of the host name (folders may be shared over NFS, where a
# pid means something only on its own host) and the pid, in the temporary's name.
HOST = hashlib.blake2s(socket.gethostname().encode("utf-8"), digest_size=4).hexdigest()
_OWNER = re.compile(r"\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.[^.]+\.tmp$")

# A temporary file older than this was left by a process killed mid-save (a live save takes
# seconds); a younger one whose writer cannot be checked (another host's, or named before
# temporaries carried their writer) may be another process's save in progress.
STALE_SECONDS = 3600


def remove_temporaries(folder: Path, name: str | None = None, *, all_of_them: bool = False
                       ) -> int:
    """Delete the temporary files that killed saves left in ``folder`` (of the file ``name``,
    or of any file); returns how many. One goes at once when its writer is a process of this
    host that is gone, otherwise once it is older than :data:`STALE_SECONDS`.
    ``all_of_them``: every one, for a caller that knows no save is under way there (it holds
    the folder's lock)."""
    prefix = f".{glob.escape(name)}" if name is not None else ".*"
    limit = time.time() - STALE_SECONDS
    removed = 0
    for tmp in folder.glob(f"{prefix}.*.tmp"):
        try:
            if all_of_them or _abandoned(tmp, limit):
                tmp.unlink()
                removed += 1
        except OSError:
            pass  # gone already, or not ours to delete: harmless either way
    return removed


def _abandoned(tmp: Path, limit: float) -> bool:
    owner = _OWNER.search(tmp.name)
    if owner and owner["host"] == HOST and process_gone(int(owner["pid"])):
        return True
    return tmp.stat().st_mtime < limit


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this host (False when it cannot be told: a pid is
    never declared gone by mistake, though a reused one may be taken for alive)."""
    if pid <= 0:
        return True
    if os.name == "nt":  # there os.kill(pid, 0) would send Ctrl-C, not check
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such pid (or none that large)
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


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
