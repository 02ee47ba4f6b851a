"""Saving a plot as a picture: PNG (pixels, for slides) or SVG (vectors, for papers), chosen by
the file's suffix. What is saved is what is drawn: the plot's area as its view shows it, at
its on-screen size (a PNG twice that), with the items in pyqtgraph's export mode (a PNG
through pyqtgraph's ImageExporter, an SVG through Qt's SVG generator)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QRectF, QSizeF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QWidget

FORMATS = {".png": "PNG image", ".svg": "SVG drawing"}
FILE_FILTER = ";;".join(f"{name} (*{suffix})" for suffix, name in FORMATS.items())
PNG_SCALE = 2  # twice the on-screen size: sharp on slides and high-DPI screens
SVG_DPI = 96  # an SVG page of the on-screen size in CSS pixels


def _target(plot) -> QGraphicsItem | QGraphicsScene:
    """What the exporter renders: a plot item itself, or a whole graphics view's scene."""
    if isinstance(plot, (QGraphicsItem, QGraphicsScene)):
        return plot
    if isinstance(plot, pg.PlotWidget):
        return plot.getPlotItem()
    if isinstance(plot, pg.GraphicsView):  # GraphicsLayoutWidget and friends
        return plot.scene()
    inner = getattr(plot, "plot", None) or getattr(plot, "graphics", None)
    if inner is not None and inner is not plot:
        return _target(inner)
    raise TypeError(f"cannot export {type(plot).__name__}: expected a pyqtgraph plot item, "
                    "plot widget or graphics layout")


def _area(target: QGraphicsItem | QGraphicsScene) -> tuple[QRectF, QSizeF]:
    """The part of the scene that is saved and its size on screen, in pixels.

    A scene is saved as its view shows it. Not by its ``sceneRect()``: unless set, that is
    the bounding rectangle of every item the scene ever held, and the curves of a plot
    zoomed in reach far past the view, so the "plot" became thousands of pixels wide (a PNG
    too large to paint, an SVG page metres wide with the plot a speck in a corner).
    """
    if isinstance(target, QGraphicsScene):
        views = target.views()
        if not views:
            raise ValueError("the plot is not in a view: nothing to render")
        view = views[0]
        rect = view.viewportTransform().inverted()[0].mapRect(QRectF(view.rect()))
        return rect, QSizeF(view.size())
    if target.scene() is None or not target.scene().views():
        raise ValueError("the plot is not in a view: nothing to render")
    rect = target.sceneBoundingRect()
    return rect, rect.size()


