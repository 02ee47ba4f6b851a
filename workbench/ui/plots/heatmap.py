"""A labelled heatmap: named rows and columns, a colour bar, and a readout of the cell under
the mouse. Built once, then fed with :meth:`Heatmap.set_data` as often as data arrives.

:class:`ImageOverlay` draws the same kind of map over a picture (patch weights over the image
they were computed from); :class:`CategoryAxis` (ticks that are names, thinned to fit and
optionally rotated) also labels the attention view's bar charts.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

COLORMAP = "viridis"  # perceptually uniform, readable in grey and by colour-blind users
# Deviation from a reference (uniform attention): blue below it, white at it, red above.
DIVERGING = "CET-D1A"
COLOR_BAR_AXIS_WIDTH = 72
UNIFORM_TICK = "uniform"


def abbreviate(text: str, n: int = 12) -> str:
    """``text`` cut to ``n`` characters with an ellipsis, so long words keep an axis narrow."""
    return text if len(text) <= n else text[: n - 1] + "…"


def upsample(cells: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cells`` (rows, cols) repeated to ``size`` (h, w) pixels by nearest neighbour: patch
    edges stay sharp, since a patch is the unit that attends."""
    rows, cols = cells.shape
    h, w = size
    return np.asarray(cells, np.float32)[(np.arange(h) * rows) // h][:, (np.arange(w) * cols) // w]


def blend_over(image: np.ndarray, weights: np.ndarray, levels: tuple[float, float],
               lut: np.ndarray, alpha: float) -> np.ndarray:
    """(h, w, 3) uint8: ``weights`` (h, w) coloured by ``lut`` (256, 3) between ``levels``,
    alpha-blended over ``image`` (3, h, w) uint8."""
    lo, hi = levels
    index = np.clip((weights - lo) / max(hi - lo, 1e-12) * 255, 0, 255).astype(np.intp)
    base = np.transpose(image, (1, 2, 0)).astype(np.float32)
    return np.clip(base * (1 - alpha) + lut[index] * alpha, 0, 255).astype(np.uint8)


def centred_levels(values: np.ndarray, centre: float) -> tuple[float, float]:
    """Levels symmetric about ``centre`` that reach the value farthest from it, so a diverging
    map's middle colour is the centre (uniform attention) whatever the data."""
    reach = float(np.nanmax(np.abs(values - centre))) if values.size else 0.0
    reach = max(reach, abs(centre) * 1e-3, 1e-9)  # an exactly uniform map: a thin scale
    return centre - reach, centre + reach


class ColorBarMark:
    """A black line across a colour bar at one value (uniform attention), and the bar's ticks
    reduced to that value (named), the top and the bottom, or 0 when the bottom is below it
    (symmetric levels of a peaked map reach below 0, where no weight is)."""

    def __init__(self, bar: pg.ColorBarItem, name: str = UNIFORM_TICK):
        self._bar, self._name = bar, name
        self.value: float | None = None
        self.line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("k", width=2))
        self.line.setVisible(False)
        bar.addItem(self.line)

    def set(self, value: float | None) -> None:
        """Mark ``value``, or nothing (automatic ticks) when None or off the bar's levels."""
        lo, hi = self._bar.levels()
        axis = self._bar.getAxis("right")
        self.value = value if value is not None and lo <= value <= hi else None
        self.line.setVisible(self.value is not None)
        if self.value is None:
            axis.setTicks(None)
            return
        self.line.setPos(256 * (self.value - lo) / (hi - lo))  # the bar's own 0..256 scale
        ends = [v for v in (max(lo, 0.0), hi) if abs(v - self.value) > 0.15 * (hi - lo)]
        axis.setTicks([[(self.value, self._name)] + [(v, f"{v:.4g}") for v in ends], []])


def _color_bar(colormap: str, label: str, width: int) -> pg.ColorBarItem:
    bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get(colormap), width=width,
                          interactive=False, colorMapMenu=False)
    axis = bar.getAxis("right")
    axis.setLabel(label)
    axis.enableAutoSIPrefix(False)
    axis.setWidth(COLOR_BAR_AXIS_WIDTH)  # room for "0.0125" and the label
    axis.setPen("k")
    axis.setTextPen("k")
    return bar


