"""Live training curves: one curve per loss term (train solid, validation dashed with markers),
TensorBoard-style smoothing with the raw curve faint behind, a log-y toggle and a readout of
the values under the mouse.

Loss terms share the loss axis; terms on other scales (``temperature``, D's outputs) and the
validation metrics go to a smaller metrics plot below it, on the same step axis. Curves are
created once per term; every call makes one ``setData`` per curve it changed
(DESIGN.md, "Threading").
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from ...core.evaluation.names import MEDIAN_KEYS, POOLED_MEDIAN, RERANKED
from ...core.training.events import EpochEnded, FitStarted, StepLogged
from .live_curve import LiveCurve
from .series import DEFAULT_CAP, Series, step_columns
from .stepped_range import Bounds, RangeFollower

# matplotlib's tab10: distinct, readable on white, familiar from papers.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
# Preferred colour (palette index) of every known term, so a term keeps its colour across
# runs and algorithms; within one plot a clash moves the later term to the next free colour.
TERM_COLOURS = {
    "loss": 0, "infonce_t2i": 1, "infonce_i2t": 2, "recon_text": 1, "recon_image": 2,
    "corr": 4, "d_loss": 3, "g_loss": 4, "pair": 1, "match": 2, "edge": 1, "node": 2,
    "temperature": 7, "d_real": 2, "d_fake": 3, "d_wrong": 1,
    "accuracy": 0, "macro_f1": 1, "t2i_r1": 0, "t2i_r5": 1, "t2i_r10": 2, "i2t_r1": 3,
    "i2t_r5": 4, "i2t_r10": 5, "weight_text": 6, "weight_image": 8,
    "accuracy_text_only": 7, "accuracy_image_only": 9, "mean_recall": 3,
}
# Step terms that are not losses: a temperature or D's mean outputs (probabilities).
NON_LOSS_TERMS = frozenset({"temperature", "d_real", "d_fake", "d_wrong"})
# Ranks in 1..N: in the metrics table only (on the 0..1 axis of the other metrics they would
# hide everything else).
UNPLOTTED_METRICS = frozenset({*MEDIAN_KEYS, POOLED_MEDIAN,
                               *(f"{RERANKED}{key}" for key in MEDIAN_KEYS)})
DEFAULT_SMOOTHING = 0.6  # TensorBoard's default
MIN_PLOT_SIZE = QSize(260, 180)  # the curves' smallest: readable ticks, a visible shape
RAW_ALPHA = 70  # the unsmoothed curve behind the smoothed one
GRID_GREY = (217, 217, 217)  # grid and tick lines


def style_plot(plot: pg.PlotItem, left: str, bottom: str = "step") -> None:
    """Black axes and labels for a plot on a white background; grid lines for reading."""
    for name, text in (("left", left), ("bottom", bottom)):
        axis = plot.getAxis(name)
        axis.setPen("k")
        axis.setTextPen("k")
        axis.enableAutoSIPrefix(False)  # "0.8", not "800 (x0.001)"
        if text:
            plot.setLabel(name, text)
    plot.showGrid(x=True, y=True, alpha=0.15)
    for name in ("left", "bottom"):
        # The grid opaque, in the grey that black at 15% makes on white: pyqtgraph draws it
        # translucent by default, and blending those lines over the whole plot was half of
        # every repaint (``workbench bench``, plots row).
        axis = plot.getAxis(name)
        axis.setTickPen(pg.mkPen(GRID_GREY))
        axis.setStyle(tickAlpha=255, maxTickLevel=0)  # opaque minor lines would crowd it
        # Behind the curves, as matplotlib draws it: pyqtgraph puts axes (and so the grid)
        # above the data, and an opaque grid line hid a flat curve that lay on a tick.
        axis.setZValue(-1)
    # Peak downsampling to the view's pixel width, and only what is in view is processed.
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)


def configure_curve(curve: pg.PlotDataItem) -> pg.PlotDataItem:
    # Peak downsampling to one bin per pixel (pyqtgraph's default is 5): the min and max of
    # each bin still draw the exact envelope, with a fifth of the line segments to paint
    # (a wide pen's segments were most of a frame with 100,000 steps: ``workbench bench``).
    curve.opts["autoDownsampleFactor"] = 1.0
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    return curve


class LossAxis(pg.AxisItem):
    """A value axis whose log mode labels each tick once, and only 1, 2 and 5 times a power
    of ten when ticks are dense: pyqtgraph labels every minor tick (0.06 0.07 0.08 overlap)
    and draws the decades twice, as major and as minor ticks."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        levels = super().logTickValues(minVal, maxVal, size, stdTicks)
        seen: set[float] = set()
        out = []
        for spacing, values in levels:
            out.append((spacing, [v for v in values if round(v, 9) not in seen]))
            seen.update(round(v, 9) for v in values)
        return out

    def logTickStrings(self, values, scale, spacing):
        strings = super().logTickStrings(values, scale, spacing)
        if len(values) <= 6:
            return strings
        mantissas = [round(10 ** (v - np.floor(v)), 3) for v in values]
        return [s if m in (1.0, 2.0, 5.0, 10.0) else "" for s, m in zip(strings, mantissas)]