def export_plot(plot, path: str | Path) -> Path:
    """Write ``plot`` (a ``PlotItem``, ``PlotWidget``, ``GraphicsLayoutWidget`` or a view
    with a ``plot``/``graphics`` attribute) to ``path``: PNG or SVG by its suffix. A PNG is
    the plot's on-screen size times :data:`PNG_SCALE`; an SVG's page is its on-screen size."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot save a plot as {suffix or 'a file without a suffix'}; "
                         f"use {' or '.join(FORMATS)}")
    target = _target(plot)
    rect, size = _area(target)
    if size.width() < 1 or size.height() < 1 or rect.width() <= 0 or rect.height() <= 0:
        raise ValueError("the plot has no size yet (it has never been laid out)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".svg":
        # Qt's SVG generator, not pyqtgraph's SVGExporter: that one cannot parse the
        # close-path command ("Z") Qt >= 6.10 writes (pyqtgraph issue #3485) and gives its
        # page no size; Qt's SVG 1.1 clips each plot's curves to its view box as on screen.
        _render_svg(target, rect, size, path)
    else:
        exporter = pg_exporters.ImageExporter(target)
        params = exporter.parameters()
        # Both sides set (the exporter derives one from the other, rounding down); whole
        # numbers of pixels.
        params["width"] = round(size.width() * PNG_SCALE)
        params.param("height").setValue(round(size.height() * PNG_SCALE),
                                        blockSignal=exporter.heightChanged)
        with _legends_scaled(target if isinstance(target, QGraphicsScene) else target.scene()):
            exporter.export(str(path))
    if not path.is_file():
        raise OSError(f"{path}: the exporter wrote nothing")
    return path


@contextmanager
def _legends_scaled(scene: QGraphicsScene) -> Iterator[None]:
    """Legends keep their pixel size whatever the zoom (``ItemIgnoresTransformations``), so
    in a PNG drawn at twice the size they came out half as big as the rest: while it is
    drawn, they scale with it."""
    flag = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
    legends = [item for item in scene.items()
               if isinstance(item, pg.LegendItem) and item.flags() & flag]
    for legend in legends:
        legend.setFlag(flag, False)
    try:
        yield
    finally:
        for legend in legends:
            legend.setFlag(flag, True)


@contextmanager
def legend_added(plot: pg.PlotItem, entries: Sequence[tuple[str, str, str]]
                 ) -> Iterator[pg.LegendItem]:
    """A legend in ``plot``'s top-right corner while the block runs, for saving a plot whose
    legend is a widget beside it (the Embeddings tab's), which a picture of the plot alone
    leaves out. ``entries``: (pyqtgraph symbol, colour, text) each."""
    legend = pg.LegendItem(offset=(-8, 8), brush=pg.mkBrush(255, 255, 255, 220),
                           pen=pg.mkPen(200, 200, 200), labelTextColor="k",
                           labelTextSize="8pt", verSpacing=-6)
    legend.setParentItem(plot.vb)  # where PlotItem.addLegend puts one
    for symbol, colour, text in entries:
        # A sample only: the legend draws its symbol; it is never added to the plot.
        legend.addItem(pg.ScatterPlotItem(symbol=symbol, size=9, brush=pg.mkBrush(colour),
                                          pen=pg.mkPen(255, 255, 255, 160, width=0.6)), text)
    try:
        yield legend
    finally:
        legend.clear()
        if legend.scene() is not None:
            legend.scene().removeItem(legend)


def _render_svg(target, rect: QRectF, size: QSizeF, path: Path) -> None:
    from PySide6.QtSvg import QSvgGenerator

    scene = target if isinstance(target, QGraphicsScene) else target.scene()
    background = scene.views()[0].backgroundBrush()  # the view's, which scene.render skips
    page = QRectF(0, 0, size.width(), size.height())
    generator = QSvgGenerator(QSvgGenerator.SvgVersion.Svg11)
    generator.setFileName(str(path))
    generator.setSize(page.size().toSize())
    generator.setViewBox(page)
    # The page in CSS pixels (96 to the inch), as a browser or Inkscape measures them.
    generator.setResolution(SVG_DPI)
    generator.setTitle(path.stem)
    painter = QPainter(generator)
    # Items told they are exported draw for it (scatter symbols as shapes, not pixmaps).
    items = pg_exporters.Exporter(target)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if background.style() != Qt.BrushStyle.NoBrush:
            painter.fillRect(page, background)
        items.setExportMode(True, {"antialias": True, "background": background.color(),
                                   "painter": painter, "resolutionScale": 1.0})
        scene.render(painter, page, rect)
    finally:
        items.setExportMode(False)
        painter.end()


def ask_and_export(parent: QWidget, plot, suggested: str = "plot.png") -> Path | None:
    """Ask where to save (PNG or SVG) and save; None when the user cancels."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    name, _ = QFileDialog.getSaveFileName(parent, "Save plot", suggested, FILE_FILTER)
    if not name:
        return None
    if Path(name).suffix.lower() not in FORMATS:
        name += ".png"
    try:
        return export_plot(plot, name)
    except (OSError, ValueError) as exc:
        QMessageBox.warning(parent, "Save plot", f"Could not save the plot: {exc}")
        return None


if __name__ == "__main__":
    import sys
    import tempfile

    import numpy as np
    from PySide6.QtWidgets import QApplication

    # python -m workbench.ui.plot_export: saves a sample plot as PNG and SVG and says where.
    app = QApplication(sys.argv)
    widget = pg.PlotWidget(background="w")
    widget.plot(np.arange(50), np.sin(np.arange(50) / 5), pen=pg.mkPen("#1f77b4", width=2))
    widget.resize(600, 400)
    widget.show()
    app.processEvents()
    out = Path(tempfile.mkdtemp())
    for suffix in FORMATS:
        print(export_plot(widget, out / f"sample{suffix}"))
    widget.close()