def _outline(colour=Qt.GlobalColor.red, style=Qt.PenStyle.SolidLine) -> QGraphicsRectItem:
    """A frame (red by default) two screen pixels wide, whatever the zoom."""
    item = QGraphicsRectItem()
    pen = QPen(colour)
    pen.setCosmetic(True)
    pen.setWidth(2)
    pen.setStyle(style)
    item.setPen(pen)
    item.setZValue(10)
    return item


def white_canvas() -> pg.GraphicsLayoutWidget:
    w = pg.GraphicsLayoutWidget()
    w.setBackground("w")
    return w


def fixed_plot(canvas: pg.GraphicsLayoutWidget, axis: pg.AxisItem, side: str) -> pg.PlotItem:
    """A plot on ``canvas`` with no pan, zoom or menu, black axes, ``axis`` on ``side``."""
    plot = canvas.addPlot(axisItems={side: axis})
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    for name in ("left", "bottom"):
        plot.getAxis(name).enableAutoSIPrefix(False)
        plot.getAxis(name).setPen("k")
        plot.getAxis(name).setTextPen("k")
    return plot


class CategoryAxis(pg.AxisItem):
    """An axis labelled by names at positions 0.5, 1.5, … (cell centres). Labels that would
    overlap are thinned to every k-th; ``rotate`` draws a bottom axis's labels vertically so
    words stay readable in narrow columns."""

    def __init__(self, orientation: str, *, rotate: bool = False, max_chars: int = 12):
        super().__init__(orientation)
        self._names: list[str] = []
        self._period: int | None = None
        self._rotate = rotate and orientation in ("bottom", "top")
        self._vertical = orientation in ("left", "right")
        self._max_chars = max_chars
        self.enableAutoSIPrefix(False)
        # Let a label run a little past the axis end rather than drop the first cell's.
        self.setStyle(hideOverlappingLabels=False)
        self.setPen("k")
        self.setTextPen("k")

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def set_names(self, names: list[str], period: int | None = None) -> None:
        """Label cell i with ``names[i]``; when labels must be thinned, a ``period`` (the
        grid's columns, say) makes the shown ones fall on its multiples or divisors."""
        names = [abbreviate(str(n), self._max_chars) for n in names]
        if names == self._names and period == self._period:
            return
        self._names, self._period = names, period
        # Size the axis for its longest label up front: pyqtgraph would only grow it after
        # a first paint that drops the labels that do not fit.
        fm = QFontMetricsF(self.style["tickFont"] or self.font())
        longest = max((fm.horizontalAdvance(n) for n in names), default=0.0)
        room = int(longest + self.style["tickTextOffset"][0 if self._vertical else 1]
                   + max(0, self.style["tickLength"]) + 6)
        if self._vertical:
            self.setWidth(room + (int(self.label.boundingRect().height() * 0.8)
                                  if self.label.isVisible() else 0))
        elif self._rotate:
            self.setHeight(room + (int(self.label.boundingRect().height() * 0.8)
                                   if self.label.isVisible() else 0))
        self.picture = None
        self.update()

    def _steps(self):
        if self._period and self._period > 1:
            p = self._period
            yield from (d for d in range(1, p) if p % d == 0)
            yield from (p * k for k in range(1, len(self._names) + 1))
        else:
            k = 1
            while True:
                yield from (k, 2 * k, 5 * k)
                k *= 10

    def _label_extent(self) -> float:
        """Pixels one label takes along the axis."""
        fm = QFontMetricsF(self.style["tickFont"] or self.font())
        if self._vertical or self._rotate:
            return fm.height() + 2
        return max((fm.horizontalAdvance(n) for n in self._names), default=0.0) + 10

    def tickValues(self, minVal, maxVal, size):
        n = len(self._names)
        if n == 0 or size <= 0:
            return []
        lo, hi = sorted((minVal, maxVal))
        visible = [i for i in range(n) if lo <= i + 0.5 <= hi]
        if not visible:
            return []
        need = len(visible) * self._label_extent() / size
        step = next(s for s in self._steps() if s >= need)
        return [(float(step), [i + 0.5 for i in visible if i % step == 0])]

    def tickStrings(self, values, scale, spacing):
        return [self._names[int(v)] if 0 <= int(v) < len(self._names) else "" for v in values]

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):
        if not self._rotate:
            super().drawPicture(p, axisSpec, tickSpecs, textSpecs)
            return
        super().drawPicture(p, axisSpec, tickSpecs, [])
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        width = self.geometry().width()
        lo, hi = self.range
        top = max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]
        for _pen, p1, _p2 in tickSpecs:
            value = lo + p1.x() / width * (hi - lo) if width else lo
            i = int(math.floor(value))
            if not 0 <= i < len(self._names):
                continue
            p.save()
            p.translate(p1.x(), top)
            p.rotate(-90)  # reads bottom to top, ending at the axis
            p.drawText(QRectF(-self.height(), -10, self.height(), 20),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                       self._names[i])
            p.restore()


