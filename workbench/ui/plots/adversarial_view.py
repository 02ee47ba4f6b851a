"""The adversarial game at a glance (document 3.2, 4.2): what D outputs on real, generated
and mismatched pairs, D's and G's losses against their equilibrium, and the generator's
latest pairs as one image mosaic with each sample's top words.

At the equilibrium of the min-max game D outputs 1/2 on everything, so each of its BCE terms
and G's loss sit at -log(1/2) = ln 2; the plots draw those lines to read the curves against.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.training.events import FitStarted, GeneratedSamples, StepLogged
from .loss_plot import DEFAULT_SMOOTHING, CurvePanel, style_plot
from .series import step_columns

D_TERMS = ("d_real", "d_fake", "d_wrong")
LOSS_TERMS = ("d_loss", "g_loss")
# Align mode (a modality discriminator) logs D's output on text and on image vectors under
# the same names; its steps carry "pair", generate mode's never do.
ALIGN_LABELS = {"d_real": "D(text)", "d_fake": "D(image)"}
GENERATE_LABELS = {"d_real": "D(real)", "d_fake": "D(fake)", "d_wrong": "D(wrong)"}
PAD_VALUE = 235  # light grey between the tiles


def mosaic(images: np.ndarray, pad: int = 2) -> tuple[np.ndarray, int]:
    """Tile ``images`` (K, 3, S, S) row by row into one (H, W, 3) uint8 picture; returns it
    and the number of columns."""
    k, _, s, _ = images.shape
    cols = max(1, math.ceil(math.sqrt(k)))
    rows = max(1, math.ceil(k / cols))
    out = np.full((rows * (s + pad) + pad, cols * (s + pad) + pad, 3), PAD_VALUE, np.uint8)
    for i in range(k):
        r, c = divmod(i, cols)
        y, x = pad + r * (s + pad), pad + c * (s + pad)
        out[y:y + s, x:x + s] = images[i].transpose(1, 2, 0)
    return out, cols


class AdversarialView(QWidget):
    """D(real) / D(fake) / D(wrong) per step with the 0.5 line, D and G loss with the ln 2
    line, and the latest generated samples."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        panels = []
        for col, label in enumerate(("D output (P real)", "D and G loss")):
            cell = pg.GraphicsWidget()  # the legend, above its plot: it never hides a curve
            self.graphics.addItem(cell, row=0, col=col)
            plot = self.graphics.addPlot(row=1, col=col)
            style_plot(plot, label)
            # D's outputs are probabilities: the full 0..1 range, always. The loss plot's
            # step axis is linked to the outputs plot's, which follows the steps.
            panels.append(CurvePanel(plot, legend_cell=cell, legend_columns=3,
                                     smoothing=DEFAULT_SMOOTHING, follow_x=col == 0,
                                     fixed_y=(0.0, 1.0) if col == 0 else None))
        self.outputs, self.losses = panels
        d_plot, loss_plot = self.outputs.plot, self.losses.plot
        loss_plot.setXLink(d_plot)
        # The equilibrium lines, labelled on a right axis so no label covers a curve.
        dashed = pg.mkPen(90, 90, 90, width=1, style=Qt.PenStyle.DashLine)
        self.half_line = pg.InfiniteLine(0.5, angle=0, pen=dashed, movable=False)
        self.ln2_line = pg.InfiniteLine(math.log(2), angle=0, pen=dashed, movable=False)
        for plot, line, text in ((d_plot, self.half_line, "0.5"),
                                 (loss_plot, self.ln2_line, "ln 2")):
            plot.addItem(line)
            plot.showAxis("right")
            axis = plot.getAxis("right")
            axis.setTicks([[(line.value(), text)], []])
            axis.setPen("k")
            axis.setTextPen("k")
            line.setToolTip("equilibrium: D cannot tell real from generated")

        # The samples: one ImageItem holding the mosaic, in a view with square pixels.
        self.samples_view = pg.GraphicsLayoutWidget()
        self.samples_view.setBackground("w")
        self.samples_box = self.samples_view.addViewBox(lockAspect=True, invertY=True,
                                                        enableMouse=False)
        self.image_item = pg.ImageItem(axisOrder="row-major", levels=(0, 255))
        self.samples_box.addItem(self.image_item)
        self.caption = QLabel("No generated samples yet")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        self.caption.setFixedHeight(2 * self.caption.fontMetrics().lineSpacing() + 4)
        samples = QVBoxLayout()
        samples.setContentsMargins(0, 0, 0, 0)
        samples.addWidget(self.samples_view, 1)
        samples.addWidget(self.caption)
        self.samples_panel = QWidget()
        self.samples_panel.setLayout(samples)
        self.samples_panel.setMinimumWidth(180)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 3)
        layout.addWidget(self.samples_panel, 1)

        self.samples: GeneratedSamples | None = None
        self._cols = 1
        self._tile = 0  # tile size + padding, in mosaic pixels
        self._mode_known = False
        self._mouse_proxy = pg.SignalProxy(self.samples_view.scene().sigMouseMoved,
                                           rateLimit=30, slot=self._on_mouse_moved)

    def reset(self, started: FitStarted | None = None) -> None:
        for panel in (self.outputs, self.losses):
            panel.clear()
        self._mode_known = False
        self.samples = None
        self.image_item.clear()
        self.caption.setText("No generated samples yet")
        self.samples_view.setToolTip("")

    def set_smoothing(self, weight: float) -> None:
        for panel in (self.outputs, self.losses):
            panel.set_smoothing(weight)

    def add_steps(self, steps: list[StepLogged]) -> None:
        if not steps:
            return
        x, columns = step_columns(steps)
        if not self._mode_known:
            self._mode_known = True
            self.outputs.labels = dict(ALIGN_LABELS if "pair" in columns else GENERATE_LABELS)
        self.outputs.add_steps(x, {n: columns[n] for n in D_TERMS if n in columns})
        self.losses.add_steps(x, {n: columns[n] for n in LOSS_TERMS if n in columns})

    def set_samples(self, samples: GeneratedSamples) -> None:
        """Show the generator's latest pairs: the images as one mosaic, words on hover."""
        self.samples = samples
        words = _sample_texts(samples)
        self.samples_view.setToolTip(
            f"Generated at epoch {samples.epoch}, row by row:\n" +
            "\n".join(f"{i + 1}. {w}" for i, w in enumerate(words)))
        if samples.images is None or len(samples.images) == 0:
            self.image_item.clear()
            self.caption.setText(f"Epoch {samples.epoch}: generated features, no images. "
                                 + "; ".join(words[:4]))
            return
        picture, self._cols = mosaic(samples.images)
        resized = self.image_item.image is None or self.image_item.image.shape != picture.shape
        self.image_item.setImage(picture, autoLevels=False)
        self._tile = samples.images.shape[-1] + 2
        if resized:
            self.samples_box.autoRange(padding=0.0)
        what = ("the nearest real images to the generated image features"
                if samples.nearest else f"{len(samples.images)} generated pairs")
        self.caption.setText(f"Epoch {samples.epoch}: {what} (hover one for its "
                             f"{'nearest real caption' if samples.captions else 'top words'})")

    def _on_mouse_moved(self, args) -> None:
        s = self.samples
        if s is None or s.images is None or not self._tile:
            return
        p = self.samples_box.mapSceneToView(args[0])
        col, row = int(p.x() // self._tile), int(p.y() // self._tile)
        i = row * self._cols + col
        if 0 <= col < self._cols and 0 <= i < len(s.images) and p.y() >= 0:
            texts = _sample_texts(s)
            self.caption.setText(f"Sample {i + 1}: "
                                 f"{texts[i] if i < len(texts) else '(no words)'}")


def _sample_texts(samples: GeneratedSamples) -> list[str]:
    """Each sample's text as a person reads it: its top words, or, for generated text
    features, the nearest real caption."""
    if samples.captions:
        return [f"≈ “{c}” (nearest real caption)" for c in samples.captions]
    return [", ".join(w) for w in samples.words]


def _preview_samples(k: int = 16, size: int = 32) -> GeneratedSamples:
    yy, xx = np.mgrid[:size, :size] / size
    images = np.stack([np.stack([(np.sin(6 * xx + i) * 127 + 128),
                                 (np.cos(5 * yy * (1 + i % 3)) * 127 + 128),
                                 np.full((size, size), 20.0 * i)]) for i in range(k)])
    return GeneratedSamples(3, 300, images.astype(np.uint8),
                            [["face", "smiling", "cat", "heart"][i % 4:] + ["eyes"]
                             for i in range(k)])


def _preview_steps(n: int = 600) -> list[StepLogged]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(1, n + 1):
        t = k / n
        real = 0.5 + 0.3 * np.exp(-3 * t) + rng.normal(0, 0.04)
        fake = 0.5 - 0.35 * np.exp(-3 * t) + rng.normal(0, 0.04)
        out.append(StepLogged(k, 1 + k // 100, 1.0, {
            "loss": 1.4, "d_loss": -0.5 * (np.log(real) + np.log(1 - fake)),
            "g_loss": -np.log(max(fake, 1e-3)), "d_real": real, "d_fake": fake,
            "d_wrong": 0.5 * (real + fake) + rng.normal(0, 0.03)}, 1e-3, 64, k * 0.1))
    return out


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = AdversarialView()
    view.add_steps(_preview_steps())
    view.set_samples(_preview_samples())
    view.resize(900, 320)
    view.show()
    app.exec()
    # Free the Qt objects before Python tears down: PySide6 can crash at exit otherwise.
    view.deleteLater()
    app.processEvents()
