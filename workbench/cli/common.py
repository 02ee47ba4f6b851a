"""Helpers shared by the sub-commands: error reporting and progress on stderr."""

from __future__ import annotations

import sys
import time

from ..core.errors import WorkbenchError


def fail(exc: BaseException) -> int:
    """Print a user-facing error and return the exit status for it."""
    print(f"error: {exc}", file=sys.stderr)
    return 1 if isinstance(exc, WorkbenchError) else 2


class StageProgress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, stream=None, *, min_interval: float = 0.1):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.min_interval = min_interval
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < self.min_interval:
            return
        self._last = now
        self.stream.write(f"\r{stage}: {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
