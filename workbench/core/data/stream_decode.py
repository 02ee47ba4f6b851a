"""Decoding streamed training images in worker processes, in order.

A streamed epoch decodes every training image while the model trains. On a thread of the
training process that decode competes for the GIL with the training loop (a small PNG's
decode is mostly Pillow's Python code), so the two barely overlap; in processes of their
own they do (``python -m workbench.tools.stream_check``; the README gives the figures).

Workers are started as ``python -m workbench.core.data.stream_decode SIZE`` (a fresh
interpreter, as ``decode_processes``' are: never a fork of a process that holds Qt's or
torch's threads, never a re-run of the caller's script). Chunks of encoded images go to
them round-robin over their stdin; each answers on stdout with the chunk's pixels and
problems. Results come back in the order the chunks went out, so a run decodes the same
batches whether it decodes in processes or here. A worker that fails has its chunks
decoded here instead: slower, never a lost or reordered image.

Framing (little-endian): a chunk is ``<qi`` (id, count), ``count`` int32 lengths, then the
images end to end; an answer is ``<qii`` (id, count, problems' JSON length), the pixels
(count x 3 x SIZE x SIZE uint8), then the JSON ``{index: reason}``.
"""

from __future__ import annotations

import json
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from .decode_processes import worker_env
from .images import ImageProblem, decode_bytes

T = TypeVar("T")

CHUNK = 32  # images per chunk: one batch is a few chunks, so workers share every batch
DEPTH = 3  # chunks in flight per worker: one decoding, the next ones waiting in its pipe
_CHUNK_HEAD = struct.Struct("<qi")
_ANSWER_HEAD = struct.Struct("<qii")

#: (pixels (n, 3, size, size) uint8, {index in the chunk: reason it did not decode})
Decoded = tuple[np.ndarray, dict[int, str]]


def decode_chunk(images: Sequence[bytes], size: int) -> Decoded:
    """Decode ``images`` here: what a worker does with a chunk."""
    pixels = np.zeros((len(images), 3, size, size), dtype=np.uint8)
    problems: dict[int, str] = {}
    for i, data in enumerate(images):
        try:
            pixels[i] = decode_bytes(data, size).pixels
        except ImageProblem as exc:
            problems[i] = str(exc)
    return pixels, problems


def worker_command(size: int) -> list[str]:
    """How a worker is started (tests replace it to simulate a failing worker)."""
    return [sys.executable, "-m", "workbench.core.data.stream_decode", str(size)]


