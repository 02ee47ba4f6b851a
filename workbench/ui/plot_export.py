"""Saving a plot as a picture: PNG (pixels, for slides) or SVG (vectors, for papers), chosen by
the file's suffix, with pyqtgraph's own exporters so what is saved is what is drawn."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QWidget

FORMATS = {".png": "PNG image", ".svg": "SVG drawing"}
FILE_FILTER = ";;".join(f"{name} (*{suffix})" for suffix, name in FORMATS.items())
PNG_SCALE = 2  # twice the on-screen size: sharp on slides and high-DPI screens


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


def export_plot(plot, path: str | Path) -> Path:
    """Write ``plot`` (a ``PlotItem``, ``PlotWidget``, ``GraphicsLayoutWidget`` or a view
    with a ``plot``/``graphics`` attribute) to ``path``: PNG or SVG by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot save a plot as {suffix or 'a file without a suffix'}; "
                         f"use {' or '.join(FORMATS)}")
    target = _target(plot)
    rect = target.sceneRect() if isinstance(target, QGraphicsScene) else \
        target.sceneBoundingRect()
    scene = target if isinstance(target, QGraphicsScene) else target.scene()
    if scene is None or not scene.views():
        raise ValueError("the plot is not in a view: nothing to render")
    if rect.width() < 1 or rect.height() < 1:
        raise ValueError("the plot has no size yet (it has never been laid out)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".svg":
        try:
            pg_exporters.SVGExporter(target).export(str(path))
        except ValueError:
            # pyqtgraph <= 0.14 cannot parse the close-path command ("Z") that Qt >= 6.10
            # writes (pyqtgraph issue #3485): let Qt's SVG generator draw the scene itself.
            _render_svg(target, rect, path)
    else:
        exporter = pg_exporters.ImageExporter(target)
        # The height follows the width (same aspect ratio); sizes must be whole numbers.
        exporter.parameters()["width"] = int(rect.width() * PNG_SCALE)
        exporter.export(str(path))
    if not path.is_file():
        raise OSError(f"{path}: the exporter wrote nothing")
    return path


def _render_svg(target, rect: QRectF, path: Path) -> None:
    from PySide6.QtSvg import QSvgGenerator

    scene = target if isinstance(target, QGraphicsScene) else target.scene()
    size = QRectF(0, 0, rect.width(), rect.height())
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size.size().toSize())
    generator.setViewBox(size)
    generator.setTitle(path.stem)
    painter = QPainter(generator)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scene.render(painter, size, rect)
    finally:
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
