"""The Sweep tab's four plots of a study, drawn from its trial rows
(``core.sweep.analysis.trial_rows``):

- **best so far**: each complete trial's value (dots; pruned trials as faded crosses at
  their last value) and the best value up to each trial (a step line);
- **learning curves**: every trial's validation value per epoch (the first seed's, what the
  pruner saw), pruned trials faded, the best trial thick;
- **parallel coordinates**: one vertical axis per searched setting and one for the value;
  each complete trial a line through its settings, coloured from worst (light) to best
  (dark); a log-scale setting on a log axis, a list's values evenly spaced;
- **importances**: each setting's share of the value's variance (Optuna's fANOVA), once
  three trials are complete.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QWidget

BEST_COLOUR = (25, 118, 210)
TRIAL_COLOUR = (120, 120, 120)
PRUNED_COLOUR = (200, 120, 40, 90)  # faded
RUNNING_COLOUR = (46, 160, 67)
_CMAP = pg.ColorMap([0.0, 1.0], [(200, 220, 240), (13, 71, 161)])


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setBackground("w")
    plot.setTitle(title, color="k", size="10pt")
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.showGrid(x=True, y=True, alpha=0.2)
    for side in ("left", "bottom"):  # recall 0.19, not "190 (x0.001)"
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.setMinimumSize(130, 110)  # four of them beside the table in an 800 px window
    return plot


def normalise(values: list[Any], dim: dict) -> list[float]:
    """``values`` of one searched setting placed on [0, 1]: ranges linearly (log10 for a log
    range), a list's values by their position in it."""
    if dim["kind"] == "categorical":
        choices = list(dim["choices"])
        span = max(len(choices) - 1, 1)
        return [choices.index(v) / span if v in choices else math.nan for v in values]
    lo, hi = float(dim["low"]), float(dim["high"])
    if dim.get("log"):
        lo, hi = math.log10(lo), math.log10(hi)
        values = [math.log10(v) if v and v > 0 else math.nan for v in values]
    span = (hi - lo) or 1.0
    return [(float(v) - lo) / span for v in values]


class SweepPlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.best = _plot("Best so far", "value", "trial")
        self.curves = _plot("Learning curves", "validation value", "epoch")
        self.curves.setToolTip("Each trial's validation value after each epoch (its first "
                               "seed's, what the pruner judged): the best trial thick, the "
                               "running one green, pruned ones faded")
        self.parallel = _plot("Settings vs value", "", "")
        self.parallel.setToolTip("Each complete trial as a line through its settings and "
                                 "its value; the better the value, the darker the line")
        self.parallel.hideAxis("left")
        self.importance = _plot("Importances", "", "share of the variance")
        self.importance.setToolTip("Each setting's share of the value's variance over the "
                                   "complete trials (Optuna's fANOVA)")
        self.importance.hideAxis("left")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.best, 0, 0)
        grid.addWidget(self.curves, 0, 1)
        grid.addWidget(self.parallel, 1, 0)
        grid.addWidget(self.importance, 1, 1)
        self.drawn_lines = 0  # parallel-coordinates lines drawn (tests, the bench)
        # trial number -> (its learning curve's item, the style drawn, the points drawn)
        self._curve_items: dict[int, tuple] = {}

    def set_rows(self, rows: list[dict], space: list[dict], direction: str,
                 metric: str) -> None:
        self._draw_best(rows, direction, metric)
        self._draw_curves(rows, direction, metric)
        self._draw_parallel(rows, space, direction, metric)

    def set_importances(self, shares: dict[str, float]) -> None:
        plot = self.importance
        plot.clear()
        if not shares:
            text = pg.TextItem("after three complete trials", color=(110, 110, 110),
                               anchor=(0.5, 0.5))
            plot.addItem(text)
            text.setPos(0.5, 0.5)
            plot.setXRange(0, 1)
            plot.setYRange(0, 1)
            return
        items = list(shares.items())[::-1]  # the most important on top
        y = np.arange(len(items), dtype=float)
        widths = np.array([v for _, v in items])
        plot.addItem(pg.BarGraphItem(x0=np.zeros(len(items)), y=y, height=0.6, width=widths,
                                     brush=pg.mkBrush(BEST_COLOUR)))
        for i, (key, value) in enumerate(items):
            label = pg.TextItem(f"{key}  {value:.2f}", color=(20, 20, 20), anchor=(0, 0.5))
            label.setPos(0.01, y[i] + 0.42)
            plot.addItem(label)
        plot.setXRange(0, max(1.0, float(widths.max())))
        plot.setYRange(-0.6, len(items) - 0.1)

    # -- drawing ------------------------------------------------------------------------
    def _draw_best(self, rows, direction, metric) -> None:
        from ...core.sweep.analysis import best_so_far
        plot = self.best
        plot.clear()
        plot.setLabel("left", metric)
        done = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
        if done:
            plot.addItem(pg.ScatterPlotItem([r["number"] for r in done],
                                            [r["value"] for r in done], size=7,
                                            brush=pg.mkBrush(TRIAL_COLOUR), pen=None))
        pruned = [(r["number"], _last(r)) for r in rows if r["state"] == "pruned"
                  and _last(r) is not None]
        if pruned:
            plot.addItem(pg.ScatterPlotItem([p[0] for p in pruned], [p[1] for p in pruned],
                                            size=8, symbol="x", pen=pg.mkPen(PRUNED_COLOUR),
                                            brush=pg.mkBrush(PRUNED_COLOUR)))
        best = best_so_far(rows, direction)
        if best:
            x = [b[0] for b in best]
            y = [b[1] for b in best]
            last = max(r["number"] for r in rows)
            plot.addItem(pg.PlotDataItem(x + [last], y + [y[-1]], stepMode=None,
                                         pen=pg.mkPen(BEST_COLOUR, width=2.5),
                                         connect="all"))

    def reset(self) -> None:
        """Forget the drawn learning curves (another study is shown)."""
        for item, _, _ in self._curve_items.values():
            self.curves.removeItem(item)
        self._curve_items.clear()

    def update_curves(self, rows: list[dict], direction: str, metric: str) -> None:
        """The learning curves alone (an epoch of a running trial): each trial's line is
        kept and given its new points, so a frame costs one ``setData`` per changed line."""
        self._draw_curves(rows, direction, metric)

    def _draw_curves(self, rows, direction, metric) -> None:
        from ...core.sweep.analysis import best_so_far
        plot = self.curves
        plot.setLabel("left", f"validation {metric}")
        best = best_so_far(rows, direction)
        best_number = None
        if best:
            best_value = best[-1][1]
            best_number = next(r["number"] for r in rows if r["state"] == "complete"
                               and r["value"] == best_value)
        shown = set()
        for row in rows:
            points = sorted(row["intermediate"].items())
            if not points:
                continue
            number = row["number"]
            shown.add(number)
            style = ("best" if number == best_number else row["state"])
            x = [p[0] for p in points]
            y = [p[1] for p in points]
            item, drawn_style, drawn_len = self._curve_items.get(number, (None, None, 0))
            if item is None:
                item = pg.PlotDataItem(x, y, pen=_curve_pen(style))
                plot.addItem(item)
            elif drawn_len != len(x) or drawn_style != style:
                item.setData(x, y)
            if drawn_style != style:
                item.setPen(_curve_pen(style))
                item.setZValue(2 if style == "best" else 1)
            self._curve_items[number] = (item, style, len(x))
        for number in set(self._curve_items) - shown:
            plot.removeItem(self._curve_items.pop(number)[0])

    def _draw_parallel(self, rows, space, direction, metric) -> None:
        plot = self.parallel
        plot.clear()
        self.drawn_lines = 0
        done = [r for r in rows if r["state"] == "complete" and r["value"] is not None
                and math.isfinite(r["value"])]
        axes = [d["key"].rpartition(".")[2] for d in space] + [metric]
        plot.getAxis("bottom").setTicks([[]])
        for i, name in enumerate(axes):
            plot.addItem(pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen((160, 160, 160))))
            # each axis's name under it, every other one lower, so long names do not overlap
            label = pg.TextItem(name, color=(20, 20, 20), anchor=(0.5, 0.5))
            label.setPos(i, -0.15 if i % 2 == 0 else -0.25)
            plot.addItem(label)
        plot.setXRange(-0.3, len(axes) - 0.7)
        plot.setYRange(-0.3, 1.08)
        if not done:
            return
        values = [r["value"] for r in done]
        lo, hi = min(values), max(values)
        span = (hi - lo) or 1.0
        columns = [normalise([r["params"].get(d["key"]) for r in done], d) for d in space]
        for j, row in enumerate(done):
            quality = (row["value"] - lo) / span
            if direction == "minimize":
                quality = 1 - quality
            y = [col[j] for col in columns] + [(row["value"] - lo) / span]
            colour = _CMAP.map(quality, mode="qcolor")
            item = pg.PlotDataItem(list(range(len(axes))), y,
                                   pen=pg.mkPen(colour, width=1 + 2 * quality),
                                   connect="finite")
            item.setZValue(quality)
            plot.addItem(item)
            self.drawn_lines += 1
        for i, d in enumerate(space):  # each axis's range, at its foot and its head
            low, high = _ends(d)
            for text, y in ((low, -0.05), (high, 1.05)):
                label = pg.TextItem(text, color=(90, 90, 90), anchor=(0.5, 0.5))
                label.setPos(i, y)
                plot.addItem(label)
        for text, y in ((f"{lo:.3g}", -0.05), (f"{hi:.3g}", 1.05)):
            label = pg.TextItem(text, color=(90, 90, 90), anchor=(0.5, 0.5))
            label.setPos(len(axes) - 1, y)
            plot.addItem(label)


def _curve_pen(style: str):
    if style == "best":
        return pg.mkPen(BEST_COLOUR, width=3)
    if style == "pruned":
        return pg.mkPen(PRUNED_COLOUR, width=1)
    if style == "running":
        return pg.mkPen(RUNNING_COLOUR, width=2)
    return pg.mkPen(TRIAL_COLOUR + (170,), width=1.2)


def _ends(dim: dict) -> tuple[str, str]:
    if dim["kind"] == "categorical":
        return str(dim["choices"][0]), str(dim["choices"][-1])
    return f"{dim['low']:.3g}", f"{dim['high']:.3g}"


def _last(row: dict) -> float | None:
    if not row["intermediate"]:
        return None
    return row["intermediate"][max(row["intermediate"])]
