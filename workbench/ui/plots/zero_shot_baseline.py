"""Zero-shot CLIP in the GUI: the baseline with no training, as a row of the Compare tab
(:class:`ZeroShotBaseline`) and a choice of the Retrieval tab (:func:`start_zero_shot`).

Encoding a data set with a CLIP model reads every image again at the model's input size and
puts every caption and image through its towers: seconds to minutes, so it runs in a
:class:`BackgroundTask`. The latest encoding is kept, so the Compare row and the Retrieval
choice over the same data and model encode it once. Every number comes from
:mod:`workbench.core.evaluation.zero_shot` and :mod:`~workbench.core.evaluation.compare`, as
``workbench compare --zero-shot`` prints them.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QLineEdit

from ...core.evaluation import compare, zero_shot
from ..tasks import BackgroundTask

DEFAULT_PROMPT = zero_shot.DEFAULT_PROMPT
TIP = ("Add a row for zero-shot CLIP: the two towers of model.image_model (a CLIP model on "
       "this machine) scored with no training, on the same split and with the same metrics "
       "as the fusions: retrieval both ways and, with labels, classification with one prompt "
       "per label. It is what the trained model should beat. It is scored when the runs end "
       "(so it does not slow them), and kept for the same data and model.")
PROMPT_TIP = ("The prompt each label becomes for zero-shot classification: {label} is "
              "replaced by the label's name.")
# The latest encoding (key -> zero_shot.Encoded): read on worker threads, written on the GUI
# thread only.
_LATEST: dict[tuple, Any] = {}


def encoding_key(cfg, prompt: str) -> tuple:
    """What an encoding depends on: the model, the data, its split and the prompt."""
    from ...core.config import split_seed
    return (cfg.model.image_model, repr(cfg.data), split_seed(cfg), prompt)


def start_zero_shot(cfg, prompt: str, then: Callable[[Any], Any], parent: QObject,
                    done: Callable[[Any], None],
                    failed: Callable[[Exception], None]) -> BackgroundTask:
    """Encode ``cfg``'s data with its CLIP model off the GUI thread (or take the latest
    encoding when it is of the same), run ``then(encoded)`` there too, and hand its result to
    ``done`` (or the error to ``failed``) on the GUI thread. Returns the started task."""
    key = encoding_key(cfg, prompt)

    def work():
        encoded = _LATEST.get(key)
        if encoded is None:
            encoded = zero_shot.encode(cfg, prompt=prompt)
        return encoded, then(encoded)

    def succeeded(pair) -> None:
        _LATEST.clear()  # one encoding kept: it holds the images at the model's size
        _LATEST[key] = pair[0]
        done(pair[1])

    task = BackgroundTask(work, parent)
    task.succeeded.connect(succeeded)
    task.failed.connect(failed)
    task.ended.connect(task.deleteLater)
    task.start()
    return task


def is_unavailable(exc: Exception) -> bool:
    """Whether ``exc`` says the baseline cannot be had here (no CLIP model, feature-vector
    data), rather than that scoring it broke."""
    return isinstance(exc, zero_shot.ZeroShotError)


class ZeroShotBaseline(QObject):
    """The Compare tab's zero-shot row: its checkbox and prompt field (laid out by the
    view), its state, and the scoring in the background once a comparison's runs end."""

    changed = Signal()  # the row, its state or its note changed

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.checkbox = QCheckBox("Zero-shot CLIP row")
        self.checkbox.setToolTip(TIP)
        self.prompt_edit = QLineEdit(DEFAULT_PROMPT)
        self.prompt_edit.setToolTip(PROMPT_TIP)
        self.prompt_edit.setPlaceholderText(DEFAULT_PROMPT)
        self.prompt_edit.setMinimumWidth(self.prompt_edit.fontMetrics()
                                         .horizontalAdvance(DEFAULT_PROMPT) + 24)
        self.prompt_edit.setEnabled(False)
        self.checkbox.toggled.connect(self._on_checkbox_toggled)
        self.prompt_edit.editingFinished.connect(self._on_prompt_changed)
        self.cfg = None  # the comparison's config (its data, split and image model)
        self.waiting = False  # a comparison's runs are training: score after them
        self.state = "off"  # off, waiting, scoring, done, unavailable, failed
        self.result: dict | None = None  # zero_shot.score's, for self.cfg and the prompt
        self.reason = ""
        self._scored: tuple | None = None  # the key of what result (or reason) is for
        self._tasks: list[BackgroundTask] = []  # running
        self._scoring: tuple | None = None  # the key being scored
        self._request = 0  # the latest scoring asked for; older results are dropped

    @property
    def enabled(self) -> bool:
        return self.checkbox.isChecked()

    @property
    def prompt(self) -> str:
        return self.prompt_edit.text() or DEFAULT_PROMPT

    # -- driven by the Compare view ------------------------------------------------------
    def set_config(self, cfg, *, running: bool) -> None:
        """A comparison of ``cfg`` starts (``running``) or is shown."""
        self.cfg = cfg
        self.waiting = running
        self._update()

    def runs_ended(self) -> None:
        """The comparison's runs ended: score now (when asked for)."""
        self.waiting = False
        self._update()

    def row(self, metric: str) -> dict | None:
        """The table's row on ``metric`` (:func:`compare.zero_shot_row`), None when off."""
        if not self.enabled:
            return None
        labels = {"waiting": "scored when the runs end", "scoring": "scoring…",
                  "off": "waiting for a comparison"}
        if self.state == "done" and self.result is not None:
            row = compare.zero_shot_row(self.result, metric)
        else:
            row = compare.zero_shot_row(None, metric, reason=self.reason)
            if self.state in labels:
                row["status"] = labels[self.state if self.cfg is not None else "off"]
            elif self.state == "failed":
                row["status"] = "failed"
        row.update(planned=1, live_value=None, live_seconds=0.0)
        return row

    def note(self, row: dict | None) -> str:
        """A line under the table: which model and prompt made the row, or why it has no
        value."""
        if row is None:
            return ""
        if row["model"] is not None:
            return compare.baseline_about(row)
        if self.cfg is None:
            return (f"{compare.ZERO_SHOT}: scored with the next comparison, on its data and "
                    "model.image_model")
        return self.reason

    def shutdown(self) -> None:
        """Wait for scoring in progress (before the window closes)."""
        for task in list(self._tasks):
            task.wait()

    # -- scoring -------------------------------------------------------------------------
    def _key(self) -> tuple | None:
        if self.cfg is None:
            return None
        return (*encoding_key(self.cfg, self.prompt), self.cfg.algorithm.name,
                repr(self.cfg.algorithm.params))

    def _update(self) -> None:
        key = self._key()
        if self.enabled and key is not None:
            if key == self._scored and self.state in ("done", "unavailable", "failed"):
                pass  # already scored for this data, model and prompt
            elif self.state == "scoring" and key == self._scoring:
                pass  # being scored
            elif self.waiting:
                self._request += 1  # what is being scored is for another comparison
                self.state = "waiting"
            else:
                self._start(key)
        self.changed.emit()

    def _start(self, key: tuple) -> None:
        from ...core.errors import WorkbenchError
        cfg, prompt = self.cfg, self.prompt
        self._request += 1
        request = self._request
        try:  # before any thread: a missing model or a prompt without {label} says so now
            zero_shot.check_prompt(prompt)
            reason = zero_shot.unavailable_reason(cfg)
        except WorkbenchError as exc:
            self._finish(key, "failed", reason=str(exc))
            return
        if reason:
            self._finish(key, "unavailable", reason=reason)
            return
        self.state, self._scoring = "scoring", key
        task = start_zero_shot(
            cfg, prompt, lambda encoded: zero_shot.result_of(encoded, cfg), self,
            lambda result: self._on_scored(request, key, result),
            lambda exc: self._on_failed(request, key, exc))
        self._tasks.append(task)
        task.ended.connect(lambda: self._tasks.remove(task))

    def _on_scored(self, request: int, key: tuple, result: dict) -> None:
        if request == self._request:
            self._finish(key, "done", result=result)

    def _on_failed(self, request: int, key: tuple, exc: Exception) -> None:
        if request == self._request:
            state = "unavailable" if is_unavailable(exc) else "failed"
            self._finish(key, state, reason=str(exc) or type(exc).__name__)

    def _finish(self, key: tuple, state: str, *, result: dict | None = None,
                reason: str = "") -> None:
        self.state, self.result, self.reason, self._scored = state, result, reason, key
        self._scoring = None
        self.changed.emit()

    @Slot(bool)
    def _on_checkbox_toggled(self, checked: bool) -> None:
        self.prompt_edit.setEnabled(checked)
        self._update()

    @Slot()
    def _on_prompt_changed(self) -> None:
        if self.enabled:
            self._update()