class ColourBook:
    """Colours of the curves of one plot: a term's preferred colour unless taken."""

    def __init__(self):
        self._of: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self._of:
            start = TERM_COLOURS.get(name, zlib.crc32(name.encode()) % len(PALETTE))
            used = set(self._of.values())
            free = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))]
            self._of[name] = next((c for c in free if c not in used), free[0])
        return self._of[name]

    def clear(self) -> None:
        self._of.clear()


def over_white(colour: str, alpha: int):
    """The opaque colour that ``colour`` at ``alpha`` (0-255) makes on the white background:
    blending translucent lines costs a read of every pixel they cross, a large part of each
    repaint with thousands of segments a curve (``workbench bench``, plots row)."""
    c, a = pg.mkColor(colour), alpha / 255.0
    return pg.mkColor(*(round(255 - (255 - v) * a) for v in (c.red(), c.green(), c.blue())))


class StepCurve:
    """A train term from steps: the smoothed curve, and the raw one faint behind it."""

    def __init__(self, plot: pg.PlotItem, name: str, colour: str, smoothing: float,
                 cap: int):
        self.name = name
        self.colour = colour
        self.series = Series(cap=cap, smoothing=smoothing)
        # Light curve items (``live_curve``): these are redrawn at every frame of a run.
        self.raw = LiveCurve(pg.mkPen(over_white(colour, RAW_ALPHA), width=1))
        self.raw.setZValue(-1)
        # One pixel wide: Qt strokes wider pens as polygons, several times slower per segment.
        self.main = LiveCurve(pg.mkPen(colour, width=1), name=name)
        plot.addItem(self.raw)
        plot.addItem(self.main)
        self.raw.setVisible(smoothing > 0)
        # Hiding a term (a click on its legend entry) hides its raw curve too.
        self.main.visibleChanged.connect(self._on_visible_changed)

    def _on_visible_changed(self) -> None:
        self.raw.setVisible(self.series.smoothing > 0 and self.main.isVisible())

    def redraw(self) -> None:
        s = self.series
        if s.smoothing > 0:
            self.raw.show_data(s.x, s.y)
            self.main.show_data(s.x, s.smoothed)
        else:
            self.main.show_data(s.x, s.y)

    def set_smoothing(self, weight: float) -> None:
        self.series.set_smoothing(weight)
        self._on_visible_changed()
        self.redraw()

    def readout(self, x: float) -> str | None:
        got = self.series.value_at(x) if self.main.isVisible() else None
        if got is None or self.series.smoothing == 0:
            return None if got is None else fmt(got[1])
        return f"{fmt(got[2])} (raw {fmt(got[1])})"


