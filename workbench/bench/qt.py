"""The one QApplication the GUI measures share."""

from __future__ import annotations

import os
import sys


def ensure_platform() -> None:
    """Qt's offscreen platform where there is no display (CI, ssh): the measures paint all
    the same, into memory."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def application():
    ensure_platform()
    from PySide6.QtWidgets import QApplication
    return QApplication.instance() or QApplication(sys.argv[:1])


CHECK_MS = 20


def wait_until(app, done, timeout_s: float) -> bool:
    """Run the event loop until ``done()`` or ``timeout_s``; True when done.

    The loop sleeps between events, as ``app.exec()`` does: ``processEvents(flags,
    maxtime)`` ignores ``WaitForMoreEvents`` and returns at once, so looping on it kept a
    whole core busy on the GUI thread and the GUI measures ran beside a spinning
    loop no user has. A timer wakes the loop to look at ``done()`` and the clock."""
    import time
    from PySide6.QtCore import QEventLoop, QTimer
    end = time.perf_counter() + timeout_s
    wake = QTimer()
    wake.start(CHECK_MS)
    try:
        while not done() and time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        wake.stop()
    return done()
