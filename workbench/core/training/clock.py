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
