"""A light curve item for the live training plots: pyqtgraph's ``PlotCurveItem`` fed
straight from a :class:`~workbench.ui.plots.series.Series`, without ``PlotDataItem``'s layers.

Why: a ``PlotDataItem`` wraps a curve and a scatter item, and each ``setData`` goes through
its dataset copies, display-dataset checks and bounds bookkeeping before the curve's own.
The Training tab calls it for every curve at every frame while training, on the GUI thread
that training shares two cores with. With this item a frame of the tab (four terms, raw and
smoothed) costs about a third less GUI-thread time (``workbench bench``, live-frame row).

What it keeps of ``PlotDataItem``:
- the plot's log value axis (``PlotItem.setLogMode`` reaches every item that has
  ``setLogMode``): log10 of the positive values, a gap where a value is not positive;
- only what is in view is turned into a path (clip to view), and with more points there
  than the view has pixel columns, each column's minimum and maximum (:func:`peaks`), so
  the drawn envelope is exact and spikes survive;
- bounds of the whole data for the view's auto-range, not of the part drawn.
The step axis is never logarithmic, so a log x mode is not supported.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from .series import finite_bounds, peak_indices

_EMPTY = np.zeros(0)


def peaks(x: np.ndarray, y: np.ndarray, per_bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """The minimum and the maximum of each run of ``per_bucket`` points (the last, shorter
    run too), in x order, both at the run's first x as pyqtgraph's peak mode places them: a
    run spans at most one pixel column, so the picture is the same."""
    if per_bucket <= 1 or len(x) <= 2:
        return x, y
    return np.repeat(x[::per_bucket], 2), y[peak_indices(y, per_bucket)]


def in_view(x: np.ndarray, x0: float, x1: float) -> slice:
    """The points of ascending ``x`` between ``x0`` and ``x1``, plus one either side, so the
    line leaves the view at its edges instead of stopping short of them."""
    lo = max(int(np.searchsorted(x, x0, "left")) - 1, 0)
    hi = min(int(np.searchsorted(x, x1, "right")) + 1, len(x))
    return slice(lo, hi)


class LiveCurve(pg.PlotCurveItem):
    """A curve shown from (x ascending, y) arrays that it keeps as given: hand it the
    series' views with :meth:`show_data` after every change."""

    def __init__(self, pen, name: str | None = None):
        super().__init__(pen=pen, name=name)
        self._x, self._y = _EMPTY, _EMPTY
        self._log_y = False
        self._clip = True
        self._auto_peaks = True
        self._manual_ds = 1
        self._full_bounds: list | None = None  # [x bounds, y bounds], of the whole data
        self._drawn_bounds = False  # inside boundingRect
        self._drawn: list = [(None, None), (None, None)]  # bounds of what is drawn

    # -- data --------------------------------------------------------------------------
    def show_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self._x, self._y = x, y
        self._full_bounds = None
        self._render()

    def full_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The points as given (getData() is what is drawn: clipped, thinned, log10)."""
        return self._x, self._y

    def _values(self, y: np.ndarray) -> np.ndarray:
        if not self._log_y:
            return y
        out = np.full(y.shape, np.nan)
        np.log10(y, out=out, where=y > 0)
        return out

    def _render(self) -> None:
        x, y = self._x, self._y
        vb = self.getViewBox() if len(x) else None
        columns = 0
        if vb is not None and (self._clip or self._auto_peaks):
            (x0, x1), _ = vb.viewRange()
            columns = int(vb.width())  # 0 before the first layout: every point is drawn
            if self._clip:
                part = in_view(x, x0, x1)
                x, y = x[part], y[part]
        y = self._values(y)
        per_bucket = self._manual_ds
        if self._auto_peaks and columns and len(x) > 2:
            # The pixel columns the points span: the view often reaches past the data.
            span = (x[-1] - x[0]) / max(x1 - x0, 1e-300)
            covered = min(max(columns * span, 1.0), columns)
            if len(x) > 2 * covered:
                per_bucket = max(per_bucket, math.ceil(len(x) / covered))
        x, y = peaks(x, y, per_bucket)
        self._drawn = [finite_bounds(x), finite_bounds(y)]
        # "finite" leaves a gap at a NaN (a missing value, or log10 of a value <= 0); with
        # every point finite pyqtgraph takes its plain path.
        self.setData(x, y, connect="finite")

    # -- what PlotItem asks of its curves ----------------------------------------------
    def setLogMode(self, xState, yState) -> None:  # noqa: N802 (pyqtgraph's name)
        if bool(yState) != self._log_y:
            self._log_y = bool(yState)
            self._full_bounds = None
            self._render()

    def setDownsampling(self, ds=None, auto=None, method=None) -> None:  # noqa: N802
        """The plot's Downsample menu: a fixed factor, or automatic (always by peaks: the
        envelope is what a loss curve is read by)."""
        if ds is not None:
            self._manual_ds = max(int(ds), 1)
        if auto is not None:
            self._auto_peaks = bool(auto)
        self._render()

    def setClipToView(self, state) -> None:  # noqa: N802
        self._clip = bool(state)
        self._render()

    def viewRangeChanged(self, *args) -> None:  # noqa: N802
        # Only a curve drawn in part (clipped or thinned) depends on the range shown: with
        # every point drawn, a new range can only hold fewer of them.
        if self.xData is not None and len(self.xData) < len(self._x):
            self._render()

    def boundingRect(self):  # noqa: N802
        # The scene asks this several times a frame: the bounds of what is drawn (pyqtgraph's
        # own, cached until the next render), not of every stored point.
        self._drawn_bounds = True
        try:
            return super().boundingRect()
        finally:
            self._drawn_bounds = False

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802
        """For the view's auto-range: bounds of the whole data in view coordinates (log10 on
        a log value axis), not only of the part drawn now."""
        if self._drawn_bounds:
            # Taken at render time: pyqtgraph's own reduces the arrays again, in a warnings
            # context, at every new bounding rect. (The pens here are cosmetic: no padding.)
            return self._drawn[ax]
        if self._full_bounds is None:
            self._full_bounds = [finite_bounds(self._x), finite_bounds(self._values(self._y))]
        return self._full_bounds[ax]