class _Worker:
    """One decoding process, and a thread that reads its answers into ``answers``."""

    def __init__(self, size: int, answers: dict[int, Decoded], cond: threading.Condition):
        # One thread each: the training process's torch already keeps every core busy.
        env = worker_env(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(worker_command(size), env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.alive = True
        self.size = size
        self._answers, self._cond = answers, cond
        threading.Thread(target=self._read, name="stream-decode-answers", daemon=True).start()

    def send(self, chunk_id: int, images: Sequence[bytes]) -> bool:
        """Hand a chunk over; False when the worker is gone (decode it elsewhere)."""
        if not self.alive:
            return False
        data = list(images)
        try:
            self.proc.stdin.write(_CHUNK_HEAD.pack(chunk_id, len(data)))
            self.proc.stdin.write(np.array([len(b) for b in data], dtype="<i4").tobytes())
            for b in data:
                self.proc.stdin.write(b)
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):  # a broken pipe, or the pipe closed by close()
            self._gone()
            return False

    def _read(self) -> None:
        out = self.proc.stdout
        try:
            while True:
                head = _read_exactly(out, _ANSWER_HEAD.size)
                if head is None:
                    break
                chunk_id, n, plen = _ANSWER_HEAD.unpack(head)
                raw = _read_exactly(out, n * 3 * self.size * self.size)
                text = _read_exactly(out, plen)
                if raw is None or text is None:
                    break
                pixels = np.frombuffer(raw, dtype=np.uint8).reshape(n, 3, self.size, self.size)
                problems = {int(k): v for k, v in json.loads(text.decode("utf-8")).items()}
                with self._cond:
                    self._answers[chunk_id] = (pixels, problems)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        self._gone()

    def _gone(self) -> None:
        with self._cond:
            self.alive = False
            self._cond.notify_all()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _read_exactly(fh: BinaryIO, n: int) -> bytes | None:
    """``n`` bytes, or None at the end of the stream before them."""
    parts, left = [], n
    while left:
        part = fh.read(left)
        if not part:
            return None
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class DecodePool:
    """``workers`` decoding processes for one pass over a stream (a context manager: the
    processes end with it). ``workers`` 0: decode on the calling thread."""

    def __init__(self, workers: int, size: int):
        self.size = size
        self._answers: dict[int, Decoded] = {}
        self._cond = threading.Condition()
        self._workers: list[_Worker] = []
        for _ in range(max(0, workers)):
            try:
                self._workers.append(_Worker(size, self._answers, self._cond))
            except OSError:  # cannot start a process here: decode on this thread
                break

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for w in self._workers:
            w.close()

    def decode(self, chunks: Iterable[Sequence[bytes]]) -> Iterator[Decoded]:
        """Each chunk's pixels and problems, in the order of ``chunks``; workers decode up
        to ``DEPTH`` chunks each ahead of the caller."""
        chunks = iter(chunks)
        sent: deque[tuple[int, Sequence[bytes], _Worker | None]] = deque()
        turn = 0

        def send_more() -> None:
            nonlocal turn
            while len(sent) < DEPTH * max(1, len(self._workers)):
                images = next(chunks, None)
                if images is None:
                    return
                chunk_id = turn
                turn += 1
                live = [w for w in self._workers if w.alive]
                worker = live[chunk_id % len(live)] if live else None
                if worker is not None and not worker.send(chunk_id, images):
                    worker = None
                sent.append((chunk_id, images, worker))
                if worker is None:  # no worker: decoded when its turn comes
                    return

        send_more()
        while sent:
            chunk_id, images, worker = sent.popleft()
            yield self._answer(chunk_id, images, worker)
            send_more()

    def _answer(self, chunk_id: int, images, worker: _Worker | None) -> Decoded:
        if worker is not None:
            with self._cond:
                self._cond.wait_for(lambda: chunk_id in self._answers or not worker.alive)
                answer = self._answers.pop(chunk_id, None)
            if answer is not None:
                return answer
        return decode_chunk(images, self.size)  # no worker, or the worker failed


def decode_items(pool: DecodePool, items: Iterable[T], image: Callable[[T], bytes],
                 chunk: int = CHUNK) -> Iterator[tuple[T, np.ndarray | None, str | None]]:
    """``(item, pixels, None)``, or ``(item, None, reason)`` where its image does not
    decode, for each of ``items`` in order, ``image(item)`` decoded by ``pool`` in chunks of
    ``chunk`` (only the chunks in flight are held)."""
    pending: deque[list[T]] = deque()

    def chunks() -> Iterator[list[bytes]]:
        group: list[T] = []
        for item in items:
            group.append(item)
            if len(group) == chunk:
                pending.append(group)
                yield [image(x) for x in group]
                group = []
        if group:
            pending.append(group)
            yield [image(x) for x in group]

    for pixels, problems in pool.decode(chunks()):
        for i, item in enumerate(pending.popleft()):
            reason = problems.get(i)
            yield item, None if reason else pixels[i], reason


def worker_main(argv: list[str]) -> int:
    """The worker: decode each chunk read from stdin, answer on stdout; end at its close.
    A thread reads the next chunks while this one decodes, so the sender never waits."""
    size = int(argv[0])
    src, out = sys.stdin.buffer, sys.stdout.buffer
    inbox: queue.Queue = queue.Queue()

    def read() -> None:
        while True:
            head = _read_exactly(src, _CHUNK_HEAD.size)
            if head is None:
                break
            chunk_id, n = _CHUNK_HEAD.unpack(head)
            lengths = np.frombuffer(_read_exactly(src, 4 * n) or b"", dtype="<i4")
            images = [_read_exactly(src, int(k)) or b"" if k else b"" for k in lengths]
            inbox.put((chunk_id, images))
        inbox.put(None)

    threading.Thread(target=read, daemon=True).start()
    while (item := inbox.get()) is not None:
        chunk_id, images = item
        pixels, problems = decode_chunk(images, size)
        text = json.dumps(problems).encode("utf-8")
        out.write(_ANSWER_HEAD.pack(chunk_id, len(images), len(text)))
        out.write(pixels.tobytes())
        out.write(text)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
