"""Run by the start-up measure in a fresh process: ``python -m workbench.bench.startup_probe
[--bare]``. Prints one JSON line the moment the first paint of the window is done, then
exits at once (whatever data loading is still under way).

``--bare`` is the baseline: import PySide6.QtWidgets and make a QApplication, nothing else.
"""

from __future__ import annotations

import json
import os
import sys


def _report(**fields) -> None:
    fields["torch_imported"] = "torch" in sys.modules
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()
    os._exit(0)  # no teardown: the clock stopped at the line above


def main(argv: list[str]) -> None:
    if "--bare" in argv:
        from PySide6.QtWidgets import QApplication
        QApplication(sys.argv[:1])
        _report(what="bare")
        return
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from ..ui.app import GuiOptions, build_window

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Multimodal Workbench")
    window = build_window(GuiOptions())

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                # Report after this paint has run, not before it.
                from PySide6.QtCore import QTimer
                QTimer.singleShot(0, lambda: _report(what="window"))
            return False

    watcher = FirstPaint()
    window.installEventFilter(watcher)
    window.show()
    app.exec()


if __name__ == "__main__":
    main(sys.argv[1:])
