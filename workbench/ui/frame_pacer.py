"""How often the GUI takes in (and so redraws) what training reported: 25 Hz while that is
cheap (DESIGN.md asks for about 20-30 Hz), down to 10 Hz when it is not, so drawing does
not take more than a set share of the GUI thread.

Why a budget: the training thread and the GUI thread share one interpreter lock. While the
GUI thread runs Python (pyqtgraph lays out axes, bounds and curves in Python), the training
thread waits for the lock between its operations, even with a core to itself. Measured with
the document's autoencoder on 2 cores (``workbench bench --only gui``): a GUI thread busy 33%
of the time at 25 Hz made training 20-50% slower than the same run with nothing drawn. The
Training tab's own frames are now cheap enough to stay within the budget at 25 Hz; the
pacer is for views, data and machines where they are not.

The pacer measures the GUI thread's own CPU time between two drains (drawing, the events it
caused, anything else the thread did) and stretches the next interval so that this cost,
averaged, stays within ``budget`` of the wall time; never beyond ``slowest_ms``, so the
curves stay live.
"""

from __future__ import annotations

import time
from typing import Callable

FASTEST_MS = 40  # 25 Hz: smooth enough for curves, and what the drain always did
SLOWEST_MS = 100  # 10 Hz: still visibly live, on a machine too slow for more
# Share of the GUI thread's time that taking in training's progress may cost. With the
# Training tab's frames as cheap as they are now (``stepped_range``), 0.25 keeps about 20
# frames a second beside training on 2 cores; 0.15 drew 12-13 a second for no measurable
# gain in training speed (best of 4 alternated GUI runs: 1.44 s at 0.25, 1.51 s at 0.15,
# 1.46 s unpaced).
BUDGET = 0.25
SMOOTHING = 0.5  # weight of the newest cost: one slow frame (a new curve) is not a trend


class FramePacer:
    """``next_interval_ms()`` at each drain; ``reset()`` when a run starts."""

    def __init__(self, *, budget: float = BUDGET, fastest_ms: int = FASTEST_MS,
                 slowest_ms: int = SLOWEST_MS,
                 cpu_clock: Callable[[], float] = time.thread_time,
                 wall_clock: Callable[[], float] = time.perf_counter):
        if not 0 < budget <= 1:
            raise ValueError(f"budget must be in (0, 1], got {budget}")
        self.budget, self.fastest_ms, self.slowest_ms = budget, fastest_ms, slowest_ms
        self._cpu, self._wall = cpu_clock, wall_clock
        self.cost_ms = 0.0  # smoothed GUI-thread CPU per drain interval
        self.interval_ms = fastest_ms
        self._last: tuple[float, float] | None = None

    def reset(self) -> None:
        self.cost_ms = 0.0
        self.interval_ms = self.fastest_ms
        self._last = None

    def next_interval_ms(self) -> int:
        """Called on the GUI thread once per drain: the interval until the next one."""
        now = (self._cpu(), self._wall())
        if self._last is not None:
            cpu_ms = (now[0] - self._last[0]) * 1000.0
            self.cost_ms += SMOOTHING * (cpu_ms - self.cost_ms)
            wanted = self.cost_ms / self.budget
            self.interval_ms = int(min(self.slowest_ms, max(self.fastest_ms, wanted)))
        self._last = now
        return self.interval_ms
