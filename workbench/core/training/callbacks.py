"""Side effects of training live in callbacks (as PyTorch Lightning's ``Callback``): the GUI
feed, the run folder, the progress bar. Every hook is a no-op here; override what you need.
Hooks run on the training thread, so they must be quick and must not touch widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import CheckpointWritten, EpochEnded, FitEnded, FitStarted, Snapshot, StepLogged

if TYPE_CHECKING:
    from .trainer import Trainer


class Callback:
    def on_fit_start(self, trainer: "Trainer", event: FitStarted) -> None:
        pass

    def on_step_end(self, trainer: "Trainer", event: StepLogged) -> None:
        pass

    def on_epoch_end(self, trainer: "Trainer", event: EpochEnded) -> None:
        pass

    def on_snapshot(self, trainer: "Trainer", event: Snapshot) -> None:
        pass

    def on_checkpoint(self, trainer: "Trainer", event: CheckpointWritten) -> None:
        pass

    def on_exception(self, trainer: "Trainer", exc: BaseException) -> None:
        pass

    def on_fit_end(self, trainer: "Trainer", event: FitEnded) -> None:
        pass


class EventRecorder(Callback):
    """Keeps every event in order (tests, scripts)."""

    def __init__(self):
        self.events: list[object] = []
        self.exceptions: list[BaseException] = []

    def on_fit_start(self, trainer, event):
        self.events.append(event)

    def on_step_end(self, trainer, event):
        self.events.append(event)

    def on_epoch_end(self, trainer, event):
        self.events.append(event)

    def on_snapshot(self, trainer, event):
        self.events.append(event)

    def on_checkpoint(self, trainer, event):
        self.events.append(event)

    def on_exception(self, trainer, exc):
        self.exceptions.append(exc)

    def on_fit_end(self, trainer, event):
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