class EpochCurve:
    """A validation value per epoch, at the epoch's last step: dashed with markers."""

    def __init__(self, plot: pg.PlotItem, name: str, colour: str):
        self.name = name
        self.colour = colour
        self.series = Series(cap=DEFAULT_CAP)
        self.main = configure_curve(pg.PlotDataItem(
            pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine), symbol="o",
            symbolSize=6, symbolPen=pg.mkPen(colour), symbolBrush=pg.mkBrush(colour),
            name=name))
        plot.addItem(self.main)

    def redraw(self) -> None:
        self.main.setData(self.series.x, self.series.y)

    def readout(self, x: float) -> tuple[float, str] | None:
        """(step, value) of the validation point nearest to ``x``."""
        got = self.series.value_at(x) if self.main.isVisible() else None
        return None if got is None else (got[0], fmt(got[1]))


def fmt(v: float) -> str:
    return f"{v:.3g}"


class CurvePanel:
    """One PlotItem with its legend, crosshair, and curves created on first use.

    The legend sits in ``legend_cell`` (a cell of the layout beside or above the plot, so it
    never hides a curve) or, without one, inside the plot's top-right corner. A validation
    curve is named "val <term>" when the term also has a train curve here, else "<term>"."""

    def __init__(self, plot: pg.PlotItem, *, legend_cell: pg.GraphicsWidget | None = None,
                 legend_columns: int = 1, smoothing: float = 0.0, cap: int = DEFAULT_CAP,
                 follow_x: bool = True, fixed_y: tuple[float, float] | None = None):
        self.plot = plot
        self.labels: dict[str, str] = {}  # a term's name in the legend, when not its own
        self.legend_cell = legend_cell
        opts = dict(verSpacing=-6, labelTextColor="k", labelTextSize="8pt",
                    colCount=legend_columns)
        if legend_cell is None:
            self.legend = plot.addLegend(offset=(-8, 8), brush=pg.mkBrush(255, 255, 255, 210),
                                         pen=pg.mkPen(200, 200, 200), **opts)
        else:
            self.legend = pg.LegendItem(size=(1, 1), **opts)  # sized in _add_to_legend
            self.legend.setParentItem(legend_cell)
        self.colours = ColourBook()
        self.steps: dict[str, StepCurve] = {}
        self.epochs: dict[str, EpochCurve] = {}
        self.smoothing = smoothing
        self.cap = cap
        self.crosshair = pg.InfiniteLine(angle=90, movable=False,
                                         pen=pg.mkPen(120, 120, 120, 160, width=1))
        self.crosshair.setVisible(False)
        plot.addItem(self.crosshair, ignoreBounds=True)
        # The view follows the curves in steps (``stepped_range``): follow_x=False for a
        # plot whose step axis is linked to another's.
        self.range = RangeFollower(plot, self.data_bounds, follow_x=follow_x, fixed_y=fixed_y)

    def clear(self) -> None:
        for c in itertools.chain(self.steps.values(), self.epochs.values()):
            for item in (c.main, getattr(c, "raw", None)):
                if item is not None:
                    self.plot.removeItem(item)
        self.legend.clear()
        self.steps.clear()
        self.epochs.clear()
        self.colours.clear()
        self.crosshair.setVisible(False)
        if self.legend_cell is not None:
            self.legend_cell.setMinimumSize(0, 0)
        self.range.restart()

    def data_bounds(self) -> Bounds | None:
        """The extent of the visible curves' points in view coordinates (on a log value
        axis, log10 of the positive values), or None when nothing is shown."""
        log_y = self.plot.vb.state["logMode"][1]
        xs, ys = [], []
        for c in itertools.chain(self.steps.values(), self.epochs.values()):
            s = c.series
            if not len(s) or not c.main.isVisible():
                continue
            xs += (s.x[0], s.x[-1])
            shown = (False,) if isinstance(c, EpochCurve) or s.smoothing == 0 else (True, False)
            for smoothed in shown:  # every frame: the series keeps the extents as points arrive
                lo, hi = s.extent(smoothed=smoothed, positive=log_y)
                if lo is not None:
                    ys += (lo, hi)
        if not ys:
            return None
        y0, y1 = min(ys), max(ys)
        if log_y:
            y0, y1 = np.log10(y0), np.log10(y1)
        return min(xs), max(xs), float(y0), float(y1)

    def step_curve(self, name: str) -> StepCurve:
        if name not in self.steps:
            self.steps[name] = StepCurve(self.plot, self.labels.get(name, name),
                                         self.colours(name), self.smoothing, self.cap)
            self._add_to_legend(self.steps[name].main)
            self.steps[name].main.visibleChanged.connect(self.range.update)
        return self.steps[name]

    def epoch_curve(self, name: str) -> EpochCurve:
        if name not in self.epochs:
            label = self.labels.get(name, name)
            self.epochs[name] = EpochCurve(
                self.plot, f"val {label}" if name in self.steps else label, self.colours(name))
            self._add_to_legend(self.epochs[name].main)
            self.epochs[name].main.visibleChanged.connect(self.range.update)
        return self.epochs[name]

    def _add_to_legend(self, curve: pg.PlotDataItem) -> None:
        if self.legend_cell is not None:  # a plot's own legend adds its named items itself
            self.legend.addItem(curve, curve.name())
            # Size the legend from its rows' preferred heights: its own updateSize sums the
            # current, already stretched, heights and so grows with every entry.
            size = self.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
            self.legend.setGeometry(0, 0, size.width(), size.height())
            self.legend_cell.setMinimumSize(size.width() + 4, size.height())

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        for c in self.steps.values():
            c.set_smoothing(weight)
        self.range.update()

    def add_steps(self, x: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        self._extend([self.step_curve(name) for name in columns], x, columns.values())

    def add_epoch_values(self, x: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        self._extend([self.epoch_curve(name) for name in columns], x, columns.values())

    def _extend(self, curves, x: np.ndarray, ys) -> None:
        for c, y in zip(curves, ys):
            c.series.extend(x, y)
        # The view first, from the series: each curve then draws once, clipped to the range
        # it is shown in, instead of again when the view moves to take in its new points.
        self.range.update()
        for c in curves:
            c.redraw()

    def nearest_step(self, x: float) -> float:
        """The stored step nearest to ``x`` (of the first train curve), so the readout names
        the step its values belong to; ``x`` itself when there is none."""
        got = next((c.series.value_at(x) for c in self.steps.values() if len(c.series)), None)
        return x if got is None else got[0]

    def readout(self, x: float) -> list[str]:
        """HTML lines: each visible train curve's value at step ``x``, then the validation
        values of the epoch nearest to it."""
        train = [(c.main.name(), c.colour, c.readout(x)) for c in self.steps.values()]
        val = [(c.main.name(), c.colour, c.readout(x)) for c in self.epochs.values()]
        val = [(name, colour, got) for name, colour, got in val if got is not None]
        lines = [" &nbsp; ".join(_entry(*e) for e in train if e[2] is not None)]
        if val:
            lines.append(f"<i>validation, step {val[0][2][0]:.0f}:</i> &nbsp; " + " &nbsp; ".join(
                _entry(name.removeprefix("val "), colour, got[1]) for name, colour, got in val))
        return [line for line in lines if line]


def _entry(name: str, colour: str, value: str) -> str:
    return f"<span style='color:{colour}'>&#9632;</span>&nbsp;{name}&nbsp;{value}"


class LossPlot(QWidget):
    """The Training tab's curves: losses on top, metrics and non-loss terms below."""

    def __init__(self, parent: QWidget | None = None, *, cap: int = DEFAULT_CAP):
        super().__init__(parent)
        self._steps_per_epoch = 0
        self._step_terms: set[str] = set()  # train terms seen, to pair val values with them
        self.excluded: frozenset[str] = frozenset()  # terms another view shows instead

        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("Logarithmic loss axis: shows progress late in training")
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(round(DEFAULT_SMOOTHING * 100))
        self.smoothing_slider.setMaximumWidth(220)
        self.smoothing_slider.setToolTip(
            "Exponential moving average of the train curves, as TensorBoard smooths them; "
            "the raw values stay visible faintly behind")
        self._smoothing_label = QLabel()
        controls = QHBoxLayout()
        for widget in (self.log_check, QLabel("   Smoothing"), self.smoothing_slider,
                       self._smoothing_label):
            controls.addWidget(widget)
        controls.addStretch(1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        panels = []
        for row, label in enumerate(("loss", "metric")):
            item = self.graphics.addPlot(row=row, col=0,
                                         axisItems={"left": LossAxis("left")})
            # The step axis is labelled once, below; equal axis widths align the two plots.
            style_plot(item, label, bottom="step" if row else "")
            item.getAxis("left").setWidth(48)
            cell = pg.GraphicsWidget()
            self.graphics.addItem(cell, row=row, col=1)
            # The metrics plot's step axis is linked to the loss plot's, which follows.
            panels.append(CurvePanel(item, legend_cell=cell, smoothing=DEFAULT_SMOOTHING,
                                     cap=cap, follow_x=row == 0))
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        # Below this the tick labels run into each other ("2040").
        self.graphics.setMinimumSize(MIN_PLOT_SIZE)
        self.losses, self.metrics = panels
        self.metrics.plot.setXLink(self.losses.plot)
        self._expect_metrics = True  # whether the run has validation metrics to plot

        self.readout = QLabel(" ")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setWordWrap(True)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # Room for three lines whatever is hovered, so the plots never jump.
        self.readout.setFixedHeight(3 * self.readout.fontMetrics().lineSpacing() + 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)

        self.log_check.toggled.connect(self._on_log_scale_changed)
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_changed)
        self._mouse_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_mouse_moved)
        self._on_smoothing_changed(self.smoothing_slider.value())

    @property
    def panels(self) -> tuple[CurvePanel, CurvePanel]:  # the loss plot, the metrics plot
        return self.losses, self.metrics

    @property
    def smoothing(self) -> float:
        return self.smoothing_slider.value() / 100.0

    def set_excluded_terms(self, names) -> None:
        """Leave the terms ``names`` out of the plots from now on (another view shows them)."""
        self.excluded = frozenset(names)

    def reset(self, started: FitStarted | None = None) -> None:
        """Forget every curve (a new run starts)."""
        for panel in self.panels:
            panel.clear()
        self._step_terms.clear()
        self._steps_per_epoch = started.steps_per_epoch if started is not None else 0
        # A run with a primary metric plots metrics from its first validation; one without
        # (a generating GAN) gets the metrics plot only if a curve comes for it.
        self._expect_metrics = started is None or started.primary is not None
        self._show_metrics_plot()
        self.readout.setText(" ")

    @property
    def metrics_shown(self) -> bool:
        return self.metrics.plot.isVisible()

    def _show_metrics_plot(self) -> None:
        """The metrics plot, or, with nothing to draw in it, all the height for the losses
        (the step axis labelled on the loss plot then)."""
        shown = self._expect_metrics or bool(self.metrics.steps or self.metrics.epochs)
        if shown == self.metrics.plot.isVisible():
            return
        # Out of the plots' grid, not only hidden: a hidden item keeps its room there.
        grid = self.graphics.ci.layout
        for col, item in enumerate((self.metrics.plot, self.metrics.legend_cell)):
            item.setVisible(shown)
            if shown:
                grid.addItem(item, 1, col)
            else:
                grid.removeItem(item)
        grid.setRowStretchFactor(1, 2 if shown else 0)
        if shown:
            self.losses.plot.showLabel("bottom", False)
        else:
            self.losses.plot.setLabel("bottom", "step")

    def add_steps(self, steps: list[StepLogged]) -> None:
        """Append a batch of steps: one ``setData`` per curve whose term they carry."""
        if not steps:
            return
        x, columns = step_columns(steps)
        self._step_terms.update(columns)
        for name in self.excluded.intersection(columns):
            del columns[name]
        for panel, names in self._split(columns, lambda n: n not in NON_LOSS_TERMS):
            panel.add_steps(x, names)
        self._show_metrics_plot()

    def add_epochs(self, epochs: list[EpochEnded]) -> None:
        """Validation values at each epoch's last step: a train term's validation value
        beside its train curve, other metrics in the metrics plot."""
        epochs = [e for e in epochs if e.val]
        if not epochs:
            return
        for e in epochs:
            self._step_terms.update(e.train)
        x = np.array([e.step for e in epochs], dtype=np.float64)
        names = dict.fromkeys(itertools.chain.from_iterable(e.val for e in epochs))
        columns = {n: np.array([e.val.get(n, np.nan) for e in epochs], dtype=np.float64)
                   for n in names if n not in UNPLOTTED_METRICS and n not in self.excluded}
        for panel, part in self._split(
                columns, lambda n: n in self._step_terms and n not in NON_LOSS_TERMS):
            panel.add_epoch_values(x, part)
        self._show_metrics_plot()

    def _split(self, columns: dict[str, np.ndarray], on_loss_axis):
        loss = {n: y for n, y in columns.items() if on_loss_axis(n)}
        other = {n: y for n, y in columns.items() if n not in loss}
        return [(p, part) for p, part in ((self.losses, loss), (self.metrics, other)) if part]

    def _on_log_scale_changed(self, checked: bool) -> None:
        self.losses.plot.setLogMode(y=checked)
        self.losses.plot.setLabel("left", "loss (log scale)" if checked else "loss")
        self.losses.range.restart()  # the value axis is in other units now

    def _on_smoothing_changed(self, value: int) -> None:
        weight = value / 100.0
        self._smoothing_label.setText(f"{weight:.2f}")
        for panel in self.panels:
            panel.set_smoothing(weight)

    def _on_mouse_moved(self, args) -> None:
        pos = args[0]
        for panel in self.panels:
            box = panel.plot.vb
            if box.sceneBoundingRect().contains(pos):
                self.show_readout(box.mapSceneToView(pos).x(), panel)
                return

    def show_readout(self, x: float, panel: CurvePanel | None = None) -> None:
        """Put the crosshair at step ``x`` and show the values there of the curves of
        ``panel`` (the plot under the mouse; the loss plot by default)."""
        panel = panel or self.losses
        x = panel.nearest_step(x)
        step = round(x)
        head = f"<b>step {step}</b>"
        if self._steps_per_epoch:
            head += f" &middot; epoch {step / self._steps_per_epoch:.2f}"
        for p in self.panels:
            p.crosshair.setPos(x)
            p.crosshair.setVisible(True)
        lines = panel.readout(x) or [""]
        lines[0] = head + " &nbsp; " + lines[0]
        self.readout.setText("<br>".join(lines))


def _preview_data(spe: int = 50, epochs: int = 12):
    """Decaying, noisy curves of an autoencoder-like run, with a validation pass per epoch."""
    rng = np.random.default_rng(0)
    k = np.arange(1, spe * epochs + 1)
    t = k / k[-1]
    terms = {"recon_text": 0.7 * np.exp(-4 * t) + 0.08, "recon_image": 0.4 * np.exp(-2.5 * t),
             "corr": 0.8 - 0.6 * (1 - np.exp(-3 * t)), "temperature": 0.07 + 0.05 * t}
    noisy = {n: v + rng.normal(0, 0.02, v.size) for n, v in terms.items()}
    noisy = {"loss": noisy["recon_text"] + noisy["recon_image"] + noisy["corr"], **noisy}
    steps = [StepLogged(int(i), (int(i) - 1) // spe + 1, 1.0,
                        {n: float(v[i - 1]) for n, v in noisy.items()}, 1e-3, 64, 0.0) for i in k]
    terms["loss"] = terms["recon_text"] + terms["recon_image"] + terms["corr"]
    ends = [EpochEnded(e, e * spe, {}, {**{n: float(v[e * spe - 1]) * 1.1 for n, v in terms.items()
                                         if n != "temperature"},
                                      "t2i_r1": 0.6 * (1 - np.exp(-3 * e / epochs))}, 0.0)
            for e in range(1, epochs + 1)]
    return steps, ends


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = LossPlot()
    view.resize(900, 600)
    steps, ends = _preview_data()
    view.reset(FitStarted("autoencoder", "attention", 12, 1, 50, 3200, 400, "cpu", 1000))
    view.add_steps(steps)
    view.add_epochs(ends)
    view.show()
    app.exec()
    # Free the Qt objects before Python tears down: PySide6 can crash at exit otherwise.
    view.deleteLater()
    app.processEvents()
