"""The Data panel's "Pretrained features" row: a pretrained encoder's features of the loaded
pairs, computed in the background with a progress bar and a Cancel button.

When the session's config reads a side through a pretrained model
(:func:`workbench.core.data.uses_pretrained`: frozen or fine-tuned, its features are cached
either way) and a table is loaded, the row runs :func:`workbench.core.data.prepare_pretrained` on a
worker thread at once: features already cached read back in a moment ("read from the
cache"), others are computed with their progress shown ("captions 640 / 1,526"), so that
training starts without waiting. Cancel stops it at the next batch and keeps nothing; the
row then offers "Compute features" and starts nothing by itself until what it would compute
changes. A model that is not on this machine, or data it cannot read, is said in the row.

Like the loads, a change while it runs does not start a second model beside it: the
running one is cancelled and the latest request starts when it has ended.
"""

from __future__ import annotations

import logging
import weakref

from PySide6.QtCore import QEventLoop, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ...core import config as C
from ...core.data import uses_pretrained
from ...core.errors import WorkbenchError
from ..tasks import BackgroundTask
from .data_loading import CancellableProgress, Cancelled, prepare_features
from .param_form import ERROR_STYLE, HINT_STYLE

log = logging.getLogger(__name__)

IDLE, RUNNING, DONE, CANCELLED, FAILED = "idle", "running", "done", "cancelled", "failed"


def pretrained_models(cfg: C.ExperimentConfig) -> list[tuple[str, str]]:
    """``(side, model)`` of each side ``cfg`` reads through a pretrained model."""
    return [(side, model) for side, model in (("text", cfg.model.text_model),
                                              ("image", cfg.model.image_model))
            if uses_pretrained(cfg, side)]


def features_key(cfg: C.ExperimentConfig) -> tuple:
    """What decides the features of a table: the models and how their output is kept (word
    pieces per caption), the image size the table was read at, the device, and whether a
    missing model may be downloaded."""
    return (tuple(pretrained_models(cfg)), cfg.preprocess.max_tokens,
            cfg.preprocess.image_size, cfg.device, cfg.pretrained.allow_download)


