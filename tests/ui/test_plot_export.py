"""File > Save plot of this tab, as a user does it: with the Training tab's curves zoomed in
so they run far past the view, the PNG is the plot's on-screen size times the export scale
and the SVG's page is its on-screen size (it used to be a failed PNG with thousands of
"QPainter … not active" lines and an SVG page metres wide); the Embeddings tab's picture
carries its legend."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage

from workbench.core.training.events import EmbeddingSnapshot, EpochEnded, FitStarted, StepLogged
from workbench.ui import plot_export
from workbench.ui.main_window import MainWindow
from workbench.ui.session import Session

MM_PER_PX = 25.4 / plot_export.SVG_DPI


@pytest.fixture
def window(qtbot):
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.confirm_close = False  # closing asks over unsaved settings: not what is tested here
    win.close()


def curves(win: MainWindow, steps: int = 2000, per_epoch: int = 100) -> None:
    """A run's worth of curves in the Training tab, as an opened run shows them."""
    win.training_view.reset(FitStarted("classifier", "late", steps // per_epoch, 1, per_epoch,
                                       800, 200, "cpu", 1000, primary="accuracy"))
    x = np.arange(1, steps + 1)
    loss = 2.5 * np.exp(-x / 400) + 0.2 + 0.05 * np.sin(x / 7)
    win.training_view.add_steps([StepLogged(int(s), 1 + (int(s) - 1) // per_epoch, 0.5,
                                            {"loss": float(v)}, 1e-3, 8, s * 0.01)
                                 for s, v in zip(x, loss)])
    win.training_view.add_epochs([EpochEnded(e, e * per_epoch, {"loss": 1.0},
                                             {"loss": 1.1, "accuracy": e / 30}, e * 1.0)
                                  for e in range(1, steps // per_epoch + 1)])


def svg_page(path) -> tuple[float, float, list[float]]:
    """The SVG's page width and height in CSS pixels, and its viewBox."""
    root = ET.parse(path).getroot()

    def px(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)\s*(mm|px)?", value).groups()
        return float(number) / MM_PER_PX if unit == "mm" else float(number)
    box = [float(v) for v in (root.get("viewBox") or root.get("viewbox")).split()]
    return px(root.get("width")), px(root.get("height")), box


def test_a_zoomed_training_plot_saves_at_its_size(qtbot, window, tmp_path, monkeypatch):
    curves(window)
    window.select_tab("training")
    graphics = window.training_view.loss_plot.graphics
    vb = window.training_view.loss_plot.losses.plot.vb
    vb.setRange(xRange=(500, 540), yRange=(0.9, 1.1), padding=0)  # the data runs far past
    qtbot.waitUntil(lambda: abs(vb.viewRange()[0][1] - 540) < 1)
    scene = graphics.scene()
    assert scene.itemsBoundingRect().width() > 5 * graphics.width()  # the trigger
    size = graphics.size()
    exports = window.exports

    monkeypatch.setattr(exports, "ask_save", lambda *a: str(tmp_path / "training.png"))
    png = exports.export_plot()
    assert png is not None, window.statusBar().currentMessage()
    image = QImage(str(png))
    assert (image.width(), image.height()) == (size.width() * 2, size.height() * 2)
    # The zoomed-in curve is in it: the loss colour, not a blank page.
    colour = window.training_view.loss_plot.losses.steps["loss"].colour
    wanted = pg.mkColor(colour).rgb()
    assert any(image.pixel(x, y) == wanted
               for x in range(0, image.width(), 2) for y in range(0, image.height() // 2))

    monkeypatch.setattr(exports, "ask_save", lambda *a: str(tmp_path / "training.svg"))
    svg = exports.export_plot()
    assert svg is not None, window.statusBar().currentMessage()
    width, height, box = svg_page(svg)
    assert width == pytest.approx(size.width(), abs=0.5)
    assert height == pytest.approx(size.height(), abs=0.5)
    assert box == pytest.approx([0, 0, size.width(), size.height()], abs=0.5)
    assert "clip-path" in svg.read_text("utf-8")  # the curves end at the plot's edge


def test_the_embeddings_tab_picture_has_its_legend(qtbot, window, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    text = rng.normal(size=(3, 8))[labels] * 4 + rng.normal(size=(60, 8))
    snap = EmbeddingSnapshot(1, 10, np.arange(60), text.astype(np.float32),
                             (text + 0.1).astype(np.float32), None, labels,
                             ["cat", "dog", "bird"])
    view = window.embedding_view
    window.select_tab("embeddings")
    with qtbot.waitSignal(view.projected, timeout=20_000):
        view.add_snapshot(snap)
    added = []
    real = plot_export.legend_added

    def spy(plot, entries):
        added.append(entries)
        return real(plot, entries)
    monkeypatch.setattr("workbench.ui.plots.embedding_view.legend_added", spy)
    monkeypatch.setattr(window.exports, "ask_save", lambda *a: str(tmp_path / "emb.png"))
    png = window.exports.export_plot()
    assert png is not None, window.statusBar().currentMessage()
    assert [text for _, _, text in added[0]] == ["text", "image", "cat", "dog", "bird"]
    image = QImage(str(png))
    assert (image.width(), image.height()) == (view.canvas.width() * 2,
                                               view.canvas.height() * 2)
    assert not any(isinstance(i, pg.LegendItem) for i in view.canvas.scene().items())
    monkeypatch.setattr(window.exports, "ask_save", lambda *a: str(tmp_path / "emb.svg"))
    text = window.exports.export_plot().read_text("utf-8")
    assert all(f">{name}<" in text for name in ("cat", "dog", "bird"))
