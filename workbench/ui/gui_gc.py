"""Python's cyclic garbage collected on the GUI thread only, while the GUI runs.

The automatic collector runs on whichever thread crosses an allocation threshold: during a
run, usually the training thread. When such a collection frees a cycle that holds a Qt
widget (a closed window, a rebuilt plot's context menu), the widget's C++ destructor runs
on the training thread, taking a Qt lock and then asking for the GIL to call a Python
override, while the GUI thread holds the GIL and waits for that lock to destroy a related
object. Neither moves: the application freezes. The GUI tests froze so about one run in
two; gdb showed exactly those two stacks.

So while a window is up, automatic collection is off and a timer on the GUI thread
collects instead, with the same per-generation thresholds Python uses, so the collector
never frees Qt objects on another thread. (Reference counting still frees an object where
its last reference is dropped; Qt objects are made and dropped on the GUI thread.)
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250


def due_generation(counts: tuple[int, ...], thresholds: tuple[int, ...]) -> int:
    """The oldest generation Python's own rule would collect now, or -1 for none: a
    generation is due when its count passes its threshold and every younger one is due."""
    due = -1
    for generation, (count, threshold) in enumerate(zip(counts, thresholds)):
        if count <= threshold:
            break
        due = generation
    return due


class GuiThreadCollector(QObject):
    """``start()`` turns automatic collection off and collects from a GUI-thread timer;
    ``stop()`` collects once more and gives collection back to Python. Also a context
    manager, for code that needs the GUI only for a while (benchmarks, tests)."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)
        self._was_enabled = True

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        if self.active:
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        if not self.active:
            return
        self._timer.stop()
        gc.collect()  # here, on the GUI thread, before another thread could
        if self._was_enabled:
            gc.enable()

    def collect_if_due(self) -> int:
        """Collect the generation that is due, if any; the number of objects found
        unreachable (0 when none was due)."""
        generation = due_generation(gc.get_count(), gc.get_threshold())
        return gc.collect(generation) if generation >= 0 else 0

    def __enter__(self) -> GuiThreadCollector:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def collect_on_gui_thread(app) -> GuiThreadCollector:
    """Start the collector for the life of ``app`` (the application's ``QApplication``);
    calling it again returns the one already running."""
    existing = app.findChild(GuiThreadCollector)
    if existing is not None:
        existing.start()
        return existing
    collector = GuiThreadCollector(parent=app)
    collector.start()
    return collector
