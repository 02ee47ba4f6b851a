"""The Training tab's plots: loss curves and metrics beside the metrics table and the run's
verdict (its primary metric beside chance; when it ends, its test score and warnings), and
the adversarial game's view, shown only while the run is adversarial."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import (QLabel, QScrollArea, QSizePolicy, QSplitter, QVBoxLayout,
                               QWidget)

from ...core.evaluation.rules import CHANCE_MARGIN
from ...core.evaluation.names import title
from ...core.training.events import EpochEnded, FitStarted, GeneratedSamples, StepLogged
from ..compact import scrolled
from .adversarial_view import D_TERMS, AdversarialView
from .loss_plot import LossPlot
from .metrics_table import MetricsTable

WARN = "#a04000"  # at chance, collapsed: orange-brown, readable on the window's grey

ADVERSARIAL = "adversarial"
WIDE = 760  # from this width the metrics sit beside the curves, below it under them
SIDE_WIDTH = 360  # the metrics' share of a wide view: names beside four numbers
MIN_TABLE_HEIGHT = 90  # the header and three rows
GAME_MIN_HEIGHT = 220  # the adversarial plots with readable axes


class TextArea(QScrollArea):
    """A word-wrapped label in a frameless, vertical-only scroll area whose preferred height
    is the label's at the area's width, at most ``MAX_SHARE`` of its parent's height."""

    MAX_SHARE = 0.5

    def __init__(self, label: QLabel):
        super().__init__()
        self.setWidget(label)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        label.installEventFilter(self)  # a new text: a new height

    def _text_height(self) -> int:
        label = self.widget()
        if not label.text():
            return 0
        width = self.viewport().width() if self.isVisible() else self.width()
        return label.heightForWidth(width)

    def sizeHint(self) -> QSize:
        height = self._text_height()
        parent = self.parentWidget()
        if parent is not None and parent.height() > 0:
            height = min(height, int(parent.height() * self.MAX_SHARE))
        return QSize(super().sizeHint().width(), height)

    def minimumSizeHint(self) -> QSize:
        # two lines before it scrolls: the primary metric beside chance stays readable
        return QSize(0, min(self._text_height(), 2 * self.fontMetrics().lineSpacing() + 8))

    def eventFilter(self, watched, event) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            self.updateGeometry()
        return False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()  # a wider area wraps into fewer lines


