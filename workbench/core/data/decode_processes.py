"""Decoding many small images in worker processes.

A small PNG's decode is mostly Pillow's Python code, which holds the GIL, so threads do not
overlap it (see ``images.THREADS_MIN_PIXELS``). Processes do. They are started as
``python -m workbench.core.data.decode_processes``, not through ``multiprocessing``: its
spawn and forkserver start methods re-import the caller's ``__main__`` in every child
(which runs a user's unguarded script again), and fork copies a process that may hold Qt's
and torch's threads.

The paths are handed out in chunks, to the workers and to the calling process alike, as
each asks for more: a worker that starts late or runs on a busy core simply takes fewer.
Workers decode straight into a shared, memory-mapped output file and answer on stdout in
JSON lines (problems, then the chunk's end). Encoded images (bytes read from shards) reach
them the same way: one file of the images end to end, mapped by every worker. A worker that fails for any reason has its
unfinished chunks decoded here instead: a slower load, never a lost image.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .images import decode_into

CHUNK = 128  # images per hand-out: small enough to balance, large enough to not chatter


def worker_command() -> list[str]:
    """How a worker is started (tests replace it to simulate a crashed worker)."""
    return [sys.executable, "-m", "workbench.core.data.decode_processes"]


def worker_env(**extra: str) -> dict[str, str]:
    """The environment a decoding worker process starts with: this one's, plus ``extra``,
    with this very package first on the path, wherever it was imported from."""
    env = dict(os.environ, **extra)
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def _outputs(folder: Path, n: int, size: int, mode: str):
    pixels = np.memmap(folder / "pixels.u8", dtype=np.uint8, mode=mode,
                       shape=(n, 3, size, size))
    sizes = np.memmap(folder / "sizes.i64", dtype=np.int64, mode=mode, shape=(n, 2))
    return pixels, sizes


class _Chunks:
    """The next ``(start, stop)`` to decode, to whichever thread asks (thread-safe)."""

    def __init__(self, n: int, chunk: int):
        self._next, self._n, self._chunk = 0, n, chunk
        self._lock = threading.Lock()

    def take(self) -> tuple[int, int] | None:
        with self._lock:
            if self._next >= self._n:
                return None
            start = self._next
            self._next = min(self._n, start + self._chunk)
            return start, self._next


def decode_in_processes(paths: Sequence[Path], size: int, workers: int,
                        progress: Callable[[int, int], None] | None = None):
    """As ``images.decode_many``: ``(pixels, sizes, problems)`` for ``paths``, decoded by
    ``workers`` processes: this one and ``workers - 1`` started for the purpose."""
    n = len(paths)
    chunks = _Chunks(n, CHUNK)
    problems: dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="workbench-decode-") as tmp:
        folder = Path(tmp)
        if n and isinstance(paths[0], (bytes, bytearray, memoryview)):
            _write_blob(folder, paths)
            job = {"blob": n, "size": size}
        else:
            job = {"paths": [str(p) for p in paths], "size": size}
        (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")
        pixels, sizes = _outputs(folder, n, size, "w+")
        pool = _Workers(folder, workers - 1, chunks)
        done = 0

        def decode_here(chunk: tuple[int, int]) -> None:
            nonlocal done
            for i in range(*chunk):
                problems.pop(i, None)  # a failed worker may have reported some
                decode_into(paths, i, size, pixels, sizes, problems)
            done += chunk[1] - chunk[0]

        while (chunk := chunks.take()) is not None:  # this process's share, meanwhile
            decode_here(chunk)
            done += pool.poll(problems)
            if progress:
                progress(done, n)
        while pool.running:
            done += pool.poll(problems, block=True)
            if progress:
                progress(done, n)
        for chunk in pool.unfinished():
            decode_here(chunk)
        # Copies in memory, so the temporary files can go.
        result = np.array(pixels), np.array(sizes)
        pixels = sizes = None  # the maps close before the folder is removed (Windows)
    if progress:
        progress(n, n)
    return result[0], result[1], problems


def _write_blob(folder: Path, images: Sequence[bytes]) -> None:
    offsets = np.zeros(len(images) + 1, dtype=np.int64)
    with open(folder / "images.bin", "wb") as fh:
        for i, data in enumerate(images):
            fh.write(data)
            offsets[i + 1] = offsets[i] + len(data)
    np.save(folder / "offsets.npy", offsets)


class _Blob:
    """The encoded images of a job, read from its mapped file as a worker asks for each."""

    def __init__(self, folder: Path, n: int):
        self._offsets = np.load(folder / "offsets.npy", allow_pickle=False)
        size = int(self._offsets[-1])
        # An empty file cannot be mapped (every image empty: each is reported as such).
        self._data = (np.memmap(folder / "images.bin", dtype=np.uint8, mode="r")
                      if size else np.zeros(0, dtype=np.uint8))
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> bytes:
        return self._data[self._offsets[i]:self._offsets[i + 1]].tobytes()


class _Workers:
    """``count`` started processes, each fed chunks by its own thread, which passes the
    worker's answers on through one queue."""

    def __init__(self, folder: Path, count: int, chunks: _Chunks):
        self._answers: queue.Queue = queue.Queue()
        self._outstanding: list[set[tuple[int, int]]] = []
        self._ended: list[bool] = []
        self._procs: list[subprocess.Popen] = []
        env = worker_env()
        for _ in range(count):
            try:
                proc = subprocess.Popen([*worker_command(), str(folder)], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
            except OSError:
                break
            k = len(self._procs)
            self._procs.append(proc)
            self._outstanding.append(set())
            self._ended.append(False)
            threading.Thread(target=self._feed, args=(k, proc, chunks), daemon=True).start()
        self.running = len(self._procs)

    def _feed(self, k: int, proc: subprocess.Popen, chunks: _Chunks) -> None:
        """Give worker ``k`` a chunk, pass its answers on, give the next when it is done."""
        def give() -> None:
            chunk = chunks.take()
            try:
                if chunk is None:
                    proc.stdin.close()  # no more: the worker ends
                    return
                self._outstanding[k].add(chunk)
                proc.stdin.write(f"{chunk[0]} {chunk[1]}\n")
                proc.stdin.flush()
            except OSError:  # the worker is gone; its chunk is decoded by the caller
                pass

        give()
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            self._answers.put((k, msg))
            if "chunk" in msg:
                give()
        proc.wait()
        self._answers.put((k, None))

    def poll(self, problems: dict[int, str], block: bool = False) -> int:
        """Take the answers that have arrived (with ``block``, wait for one); returns how
        many images the workers finished meanwhile."""
        finished = 0
        while self.running:
            try:
                k, msg = self._answers.get(block=block)
            except queue.Empty:
                break
            block = False
            if msg is None:  # worker k has exited
                self.running -= 1
            elif "problem" in msg:
                problems[int(msg["i"])] = str(msg["problem"])
            elif "chunk" in msg:
                chunk = tuple(msg["chunk"])
                self._outstanding[k].discard(chunk)
                finished += chunk[1] - chunk[0]
            elif msg.get("end"):
                self._ended[k] = True
        return finished

    def unfinished(self) -> list[tuple[int, int]]:
        """Chunks given to workers that failed before finishing them (after all exited)."""
        left = []
        for k, proc in enumerate(self._procs):
            if proc.returncode != 0 or not self._ended[k]:
                left.extend(sorted(self._outstanding[k]))
        return left


def worker_main(argv: list[str]) -> int:
    """The worker: decode each ``start stop`` chunk read from stdin; end at its close."""
    folder = Path(argv[0])
    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    paths = _Blob(folder, int(job["blob"])) if "blob" in job else job["paths"]
    size = int(job["size"])
    pixels, sizes = _outputs(folder, len(paths), size, "r+")
    out = sys.stdout
    for line in sys.stdin:
        start, stop = (int(v) for v in line.split())
        problems: dict[int, str] = {}
        for i in range(start, stop):
            decode_into(paths, i, size, pixels, sizes, problems)
        # No flush needed: the caller maps the same file, so it sees these pages at once.
        for i, reason in problems.items():
            out.write(json.dumps({"i": i, "problem": reason}) + "\n")
        out.write(json.dumps({"chunk": [start, stop]}) + "\n")
        out.flush()
    out.write(json.dumps({"end": True}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