class Heatmap(QWidget):
    """A matrix as coloured cells with named rows and columns, a colour bar and a readout of
    the hovered cell. Levels are fixed per call (0..max unless given) rather than auto-scaled
    per frame, so colours mean the same thing across the whole matrix. Given the value of
    uniform attention, it is marked on the colour bar and, unless levels are given, the
    colours show deviation from it (a diverging map centred on it)."""

    cell_clicked = Signal(int, int)  # row, column

    def __init__(self, *, row_title: str = "", col_title: str = "",
                 value_name: str = "weight", nouns: tuple[str, str] | None = None,
                 rotate_columns: bool = False, colormap: str = COLORMAP,
                 parent: QWidget | None = None):
        """``nouns`` name one row and one column in the readout (default: the titles)."""
        super().__init__(parent)
        self._row_title, self._col_title, self._value_name = row_title, col_title, value_name
        self._nouns = nouns or (row_title, col_title)
        self._values = np.zeros((0, 0), dtype=np.float32)
        self._rows: list[str] = []
        self._cols: list[str] = []

        self._glw = white_canvas()
        self._row_axis = CategoryAxis("left", max_chars=14)
        self._col_axis = CategoryAxis("bottom", rotate=rotate_columns)
        self.plot_item = fixed_plot(self._glw, self._row_axis, "left")
        self.plot_item.setAxisItems({"bottom": self._col_axis})
        self.plot_item.invertY(True)  # first row at the top, as text reads
        self.plot_item.setLabel("left", row_title)
        self.plot_item.setLabel("bottom", col_title)

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image_item)
        self._colormap = colormap
        self._uniform: float | None = None
        self.color_bar = _color_bar(colormap, value_name, 14)
        self.color_bar.setImageItem(self.image_item, insert_in=self.plot_item)
        self.uniform_mark = ColorBarMark(self.color_bar)
        self._row_marker = _outline()
        self._row_marker.setVisible(False)
        self.plot_item.addItem(self._row_marker)
        self._marked_row: int | None = None

        self._readout = QLabel(" ")
        self._readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._glw, 1)
        layout.addWidget(self._readout)

        self._glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # -- data ------------------------------------------------------------------------------
    def set_data(self, values: np.ndarray, row_names: list[str], col_names: list[str],
                 levels: tuple[float, float] | None = None, col_period: int | None = None,
                 uniform: float | None = None) -> None:
        """Show ``values`` (rows, cols); levels default to 0..max (1 for an all-zero map).
        ``col_period``: columns come in groups of this many (image rows of patches).
        ``uniform``: each cell's value under uniform attention, marked on the colour bar;
        without ``levels`` the colours are then its diverging map centred on it."""
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 2:
            raise ValueError(f"a heatmap needs a 2-D array, got shape {values.shape}")
        colormap = self._colormap
        if levels is None and uniform is not None:
            levels, colormap = centred_levels(values, uniform), DIVERGING
        elif levels is None:
            top = float(np.nanmax(values)) if values.size else 0.0
            levels = (0.0, top if top > 0 else 1.0)
        levels = (float(levels[0]), max(float(levels[1]), float(levels[0]) + 1e-9))
        shape_changed = values.shape != self._values.shape
        self._values = values.copy()
        self._rows = [str(r) for r in row_names]
        self._cols = [str(c) for c in col_names]
        self._row_axis.set_names(self._rows)
        self._col_axis.set_names(self._cols, col_period)
        if colormap != self.colormap:
            self.color_bar.setColorMap(pg.colormap.get(colormap))
        self.color_bar.setLevels(levels)
        self._uniform = uniform
        self.uniform_mark.set(uniform)
        self.image_item.setImage(values, autoLevels=False, levels=levels)
        if shape_changed:
            rows, cols = values.shape
            self.image_item.setRect(QRectF(0, 0, cols, rows))
            self.plot_item.setRange(xRange=(0, max(cols, 1)), yRange=(0, max(rows, 1)),
                                    padding=0)

    def mark_row(self, row: int | None) -> None:
        """Outline one row (the word drawn elsewhere, say); None: no outline."""
        self._marked_row = row
        rows, cols = self._values.shape
        on = row is not None and 0 <= row < rows
        self._row_marker.setVisible(on)
        if on:
            self._row_marker.setRect(QRectF(0, row, cols, 1))

    @property
    def marked_row(self) -> int | None:
        return self._marked_row if self._row_marker.isVisible() else None

    def clear(self) -> None:
        self.set_data(np.zeros((0, 0), dtype=np.float32), [], [])
        self._readout.setText(" ")

    def set_titles(self, row_title: str | None = None, col_title: str | None = None) -> None:
        if row_title is not None and row_title != self._row_title:
            self._row_title = row_title
            self.plot_item.setLabel("left", row_title)
        if col_title is not None and col_title != self._col_title:
            self._col_title = col_title
            self.plot_item.setLabel("bottom", col_title)

    # -- what is displayed (tests and other views read these) ------------------------------
    @property
    def values(self) -> np.ndarray:
        return self._values

    @property
    def row_names(self) -> list[str]:
        return list(self._rows)

    @property
    def col_names(self) -> list[str]:
        return list(self._cols)

    @property
    def row_tick_labels(self) -> list[str]:
        """The (possibly abbreviated) labels drawn on the row axis."""
        return self._row_axis.names

    @property
    def col_tick_labels(self) -> list[str]:
        return self._col_axis.names

    @property
    def levels(self) -> tuple[float, float]:
        return tuple(self.color_bar.levels())

    @property
    def colormap(self) -> str:
        """The name of the colour map the cells are drawn with."""
        return self.color_bar.colorMap().name

    @property
    def uniform(self) -> float | None:
        """The value of uniform attention the map was given (None: none)."""
        return self._uniform

    @property
    def readout(self) -> str:
        return self._readout.text()

    def cell_text(self, row: int, col: int) -> str:
        (rn, cn), value = self._nouns, self._values[row, col]
        where = f"{rn} {self._rows[row]}".strip() + ", " + f"{cn} {self._cols[col]}".strip()
        u = self.uniform
        versus = f" ({value / u:.2f}× {UNIFORM_TICK})" if u else ""
        return f"{where}: {self._value_name} {value:.4f}{versus}"

    def scene_pos_of(self, row: int, col: int) -> QPointF:
        """Where the centre of a cell is in the scene (for tests that hover or click)."""
        return self.plot_item.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))

    # -- mouse -----------------------------------------------------------------------------
    def _cell_at(self, scene_pos) -> tuple[int, int] | None:
        if not self._values.size or not self.plot_item.vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot_item.vb.mapSceneToView(scene_pos)
        row, col = int(math.floor(p.y())), int(math.floor(p.x()))
        rows, cols = self._values.shape
        return (row, col) if 0 <= row < rows and 0 <= col < cols else None

    def _on_mouse_moved(self, scene_pos) -> None:
        cell = self._cell_at(scene_pos)
        self._readout.setText(self.cell_text(*cell) if cell else " ")

    def _on_mouse_clicked(self, event) -> None:
        cell = self._cell_at(event.scenePos())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(*cell)


