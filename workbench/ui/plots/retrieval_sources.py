"""The Retrieval tab's "Search with" choice: the trained model, or zero-shot CLIP — the two
towers of the run's ``model.image_model`` (a CLIP model on this machine) with no training,
over the run's data and split, so what the trained model adds is the difference.

:class:`SearchSources` owns the choice (a combo box the view lays out), the trained model's
index or the reason there is none, and the zero-shot index (built in the background by
:func:`.zero_shot_baseline.start_zero_shot`, kept once built); it tells the view what to
show through ``shown``."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSignalBlocker, Signal, Slot
from PySide6.QtWidgets import QComboBox

from ..tasks import BackgroundTask
from .zero_shot_baseline import DEFAULT_PROMPT, encoding_key, is_unavailable, start_zero_shot

TRAINED, ZERO_SHOT = "trained model", "zero-shot CLIP"
ZERO_SHOT_TIP = ("zero-shot CLIP: the two towers of model.image_model (a CLIP model on this "
                 "machine) with no training, over the same data and split: what the trained "
                 "model adds is the difference.")
NO_DATA = ("zero-shot CLIP searches a run's data: train a run, or open one from the Runs "
           "tab (or load data).")


class SearchSources(QObject):
    """Which index the Retrieval tab searches: the trained model's or zero-shot CLIP's."""

    shown = Signal(object, str, bool)  # (index or None, why there is none, an error): show it
    built = Signal(object)  # a zero-shot index now shown (built, or chosen again)
    failed = Signal(str)  # why the zero-shot index could not be built

    def __init__(self, no_model: str, parent: QObject | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.addItems([TRAINED, ZERO_SHOT])
        self.combo.setToolTip(ZERO_SHOT_TIP)
        self.combo.currentIndexChanged.connect(self._on_choice_changed)
        self.trained = None  # the run's RetrievalIndex, shown or not
        self._message: tuple[str, bool] = (no_model, False)  # shown without one
        self._config = None  # the session's config: zero-shot's data before any run
        self._zero_shot = None  # (encoding key, ZeroShotIndex): the latest built
        self._request = 0  # the latest zero-shot build asked for; older ones are dropped
        self._problems: dict[tuple, str | None] = {}  # per model and download setting
        self._tasks: list[BackgroundTask] = []
        self._update_choice()

    # -- what the view tells -------------------------------------------------------------
    def set_trained(self, index, message: str, *, error: bool = False,
                    select: bool = False) -> None:
        """The trained model's ``index`` (None: ``message`` says why); shown unless zero-shot
        CLIP is chosen, or always with ``select`` (a new run: its model is what to see)."""
        if select:
            with QSignalBlocker(self.combo):
                self.combo.setCurrentText(TRAINED)
        self.trained = index
        self._message = (message, error)
        self._update_choice()
        if not self.zero_shot_chosen():
            self.shown.emit(index, message, error)

    def set_config(self, cfg) -> None:
        """The session's config: zero-shot CLIP's data, split and model while no run's
        index is here."""
        self._config = cfg
        self._update_choice()

    def zero_shot_chosen(self) -> bool:
        return self.combo.currentText() == ZERO_SHOT

    def config(self):
        """The config zero-shot CLIP searches with: the trained run's (its data and split),
        else the session's; None without either."""
        return self.trained.model.cfg if self.trained is not None else self._config

    def problem(self) -> str | None:
        """Why zero-shot CLIP cannot be chosen now, or None (reads the model's config.json
        once per model name)."""
        cfg = self.config()
        if cfg is None:
            return NO_DATA
        key = (cfg.model.image_model, cfg.pretrained.allow_download)
        if key not in self._problems:
            from ...core.evaluation.zero_shot import unavailable_reason
            self._problems[key] = unavailable_reason(cfg)
        return self._problems[key]

    def shutdown(self) -> None:
        """Wait for a zero-shot build in progress (before the window closes)."""
        for task in list(self._tasks):
            task.wait()

    # -- choosing ------------------------------------------------------------------------
    def _update_choice(self) -> None:
        """Offer zero-shot CLIP when there is a CLIP model for the data; else say why."""
        problem = self.problem()
        item = self.combo.model().item(1)
        item.setEnabled(problem is None or self.zero_shot_chosen())
        item.setText(ZERO_SHOT if problem is None else f"{ZERO_SHOT} (unavailable)")
        self.combo.setToolTip(ZERO_SHOT_TIP if problem is None else
                              f"{ZERO_SHOT_TIP}<br><br><b>Unavailable:</b> {problem}")

    @Slot(int)
    def _on_choice_changed(self, _index: int) -> None:
        self._request += 1  # a zero-shot build in progress is no longer shown
        if not self.zero_shot_chosen():
            self._update_choice()
            self.shown.emit(self.trained, *self._message)
            return
        cfg, problem = self.config(), self.problem()
        if problem:
            self.shown.emit(None, problem, True)
            return
        key = encoding_key(cfg, DEFAULT_PROMPT)
        if self._zero_shot is not None and self._zero_shot[0] == key:
            self.shown.emit(self._zero_shot[1], "", False)
            self.built.emit(self._zero_shot[1])
            return
        request = self._request
        self.shown.emit(None, f"Building the {ZERO_SHOT} index: reading the images at "
                              f"{cfg.model.image_model}'s input size, encoding every caption "
                              "and image with its two towers…", False)

        def then(encoded):
            from ...core.evaluation.zero_shot_index import ZeroShotIndex
            return ZeroShotIndex(encoded)

        task = start_zero_shot(cfg, DEFAULT_PROMPT, then, self,
                               lambda index: self._on_built(request, key, index),
                               lambda exc: self._on_failed(request, exc))
        self._tasks.append(task)
        task.ended.connect(lambda: self._tasks.remove(task))

    def _on_built(self, request: int, key: tuple, index) -> None:
        self._zero_shot = (key, index)
        if request == self._request and self.zero_shot_chosen():
            self.shown.emit(index, "", False)
            self.built.emit(index)

    def _on_failed(self, request: int, exc: Exception) -> None:
        if request == self._request and self.zero_shot_chosen():
            reason = str(exc) or type(exc).__name__
            if not is_unavailable(exc):
                reason = f"{ZERO_SHOT} failed: {reason}"
            self.shown.emit(None, reason, True)
            self.failed.emit(reason)