class TrainingView(QWidget):
    """Curves, metrics and (adversarial runs) the game, fed by a TrainingController."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = LossPlot()
        self.metrics_table = MetricsTable()
        # What the numbers mean: the primary metric against chance, then the test score and
        # the run's warnings when it ends.
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict.setContentsMargins(4, 2, 4, 4)
        self._live = ""  # the verdict's part about the running validation
        self._start_warnings: list[str] = []  # the data's, from FitStarted
        # Built for the first adversarial run (or when asked for): most runs never show it,
        # and its plots would add a tenth of a second to every start-up.
        self._adversarial_view: AdversarialView | None = None

        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        # As tall as its text (a finished run's warnings can run to several lines), up to
        # a share of the column; it scrolls beyond that rather than being cut off.
        self.verdict_area = TextArea(self.verdict)
        column.addWidget(self.verdict_area)
        column.addWidget(self.metrics_table, 1)
        # The metrics beside the curves, or under them in a narrow view (``_fit_layout``).
        self.top = top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.loss_plot)
        top.addWidget(side)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        top.setChildrenCollapsible(False)
        self.metrics_table.setMinimumHeight(MIN_TABLE_HEIGHT)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # Scrolled where the window is smaller than every part at its smallest (an
        # adversarial run's game under the curves and metrics at 800 x 600), not squashed.
        layout.addWidget(scrolled(self.splitter))

        self.loss_plot.smoothing_slider.valueChanged.connect(self._on_smoothing_changed)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_layout()

    def _fit_layout(self) -> None:
        """Metrics beside the curves from ``WIDE`` pixels (room for both: the metric names
        beside four numbers, and curves with readable ticks), under them below it."""
        top = self.top
        wide = self.width() >= WIDE
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if top.orientation() == orientation and top.sizes()[0]:
            return
        top.setOrientation(orientation)
        if wide:
            side = min(SIDE_WIDTH, self.width() * 2 // 5)
            top.setSizes([self.width() - side, side])
        else:  # the table tall enough for its rows of a typical run
            total = top.height() or self.height()
            top.setSizes([total - total * 9 // 25, total * 9 // 25])

    @property
    def adversarial_view(self) -> AdversarialView:
        if self._adversarial_view is None:
            view = AdversarialView()
            view.setMinimumHeight(GAME_MIN_HEIGHT)
            view.setVisible(False)
            view.set_smoothing(self.loss_plot.smoothing)
            self.splitter.addWidget(view)
            self.splitter.setStretchFactor(0, 3)
            self.splitter.setStretchFactor(1, 2)
            self._adversarial_view = view
        return self._adversarial_view

    @property
    def adversarial(self) -> bool:
        return self._adversarial_view is not None and not self._adversarial_view.isHidden()

    def connect_controller(self, controller) -> None:
        """Feed the views from ``controller``'s signals (a ``TrainingController``)."""
        controller.started.connect(self.reset)
        controller.steps_logged.connect(self.add_steps)
        controller.epochs_ended.connect(self.add_epochs)
        controller.samples_generated.connect(self.set_samples)

    def reset(self, started: FitStarted | None = None) -> None:
        """Clear every view for a new run; show the adversarial part for adversarial runs."""
        adversarial = started is not None and started.algorithm == ADVERSARIAL
        # D's outputs have their own plot in the adversarial view: not twice on screen.
        self.loss_plot.set_excluded_terms(D_TERMS if adversarial else ())
        self.loss_plot.reset(started)
        self.metrics_table.reset(started)
        # The data's warnings (too small a split, too few examples per label) stay under the
        # live figures for the whole run; the end's summary lists them with its own.
        self._start_warnings = [] if started is None else started.warnings + [
            f"note: {n}" for n in started.split_notes]
        self._live = self._primary_text(started)
        self.verdict.setText(self._with_warnings(self._live))
        if adversarial or self._adversarial_view is not None:
            first = self._adversarial_view is None
            self.adversarial_view.reset(started)
            self.adversarial_view.setVisible(adversarial)
            if first:  # curves above the game, 3 : 2, as the stretch factors share growth
                total = sum(self.splitter.sizes())
                self.splitter.setSizes([total * 3 // 5, total - total * 3 // 5])

    def add_steps(self, steps: list[StepLogged]) -> None:
        self.loss_plot.add_steps(steps)
        if self.adversarial:
            self.adversarial_view.add_steps(steps)

    def add_epochs(self, epochs: list[EpochEnded]) -> None:
        self.loss_plot.add_epochs(epochs)
        self.metrics_table.add_epochs(epochs)
        if any(e.val for e in epochs):
            self._live = self._latest_text()
            self.verdict.setText(self._with_warnings(self._live))

    def _with_warnings(self, text: str) -> str:
        return "<br>".join([text] * bool(text) + warning_lines(self._start_warnings))

    def _primary_text(self, started: FitStarted | None) -> str:
        """Before the first validation: which metric ranks this run, and its chance."""
        table = self.metrics_table
        if started is None or table.primary is None:
            return ""
        chance = table.chance.get(table.primary)
        tail = f" (guessing scores {chance:.3f})" if chance is not None else ""
        return f"Primary metric: <b>{escape(title(table.primary))}</b>{tail}"

    def _latest_text(self) -> str:
        """The primary metric's latest validation value beside chance, and whether it is
        above it."""
        table = self.metrics_table
        primary = table.primary
        value = table.latest(primary) if primary else None
        if value is None:
            return self._live
        chance = table.chance.get(primary)
        text = f"Validation <b>{escape(title(primary))}</b> {value:.3f}"
        if chance is not None:
            text += f", chance {chance:.3f}"
        if table.at_chance():
            text += (f"<br><span style='color:{WARN}'>At chance: within {CHANCE_MARGIN:g} "
                     f"standard errors ({table.chance_spread:.3f} each) of guessing, so "
                     "no evidence yet that the model learned anything.</span>")
        return text

    def show_result(self, primary: str | None, scores: dict, warnings: list[str],
                    best_epoch: int | None = None, health: dict | None = None) -> None:
        """The end of a run: the handed-over model's primary metric on validation and test
        beside chance (or "no test split"), its embedding space's collapse figures, and the
        run's warnings."""
        lines = []
        if primary is not None:
            cells = []
            for split, name in (("val", "validation"), ("test", "test")):
                score = scores.get(split) or {}
                if score.get("size") == 0:
                    cells.append(f"no {name} split")
                elif primary in score.get("metrics", {}):
                    chance = score.get("chance", {}).get(primary)
                    cells.append(f"{name} <b>{score['metrics'][primary]:.3f}</b>"
                                 + (f" (chance {chance:.3f})" if chance is not None else ""))
            if cells:
                which = f" of the best epoch ({best_epoch})" if best_epoch else ""
                lines.append(f"Final model{which}, {escape(title(primary))}: "
                             + "; ".join(cells))
        if health:
            figures = "; ".join(f"{escape(name)}: effective rank {h['effective_rank']:.1f}, "
                                f"centred cosine {_signed(h['centred_cosine'])}"
                                for name, h in health.items())
            lines.append(f"<span style='color:#555'>Validation vectors \u2014 {figures}</span>")
        lines += warning_lines(warnings)
        self.verdict.setText("<br>".join(lines) if lines else self._live)

    def set_samples(self, samples: GeneratedSamples) -> None:
        if self.adversarial:
            self.adversarial_view.set_samples(samples)

    def _on_smoothing_changed(self, value: int) -> None:
        if self._adversarial_view is not None:
            self._adversarial_view.set_smoothing(value / 100.0)


def warning_lines(warnings: list[str]) -> list[str]:
    return [f"<span style='color:{WARN}'>\u26a0 {escape(w)}</span>" for w in warnings]


def _signed(value: float) -> str:
    """Two decimals, without a minus sign on a value that rounds to zero ("-0.00")."""
    text = f"{value:.2f}"
    return text[1:] if text == "-0.00" else text


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication

    from ...core import config as C
    from .. import worker

    # A real short run: python -m workbench.ui.plots.training_view [preset] [key=value ...]
    app = QApplication([])
    args = sys.argv[1:]
    preset = args.pop(0) if args and "=" not in args[0] else "presets/classifier-attention-emoji.toml"
    cfg = C.apply_overrides(C.load(preset), args or ["training.epochs=5"])
    view = TrainingView()
    controller = worker.TrainingController()
    view.connect_controller(controller)
    view.resize(1000, 700)
    view.show()
    controller.start(cfg, None)
    app.aboutToQuit.connect(controller.shutdown)
    app.exec()
    # Free the Qt objects before Python tears down: PySide6 can crash at exit otherwise.
    view.deleteLater()
    app.processEvents()
