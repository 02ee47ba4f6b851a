"""How long a run has trained, and how long it has left.

A paused run's clock stands still: elapsed time, the ETA and a run's duration say how long it
trained, not how long it sat paused (an 80 s pause used to move the ETA by three minutes).
The GUI's training bar, the command line's progress line and the run folder all read these.
"""

from __future__ import annotations

import time
from typing import Callable


class RunClock:
    """Seconds since :meth:`start`, less the time between each :meth:`pause` and the
    :meth:`resume` after it. ``now`` is the time source (tests pass a fake one)."""

    def __init__(self, now: Callable[[], float] = time.perf_counter):
        self._now = now
        self._t0 = now()
        self._paused_at: float | None = None
        self._paused = 0.0

    def start(self) -> None:
        """Start from zero, running."""
        self._t0, self._paused_at, self._paused = self._now(), None, 0.0

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._now()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused += self._now() - self._paused_at
            self._paused_at = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    @property
    def paused_seconds(self) -> float:
        """Time spent paused so far (a pause still going on included)."""
        ongoing = self._now() - self._paused_at if self._paused_at is not None else 0.0
        return self._paused + ongoing

    def elapsed(self) -> float:
        """Seconds of training: since the start, pauses left out."""
        now = self._paused_at if self._paused_at is not None else self._now()
        return now - self._t0 - self._paused


def fit_fraction(epoch: int, epoch_progress: float, start_epoch: int, epochs: int) -> float:
    """The part (0..1) of a fit done after a step in ``epoch`` (1-based) with
    ``epoch_progress`` of that epoch done; a continued run's epochs before ``start_epoch`` are
    not part of this fit."""
    total = epochs - (start_epoch - 1)
    done = (epoch - start_epoch) + epoch_progress
    return min(1.0, max(0.0, done / max(total, 1)))


def eta_seconds(elapsed: float, fraction: float) -> float | None:
    """Seconds left when ``fraction`` of the work took ``elapsed`` seconds of training, at
    the same pace; None before any progress (no pace to go by)."""
    if fraction <= 0:
        return None
    return max(0.0, elapsed / fraction - elapsed)


class Throughput:
    """Training pairs a second over the last ``window`` seconds of training: a rate that
    follows the data (a streamed shard that decodes slowly shows), not the mean since the
    start. Each epoch starts afresh, so the validation between two epochs, which training
    time includes, never counts as slow training; until the new epoch has two steps the last
    epoch's rate stands."""

    def __init__(self, window: float = 5.0):
        self.window = window
        self._marks: list[tuple[float, int]] = []  # (seconds, pairs so far)
        self._pairs = 0
        self._epoch: int | None = None
        self._last: float | None = None

    def add(self, seconds: float, samples: int, epoch: int | None = None) -> None:
        """A step of ``epoch`` that ended at ``seconds`` of training, over ``samples``
        pairs."""
        if epoch != self._epoch:
            self._last = self.rate() if self._marks else self._last
            self._marks, self._epoch = [], epoch
        self._pairs += samples
        self._marks.append((seconds, self._pairs))
        # keep the last mark at or before the window's start: the rate spans the window
        while len(self._marks) > 2 and self._marks[1][0] <= seconds - self.window:
            self._marks.pop(0)

    def rate(self) -> float | None:
        """Pairs a second, or None before two steps (no interval to measure)."""
        if len(self._marks) < 2:
            return self._last
        (t0, n0), (t1, n1) = self._marks[0], self._marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else self._last


def rate_text(rate: float | None) -> str:
    """``1,234 pairs/s`` (or ``…`` before there is a rate)."""
    return "… pairs/s" if rate is None else f"{rate:,.0f} pairs/s"


class EpochPace:
    """One epoch's pairs a second, from its first step's end to its last's: the time before
    the first step (the previous epoch's validation, the first shard's read) is left out."""

    def __init__(self):
        self._first: tuple[float, int] | None = None
        self._last: tuple[float, int] = (0.0, 0)
        self._pairs = 0

    def add(self, seconds: float, samples: int) -> None:
        self._pairs += samples
        if self._first is None:
            self._first = (seconds, self._pairs)
        self._last = (seconds, self._pairs)

    def take(self) -> float | None:
        """The epoch's rate (None for an epoch of one step), and start the next epoch."""
        first, last = self._first, self._last
        self._first, self._pairs = None, 0
        if first is None or last[0] <= first[0]:
            return None
        return (last[1] - first[1]) / (last[0] - first[0])
