"""Keep a live plot's view on its data, moving the view in steps rather than every frame.

pyqtgraph's auto-range fits the view to the data after every ``setData``: while training
streams in, the step axis grows each frame, so every frame re-lays out both axes and
re-projects every curve. Measured on a Training tab of four terms fed two steps a frame
(median of 150 frames): 8.2-9.5 ms of GUI-thread time a frame with auto-range, 3.4 ms with
a fixed view, 4.5-4.7 ms with this follower. ``workbench bench --only plots`` reports it
(the live-frame row).

So the view changes only when the data leaves it: the step axis then extends to the next
round number (1, 1.5, 2, 3, 4, 5, 6, 8 x 10^k), and the value axis is refitted with a
margin (a wider one on the side the data left by), or when the data fills less than half
of it. As with pyqtgraph's own auto-range, a pan or zoom by the user stops the following;
the plot's "A" button (shown only then), its menu's "View All", or a new run starts it
again.
"""

from __future__ import annotations

import math
from typing import Callable

ROUND_STEPS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
MARGIN = 0.1  # of the data's span, above and below the values
HEADROOM = 0.3  # of the data's span, on the side the data left the view by: it is heading there
LOOSE = 0.5  # refit when the data spans less than this share of the view

Bounds = tuple[float, float, float, float]  # x min, x max, y min, y max (view coordinates)


def round_up(v: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 4, 5, 6, 8 x 10^k that is >= ``v`` (``v`` > 0)."""
    if v <= 0 or not math.isfinite(v):
        raise ValueError(f"round_up needs a positive number, got {v}")
    scale = 10.0 ** math.floor(math.log10(v))
    for m in ROUND_STEPS:
        if m * scale >= v * (1 - 1e-12):
            return m * scale
    return 10.0 * scale  # unreachable but for rounding


def x_extent(lo: float, hi: float, current: tuple[float, float] | None
             ) -> tuple[float, float] | None:
    """The step axis's new range for data over [lo, hi], or None to keep ``current``."""
    if current is not None and current[0] <= lo and hi <= current[1]:
        return None
    start = min(lo, current[0]) if current is not None else lo
    width = max(hi - start, 1.0)
    return start, start + round_up(width)


def y_extent(lo: float, hi: float, current: tuple[float, float] | None
             ) -> tuple[float, float] | None:
    """The value axis's new range for values over [lo, hi], or None to keep ``current``."""
    span = hi - lo
    below = above = MARGIN
    if current is not None:
        inside = current[0] <= lo and hi <= current[1]
        if inside and span >= LOOSE * (current[1] - current[0]):
            return None
        # A falling loss leaves at the bottom again and again: room for where it goes.
        below = HEADROOM if lo < current[0] else MARGIN
        above = HEADROOM if hi > current[1] else MARGIN
    if span <= 0:  # a flat line (a fixed temperature): half its value either side
        half = 0.5 * abs(hi) if abs(hi) > 1e-12 else 1.0
        return lo - half, hi + half
    return lo - below * span, hi + above * span


class RangeFollower:
    """Follows ``bounds()`` (the data's extent in view coordinates, or None when there is
    none) on the ViewBox of ``plot``; ``update()`` after the data changed.

    ``follow_x=False`` leaves the step axis alone (a plot whose x is linked to another);
    ``fixed_y`` holds the value axis at that range (probabilities: 0 to 1)."""

    def __init__(self, plot, bounds: Callable[[], Bounds | None], *, follow_x: bool = True,
                 fixed_y: tuple[float, float] | None = None):
        self.plot = plot
        self.vb = plot.vb
        self.bounds = bounds
        self.follow_x = follow_x
        self.fixed_y = fixed_y
        self.following = True
        self._x: tuple[float, float] | None = None
        self._y: tuple[float, float] | None = None
        self.vb.disableAutoRange()
        if fixed_y is not None:
            self.vb.setRange(yRange=fixed_y, padding=0.02)
        self.vb.sigRangeChangedManually.connect(self._on_user_range)
        self.vb.sigStateChanged.connect(self._on_state_changed)
        # pyqtgraph shows its "A" button whenever its own auto-range is off, which it always
        # is here: show it only once the user has taken the view over.
        plot.hideButtons()
        # The view's context menu "View All" fits once; here it also follows again.
        if self.vb.menu is not None:
            self.vb.menu.viewAll.triggered.connect(lambda *_: self.restart())

    def restart(self) -> None:
        """Follow again from scratch (a new run, or the user asked for auto-range)."""
        self.following = True
        self.plot.hideButtons()
        self._x = self._y = None
        if self.fixed_y is not None:
            self.vb.setRange(yRange=self.fixed_y, padding=0.02)
        self.update()

    def update(self) -> None:
        if not self.following:
            return
        got = self.bounds()
        if got is None or not all(math.isfinite(v) for v in got):
            return
        x0, x1, y0, y1 = got
        new_x = x_extent(x0, x1, self._x) if self.follow_x else None
        new_y = y_extent(y0, y1, self._y) if self.fixed_y is None else None
        if new_x is None and new_y is None:
            return
        self._x = new_x or self._x
        self._y = new_y or self._y
        self.vb.setRange(xRange=new_x, yRange=new_y, padding=0)

    def _on_user_range(self, *_):
        self.following = False
        self.plot.showButtons()

    def _on_state_changed(self, *_):
        # pyqtgraph's "A" button (or its menu) turned its own auto-range on: follow again,
        # in steps, instead of letting it refit every frame.
        if any(self.vb.state["autoRange"]):
            self.vb.disableAutoRange()
            self.restart()
