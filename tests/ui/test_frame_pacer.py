"""The drain's pace: 25 Hz while drawing is cheap, slower when the GUI thread's drawing
would take more than its budget, never slower than the slowest pace."""

from __future__ import annotations

import time

import pytest

from workbench.core.training.events import StepLogged
from workbench.ui.frame_pacer import FASTEST_MS, SLOWEST_MS, FramePacer
from workbench.ui.worker import EventBuffer, TrainingController


class Clock:
    """A GUI thread whose CPU time the test advances by hand."""

    def __init__(self):
        self.cpu = 0.0
        self.wall = 0.0

    def spend(self, cpu_ms: float, wall_ms: float | None = None) -> None:
        self.cpu += cpu_ms / 1000
        self.wall += (wall_ms if wall_ms is not None else cpu_ms) / 1000


def pacer(clock: Clock, **kw) -> FramePacer:
    return FramePacer(cpu_clock=lambda: clock.cpu, wall_clock=lambda: clock.wall, **kw)


def settle(p: FramePacer, clock: Clock, cost_ms: float, drains: int = 12) -> int:
    """Drain ``drains`` times, each interval costing ``cost_ms`` of GUI-thread time."""
    interval = p.next_interval_ms()
    for _ in range(drains):
        clock.spend(cost_ms, interval)
        interval = p.next_interval_ms()
    return interval


def test_cheap_drawing_keeps_25_hz():
    clock = Clock()
    p = pacer(clock)
    assert settle(p, clock, cost_ms=2.0) == FASTEST_MS == 40


def test_costly_drawing_stretches_the_interval_to_the_budget():
    clock = Clock()
    p = pacer(clock, budget=0.15)
    # 12 ms a frame within 15% of the time: one frame every 80 ms
    assert settle(p, clock, cost_ms=12.0) == pytest.approx(80, abs=1)
    assert p.cost_ms == pytest.approx(12.0, rel=1e-3)


def test_the_interval_never_passes_the_slowest_pace_and_comes_back():
    clock = Clock()
    p = pacer(clock)
    assert settle(p, clock, cost_ms=100.0) == SLOWEST_MS
    assert settle(p, clock, cost_ms=1.0, drains=20) == FASTEST_MS


def test_one_slow_frame_is_not_a_trend():
    clock = Clock()
    p = pacer(clock, budget=0.15)
    settle(p, clock, cost_ms=3.0)
    clock.spend(20.0)  # alone, 20 ms at 15% would ask for 133 ms
    assert p.next_interval_ms() < SLOWEST_MS  # halfway, not all the way


def test_reset_starts_fast_again():
    clock = Clock()
    p = pacer(clock)
    settle(p, clock, cost_ms=50.0)
    p.reset()
    assert p.interval_ms == FASTEST_MS
    assert p.next_interval_ms() == FASTEST_MS  # the first drain has nothing to measure


def test_budget_must_be_a_share():
    with pytest.raises(ValueError, match="budget"):
        FramePacer(budget=0)


def _burn(seconds: float) -> None:
    t = time.thread_time()
    while time.thread_time() - t < seconds:
        pass


def _step(k: int) -> StepLogged:
    return StepLogged(k, 1, 0.0, {"loss": 1.0}, 1e-3, 8, 0.0)


def test_the_controller_slows_its_drain_while_a_view_is_slow_to_draw(qtbot):
    """A slot that costs 40 ms of GUI-thread time per batch of steps (a slow plot): the
    drain timer slows to its slowest pace; once drawing is cheap it is back at 40 ms."""
    ctl = TrainingController()
    buffer = EventBuffer()
    ctl._buffer = buffer  # as a run's start sets it, without a run
    slow = []

    def draw(steps):
        slow.append(len(steps))
        _burn(0.040)

    ctl.steps_logged.connect(draw)
    for k in range(8):
        buffer.on_step_end(None, _step(k))
        ctl._drain()
    assert len(slow) == 8
    assert ctl._timer.interval() == SLOWEST_MS
    ctl.steps_logged.disconnect(draw)
    for k in range(8, 30):
        buffer.on_step_end(None, _step(k))
        ctl._drain()
    assert ctl._timer.interval() == FASTEST_MS