class ImageOverlay(QWidget):
    """Weights on a (rows, cols) grid of patches, coloured and alpha-blended over the image
    (3, H, W) they belong to, with a colour bar and a marker on one patch. ``image`` (the
    blended (H, W, 3) array) and ``weights`` (upsampled to (H, W)) are what is drawn. Like
    :class:`Heatmap`, given uniform attention it marks it and colours deviation from it."""

    cell_clicked = Signal(int, int)  # patch row, patch column

    def __init__(self, *, value_name: str = "weight", alpha: float = 0.55,
                 colormap: str = COLORMAP, parent: QWidget | None = None):
        super().__init__(parent)
        self._alpha = alpha
        self._colormap = colormap
        self._luts = {name: pg.colormap.get(name).getLookupTable(nPts=256, alpha=False)
                      for name in (colormap, DIVERGING)}
        self._grid = (1, 1)
        self.image = np.zeros((0, 0, 3), dtype=np.uint8)
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self._canvas = white_canvas()
        self.view_box = self._canvas.addViewBox(row=0, col=0, lockAspect=True, invertY=True,
                                                enableMouse=False, enableMenu=False)
        self._item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self._item)
        self._marker = _outline()
        self.view_box.addItem(self._marker)
        # a region of the image (a composite's captioned half): dashed black, apart from the
        # red patch marker and from the diverging map's red and blue
        self._region = _outline(Qt.GlobalColor.black, Qt.PenStyle.DashLine)
        self._region.setVisible(False)
        self.view_box.addItem(self._region)
        self.region: tuple[int, int] | None = None  # the outlined patch columns
        self.color_bar = _color_bar(colormap, value_name, 10)
        self._canvas.addItem(self.color_bar, row=0, col=1)
        self.uniform_mark = ColorBarMark(self.color_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._canvas)
        self._canvas.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def set_data(self, image: np.ndarray | None, cells: np.ndarray,
                 levels: tuple[float, float] | None = None,
                 uniform: float | None = None) -> None:
        """``cells`` (rows, cols) over ``image`` (3, H, W) uint8, or over grey when None;
        levels default to 0..max, or, given ``uniform``, to a diverging scale centred on it."""
        self._grid = cells.shape
        if image is None:
            image = np.full((3, cells.shape[0] * 8, cells.shape[1] * 8), 128, np.uint8)
        self.weights = upsample(cells, image.shape[1:])
        colormap = self._colormap
        if levels is None and uniform is not None:
            levels, colormap = centred_levels(cells, uniform), DIVERGING
        lo, hi = levels or (0.0, float(cells.max()) if cells.size else 0.0)
        hi = hi if hi > lo else lo + 1e-9
        self.image = blend_over(image, self.weights, (lo, hi), self._luts[colormap],
                                self._alpha)
        h, w = self.weights.shape
        self._item.setImage(self.image, autoLevels=False, levels=(0, 255))
        self._item.setRect(QRectF(0, 0, w, h))
        if colormap != self.color_bar.colorMap().name:
            self.color_bar.setColorMap(pg.colormap.get(colormap))
        self.color_bar.setLevels((lo, hi))
        self.uniform_mark.set(uniform)
        self.view_box.setRange(xRange=(0, w), yRange=(0, h), padding=0)

    def mark(self, row: int, col: int) -> None:
        """Outline one patch."""
        (h, w), (rows, cols) = self.weights.shape, self._grid
        self._marker.setRect(QRectF(col * w / cols, row * h / rows, w / cols, h / rows))

    def mark_columns(self, columns: tuple[int, int] | None) -> None:
        """Outline patch columns ``first`` to ``stop - 1`` over every row (a composite's
        captioned half); None: no outline."""
        self.region = columns
        self._region.setVisible(columns is not None)
        if columns is not None:
            (h, w), (_, cols) = self.weights.shape, self._grid
            first, stop = columns
            self._region.setRect(QRectF(first * w / cols, 0, (stop - first) * w / cols, h))

    def region_rect(self) -> QRectF | None:
        """The outlined region in image pixels (None: none shown)."""
        return self._region.rect() if self._region.isVisible() else None

    def scene_pos_of(self, y: float, x: float) -> QPointF:
        """Where image pixel (y, x) is in the scene (for tests that click)."""
        return self.view_box.mapViewToScene(QPointF(x, y))

    def _on_mouse_clicked(self, event) -> None:
        (h, w), (rows, cols) = self.weights.shape, self._grid
        if not h or event.button() != Qt.MouseButton.LeftButton:
            return
        p = self.view_box.mapSceneToView(event.scenePos())
        r, c = int(math.floor(p.y() * rows / h)), int(math.floor(p.x() * cols / w))
        if 0 <= r < rows and 0 <= c < cols:
            self.cell_clicked.emit(r, c)
