"""The Embeddings tab's 2-D points, computed off the GUI thread and cached.

A projection is keyed ``(epoch, method, modalities)``. A missing one is computed in a
:class:`BackgroundTask`, with the snapshot's figures (gap, alignment, uniformity) the first
time its epoch is projected. A newer request asks the older one to stop; if the older result
still comes, it is cached but not reported as the pending one. Results of tasks started
before :meth:`Projections.forget_all` (a new run) are dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import partial

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid

from ...core.evaluation.embedding_stats import embedding_stats
from ...core.evaluation.projection import ProjectionStopped, project_modalities
from ...core.training.events import EmbeddingSnapshot
from ..tasks import BackgroundTask

CACHE_SIZE = 64  # projections kept
_LIVE: set[BackgroundTask] = set()  # running tasks outlive a closed view until they end


def _compute(vectors: dict, method: str, seed: int, stop: threading.Event,
             stats_of: tuple | None) -> dict:
    """Off the GUI thread: the 2-D points (and, when asked, the snapshot's figures)."""
    points = project_modalities(vectors, method, seed, should_stop=stop.is_set)
    return {"points": points, "stats": embedding_stats(*stats_of) if stats_of else None,
            "thread": threading.get_ident()}


class Projections(QObject):
    """Cached projections of embedding snapshots, and the one being computed."""

    done = Signal(tuple)  # a key whose points (and its epoch's figures) are now cached
    failed = Signal(tuple, str)  # the pending key, and why it failed

    def __init__(self, parent: QObject | None = None, cache_size: int = CACHE_SIZE):
        super().__init__(parent)
        self.cache_size = cache_size
        self.pending: tuple | None = None  # the key being computed for the caller
        self.last_thread: int | None = None  # the thread that computed the latest result
        self._points: OrderedDict[tuple, dict] = OrderedDict()
        self._stats: dict[int, dict[str, float]] = {}
        self._stop: threading.Event | None = None
        self._generation = 0

    def ready(self, key: tuple) -> bool:
        """Whether ``key``'s points and its epoch's figures are both cached."""
        return key in self._points and key[0] in self._stats

    def points(self, key: tuple) -> dict | None:
        """The cached points of ``key`` (marked recently used), or None."""
        if key not in self._points:
            return None
        self._points.move_to_end(key)
        return self._points[key]

    def stats(self, epoch: int | None) -> dict[str, float]:
        return dict(self._stats.get(epoch, {}))

    def request(self, key: tuple, snap: EmbeddingSnapshot) -> None:
        """Compute ``key`` for ``snap`` (stopping the previous request); ``done`` or
        ``failed`` follows."""
        self.cancel()
        self.pending = key
        self._stop = stop = threading.Event()
        stats_of = None if key[0] in self._stats else (snap.text, snap.image, snap.fused)
        fn = partial(_compute, {m: getattr(snap, m) for m in key[2]}, key[1], 0, stop, stats_of)
        task = BackgroundTask(fn)
        task.succeeded.connect(partial(self._on_succeeded, self._generation, key))
        task.failed.connect(partial(self._on_failed, self._generation, key))
        task.ended.connect(partial(_LIVE.discard, task))
        _LIVE.add(task)
        task.start()

    def cancel(self) -> None:
        """Ask the pending computation to stop (at its next check) and forget it."""
        if self._stop is not None:
            self._stop.set()
        self._stop = None
        self.pending = None

    def forget_epoch(self, epoch: int) -> None:
        """Drop what was cached for ``epoch`` (its snapshot was replaced)."""
        for key in [k for k in self._points if k[0] == epoch]:
            del self._points[key]
        self._stats.pop(epoch, None)

    def forget_all(self) -> None:
        """Drop everything, and the results of every task started so far (a new run)."""
        self.cancel()
        self._points.clear()
        self._stats.clear()
        self._generation += 1

    @staticmethod
    def wait_all(ms: int) -> bool:
        """Wait for every running projection's thread (closing); True when all ended."""
        return all(task.wait(ms) for task in list(_LIVE))

    def _on_succeeded(self, generation: int, key: tuple, result: dict) -> None:
        if not isValid(self) or generation != self._generation:
            return  # closed, or a new run started meanwhile
        self._points[key] = result["points"]
        while len(self._points) > self.cache_size:
            self._points.popitem(last=False)
        if result["stats"] is not None:
            self._stats[key[0]] = result["stats"]
        self.last_thread = result["thread"]
        self.done.emit(key)

    def _on_failed(self, generation: int, key: tuple, exc: Exception) -> None:
        if not isValid(self) or generation != self._generation or \
                isinstance(exc, ProjectionStopped) or key != self.pending:
            return
        self.pending = None
        self.failed.emit(key, str(exc))
