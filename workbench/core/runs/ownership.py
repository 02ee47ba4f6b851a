"""A run folder belongs to one run.

- :func:`check_out_folder`: before any data loads, a folder named for a run (``train
  --out``) must be empty, or be the folder whose checkpoint is resumed, or be replaced on
  request (``--overwrite``, which only ever replaces a run folder).
- :class:`RunLock`: while a run writes its folder it holds ``.lock`` there (its pid, host and
  start time), so a second writer is refused with who holds it. A lock whose process is gone
  (killed) is stale and taken over; so are the temporary files of saves it was killed in.
- :func:`cut_back`: a folder's logs and snapshots as they were when a checkpoint was written,
  so a resumed run appends to exactly what its checkpoint holds (no epoch twice).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

from ..atomic import atomic_write_bytes, process_gone, remove_temporaries
from ..errors import WorkbenchError

LOCK = ".lock"
RUN_FILES = ("run.json", "config.toml")  # a folder with either was written by a run


def is_run_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in RUN_FILES)


def check_out_folder(folder: str | Path, *, resume_from: str | Path | None = None,
                     overwrite: bool = False) -> None:
    """Refuse to train into ``folder`` when it holds something else, before anything is
    loaded; with ``overwrite``, empty a run folder first. Raises :class:`WorkbenchError`."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        return
    if not folder.is_dir():
        raise WorkbenchError(f"--out {folder}: this is a file, not a folder")
    entries = [p for p in folder.iterdir() if p.name != LOCK]
    holder = RunLock(folder).holder()
    if holder is not None:
        raise WorkbenchError(busy_message(folder, holder))
    if not entries:
        return
    if resume_from is not None and _inside(Path(resume_from), folder):
        return  # the folder being resumed: its logs are cut back to the checkpoint
    if not overwrite:
        what = "a run folder" if is_run_folder(folder) else "a folder with other files"
        raise WorkbenchError(
            f"--out {folder} is not empty ({what}): a run folder belongs to one run. Choose "
            f"a new folder, resume that run with --resume {folder / 'checkpoints' / 'last.pt'}"
            f" --out {folder}, or pass --overwrite to replace it")
    if not is_run_folder(folder):
        raise WorkbenchError(f"--overwrite: {folder} is not a run folder (no run.json or "
                             "config.toml), so it is left as it is; choose another folder")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.expanduser().resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def busy_message(folder: Path, holder: dict) -> str:
    return (f"{folder} is being written by another run (pid {holder.get('pid')} on "
            f"{holder.get('host')}, since {holder.get('started')}); wait for it to end, or "
            "train into another folder")


class RunLock:
    """``.lock`` in a run folder: taken with :meth:`acquire`, given back with
    :meth:`release`. Only a lock whose process is known gone (same host, no such pid) is
    stale; a lock from another host is never taken over."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.held = False

    def holder(self) -> dict | None:
        """Who holds the lock, when a live process does (None: free or stale)."""
        info = self._read()
        if info is None or self._stale(info):
            return None
        return info

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self._read()
                if info is not None and not self._stale(info):
                    raise WorkbenchError(busy_message(self.folder, info)) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self.held = True
            # No save is under way here now: whatever temporaries remain, killed saves left.
            for sub in (self.folder, self.folder / "checkpoints", self.folder / "snapshots"):
                remove_temporaries(sub, all_of_them=True)
            return
        raise WorkbenchError(f"{self.folder}: could not take its lock ({self.path})")

    def release(self) -> None:
        if self.held:
            self.held = False
            info = self._read()
            if info is not None and info.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)

    def _read(self) -> dict | None:
        try:
            info = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # Being written this instant, or garbage: garbage older than a minute is stale.
            try:
                old = time.time() - self.path.stat().st_mtime > 60
            except OSError:
                return None
            return {"pid": None, "host": None, "started": "?", "garbage": old}
        return info if isinstance(info, dict) else {"garbage": True}

    @staticmethod
    def _stale(info: dict) -> bool:
        if "garbage" in info:
            return bool(info["garbage"])
        if info.get("host") != socket.gethostname():
            return False
        pid = info.get("pid")
        return not isinstance(pid, int) or process_gone(pid)


def cut_back(folder: Path, epoch: int, step: int) -> list[dict]:
    """``folder``'s curves and snapshots as a checkpoint of ``epoch`` epochs and ``step``
    steps left them: later metrics, steps and snapshots (of a run killed after the
    checkpoint) are dropped, so what a resumed fit appends follows on exactly. Returns the
    metrics lines kept."""
    from .store import read_jsonl, read_metrics, read_steps

    metrics = [m for m in read_metrics(folder) if _count(m, "epoch") <= epoch]
    steps = [m for m in read_steps(folder) if _count(m, "step") <= step]
    attention = [m for m in read_jsonl(folder / "attention_stats.jsonl")
                 if _count(m, "step") <= step]
    for name, lines in (("metrics.jsonl", metrics), ("steps.jsonl", steps),
                        ("attention_stats.jsonl", attention)):
        if (folder / name).exists() or lines:
            atomic_write_bytes(folder / name, "".join(json.dumps(x) + "\n" for x in lines)
                               .encode("utf-8"))
    for snap in (folder / "snapshots").glob("*-e*.npz"):
        found = re.search(r"-e(\d+)\.npz$", snap.name)
        if found and int(found.group(1)) > epoch:
            snap.unlink()
    return metrics


def _count(record: dict, key: str) -> float:
    """A JSON line's epoch or step; a line without one counts as past the checkpoint."""
    value = record.get(key)
    return value if isinstance(value, int) else float("inf")
