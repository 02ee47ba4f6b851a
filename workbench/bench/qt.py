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


def run_until_emitted(signals, timeout_s: float) -> bool:
    """Run an event loop until one of ``signals`` is emitted or ``timeout_s`` passes; True
    when one was. Unlike :func:`wait_until` nothing wakes the loop to look: the GUI thread
    sleeps until an event comes, as in ``app.exec()``, so a measure of the application
    does not measure a polling loop beside it."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired: list = []

    def on_emitted(*_):
        fired.append(True)
        loop.quit()

    for signal in signals:
        signal.connect(on_emitted)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(max(1, round(timeout_s * 1000)))
    try:
        loop.exec()
    finally:
        timer.stop()
        for signal in signals:
            signal.disconnect(on_emitted)
    return bool(fired)


class Heartbeat:
    """A repeating timer on the GUI thread (``interval_ms``) whose ticks say how late the
    thread answers (``result.lateness_ms``): what a user feels as a stutter."""

    def __init__(self, interval_ms: float):
        import time

        from PySide6.QtCore import Qt, QTimer
        self.interval_ms = interval_ms
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(round(interval_ms))
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def lateness(self) -> list[float]:
        """Each tick's lateness (ms) since :meth:`start` or the last :meth:`take`."""
        from .result import lateness_ms
        return lateness_ms(self.ticks, self.interval_ms)

    def take(self) -> list[float]:
        """:meth:`lateness`, the ticks then forgotten (the next span starts)."""
        late = self.lateness()
        self.ticks.clear()
        return late

    def idle(self, app, seconds: float) -> list[float]:
        """Start, let the window idle ``seconds``, and return that span's lateness: what this
        machine's scheduler alone costs, the baseline of a measure's lateness rows."""
        import time
        self.start()
        t0 = time.perf_counter()
        wait_until(app, lambda: time.perf_counter() - t0 >= seconds, seconds + 5)
        return self.take()
