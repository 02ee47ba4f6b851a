"""The Qt binding itself: PySide6 6.12.0 on Python < 3.12 frees None one reference per call
and aborts long sessions (see pyproject.toml); this catches such a build if it comes back."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QWidget


def test_void_calls_do_not_steal_references_to_none(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    before = sys.getrefcount(None)
    for _ in range(200):
        widget.update()
    assert sys.getrefcount(None) - before > -50
