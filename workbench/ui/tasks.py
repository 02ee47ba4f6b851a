"""Running one long function off the GUI thread and getting its result back as a signal.

Data loading, projections and preset checks are plain functions of :mod:`workbench.core`;
:class:`BackgroundTask` runs one on a QThread and reports exactly one of ``succeeded`` or
``failed``, delivered on the GUI thread (queued). The thread is always joined before the task
is dropped, so Qt never sees a running thread destroyed.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot


class _Runner(QObject):
    done = Signal(object)  # the function's result
    error = Signal(object)  # (exception, traceback text)

    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self.fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported to the GUI, never lost
            self.error.emit((exc, traceback.format_exc()))
        else:
            self.done.emit(result)
        # Leave the thread's event loop from here, so wait() from the GUI thread returns
        # even while the GUI thread is blocked (it cannot deliver a queued quit then).
        QThread.currentThread().quit()


class BackgroundTask(QObject):
    """``BackgroundTask(fn).start()``: ``fn()`` runs on its own thread."""

    succeeded = Signal(object)  # fn's return value
    failed = Signal(object)  # the exception (its traceback text in ``.traceback_text``)
    ended = Signal()  # after either, once the thread has stopped

    def __init__(self, fn: Callable[[], Any], parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._runner = _Runner(fn)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.done.connect(self._on_done)
        self._runner.error.connect(self._on_error)
        self.running = False

    def start(self) -> "BackgroundTask":
        self.running = True
        self._thread.start()
        return self

    def wait(self, ms: int = -1) -> bool:
        """Block until the thread has finished (True) or ``ms`` passed (False)."""
        if not self._thread.isRunning():
            return True
        return self._thread.wait(ms) if ms >= 0 else self._thread.wait()

    def _join(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self.running = False

    @Slot(object)
    def _on_done(self, result) -> None:
        self._join()
        self.succeeded.emit(result)
        self.ended.emit()

    @Slot(object)
    def _on_error(self, payload) -> None:
        exc, text = payload
        exc.traceback_text = text
        self._join()
        self.failed.emit(exc)
        self.ended.emit()
