"""The Training tab's plots: loss curves and metrics beside the metrics table, and the
adversarial game's view, shown only while the run is adversarial."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from ...core.training.events import EpochEnded, FitStarted, GeneratedSamples, StepLogged
from .adversarial_view import D_TERMS, AdversarialView
from .loss_plot import LossPlot
from .metrics_table import MetricsTable

ADVERSARIAL = "adversarial"


class TrainingView(QWidget):
    """Curves, metrics and (adversarial runs) the game, fed by a TrainingController."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = LossPlot()
        self.metrics_table = MetricsTable()
        # Built for the first adversarial run (or when asked for): most runs never show it,
        # and its plots would add a tenth of a second to every start-up.
        self._adversarial_view: AdversarialView | None = None

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.loss_plot)
        top.addWidget(self.metrics_table)
        top.setStretchFactor(0, 4)
        top.setStretchFactor(1, 1)
        top.setSizes([620, 280])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self.loss_plot.smoothing_slider.valueChanged.connect(self._on_smoothing_changed)

    @property
    def adversarial_view(self) -> AdversarialView:
        if self._adversarial_view is None:
            view = AdversarialView()
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

    def set_samples(self, samples: GeneratedSamples) -> None:
        if self.adversarial:
            self.adversarial_view.set_samples(samples)

    def _on_smoothing_changed(self, value: int) -> None:
        if self._adversarial_view is not None:
            self._adversarial_view.set_smoothing(value / 100.0)


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