class FeaturesRow(QWidget):
    """Status, progress and Compute / Cancel for the pretrained features of the session's
    table; hidden when the config reads neither side through a pretrained model."""

    busy_changed = Signal(bool)  # True when a computation starts, False when it has ended

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.state = IDLE
        self._task: BackgroundTask | None = None
        self._progress = CancellableProgress()
        # (features_key, weak reference to the table): being computed; done, cancelled or
        # failed (weak: a table replaced is not kept alive by the row)
        self._running: tuple | None = None
        self._settled: tuple | None = None
        self._settled_view = (IDLE, "")  # how it ended: (state, text)
        self._models = ""  # the models being run, for the status line
        self._loading = False  # the Data panel is loading a new table: wait for it
        self._closed = False
        self._handed_over = False  # cancelled because a training run computes them
        self._shown = ("", 0, 0)

        self.title = QLabel("<b>Pretrained features</b>")
        self.status = QLabel(wordWrap=True)
        self.progress = QProgressBar(visible=False, textVisible=False, maximumHeight=10)
        self.compute_button = QPushButton("Compute features", clicked=self.compute)
        self.compute_button.setToolTip("Compute the pretrained model's features of these "
                                       "pairs now (kept on disk: computed once)")
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, visible=False)
        self.cancel_button.setToolTip("Stop computing; nothing half-made is kept")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self._poll = QTimer(self, interval=100, timeout=self._on_poll_timeout)
        # a config change and the table that follows it are one request
        self._soon = QTimer(self, singleShot=True, interval=0, timeout=self._refresh)
        session.config_changed.connect(self._schedule)
        session.table_changed.connect(self._schedule)
        self._refresh()

    # -- public ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None

    @property
    def needed(self) -> bool:
        """Whether the config reads a loaded table through a pretrained model."""
        return self.session.table is not None and bool(pretrained_models(self.session.config))

    def compute(self) -> None:
        """Compute (or read back) the features the session's config trains on, now."""
        if self.needed and not self._closed:
            self._settled = None
            self._request()

    def cancel(self) -> None:
        """Stop the computation at its next batch; nothing it made is kept."""
        if self._task is not None:
            self._progress.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def hand_over(self) -> None:
        """Training starts: its worker computes what is missing itself (progress in the
        training bar, Stop stops it), so a computation running here stops rather than do
        the same work twice beside it."""
        if self._task is not None:
            self._handed_over = True
            self.cancel()

    def set_loading(self, loading: bool) -> None:
        """The Data panel started (True) or ended (False) a load: a new table is coming, so
        wait for it rather than compute the one on its way out."""
        self._loading = loading
        if not loading:
            self._schedule()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel a running computation and wait for its thread (the app is closing: a
        QThread still running at exit aborts the process); True when none is left."""
        self._closed = True
        self._soon.stop()
        if self._task is None:
            return True
        self._progress.cancel()
        loop = QEventLoop()
        self._task.ended.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        return self._task is None

    def reopen(self) -> None:
        """Shown again after :meth:`shutdown`: follow the session again."""
        if self._closed:
            self._closed = False
            self._schedule()

    # -- requests ----------------------------------------------------------------------
    def _schedule(self, *_args) -> None:
        self._soon.start()

    def _wanted(self) -> tuple:
        return features_key(self.session.config), self.session.table

    def _request(self) -> None:
        """Compute what the session needs now: start it, or cancel a running computation
        of something else (the wanted one starts when that one has ended)."""
        if self._task is None:
            self._start()
        elif not _same(self._running, self._wanted()):
            self._progress.cancel()

    def _refresh(self) -> None:
        """Follow the session: hide, show what is known, or start computing."""
        if self._closed:
            return
        needed = self.needed
        self.setVisible(needed or self._task is not None)
        if self._task is not None:
            self._request()  # cancels a computation no longer wanted
        elif not needed:
            self._set_state(IDLE, "")
        elif self._loading:
            self._set_state(IDLE, "Waiting for the data to load…")
        elif _same(self._settled, self._wanted()):
            self._set_state(*self._settled_view)  # as it ended (shown again after a detour)
        else:
            self._start()  # new data or another model (a cached one reads back at once)

    def _start(self) -> None:
        if self._closed or not self.needed or self._loading:
            return
        cfg, table = self.session.config, self.session.table
        self._running = (features_key(cfg), weakref.ref(table))
        self._handed_over = False
        self._progress = progress = CancellableProgress()
        self._shown = ("", 0, 0)
        self._task = BackgroundTask(lambda: prepare_features(cfg, table, progress))
        self._task.succeeded.connect(self._on_succeeded)
        self._task.failed.connect(self._on_failed)
        self._task.ended.connect(self._on_ended)
        self._models = ", ".join(_short(model) for _, model in pretrained_models(cfg))
        self._set_state(RUNNING, f"Loading {self._models}…")
        self.progress.setRange(0, 0)
        self._poll.start()
        self._task.start()
        self.busy_changed.emit(True)

    # -- the task ----------------------------------------------------------------------
    def _on_succeeded(self, lines: list[str]) -> None:
        if not _same(self._running, self._wanted()):
            return  # superseded: the wanted one starts when this has ended
        text = "\n".join(_short_line(line) for line in lines) or "Nothing to compute."
        self._settle(DONE, text)

    def _on_failed(self, exc: Exception) -> None:
        if not _same(self._running, self._wanted()):
            return
        if isinstance(exc, Cancelled):
            self._settle(CANCELLED, "Handed over to the training run, which computes them "
                         "(progress at the top)." if self._handed_over else
                         "Cancelled: not computed. Training computes them first if they are "
                         "still missing.")
            return
        if isinstance(exc, WorkbenchError):
            message = str(exc)
        else:  # a bug or an OS problem: say what it was, keep the traceback in the log
            log.error("computing pretrained features failed:\n%s",
                      getattr(exc, "traceback_text", ""))
            message = f"{type(exc).__name__}: {exc}"
        self._settle(FAILED, message)

    def _settle(self, state: str, text: str) -> None:
        """The end of the wanted computation: shown, and not started again by itself."""
        self._settled, self._settled_view = self._running, (state, text)
        self._set_state(state, text)

    def _on_ended(self) -> None:
        self._task = self._running = None
        self._poll.stop()
        self.busy_changed.emit(False)
        self._refresh()

    def _on_poll_timeout(self) -> None:
        shown = self._progress.get()
        if shown == self._shown or self._progress.cancelled:
            return
        self._shown = stage, done, total = shown
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.status.setText(f"Computing with {self._models}: {stage} {done:,} / {total:,}")

    # -- showing -----------------------------------------------------------------------
    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if state == FAILED else
                                  "" if state in (RUNNING, DONE) else HINT_STYLE)
        running = state == RUNNING
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.compute_button.setVisible(state in (IDLE, CANCELLED, FAILED) and self.needed
                                       and not self._loading)
        self.compute_button.setText("Try again" if state == FAILED else "Compute features")


def _same(seen: tuple | None, wanted: tuple) -> bool:
    """Whether ``seen`` (key, weak reference to a table) is ``wanted`` (key, table): the
    table by identity (a PairTable holds arrays)."""
    return seen is not None and wanted[1] is not None and seen[0] == wanted[0] \
        and seen[1]() is wanted[1]


def _short(model: str) -> str:
    """A model's name without its organisation, or a folder's last part."""
    return model.rstrip("/\\").replace("\\", "/").rpartition("/")[2] or model


def _short_line(line: str) -> str:
    """prepare_pretrained's line with the model's short name."""
    model, sep, rest = line.partition(": ")
    return f"{_short(model)}: {rest}" if sep else line
