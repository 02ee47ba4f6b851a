"""The File menu's TensorBoard entry: greyed out, its tooltip saying what to install, when
the tensorboard package is missing (as the README says); enabled when it is there."""

from __future__ import annotations

import sys

import pytest

from workbench.core.runs.export import TENSORBOARD_HINT, tensorboard_missing
from workbench.ui.main_window import MainWindow
from workbench.ui.session import Session


@pytest.fixture
def window(qtbot):
    win = MainWindow(Session())
    qtbot.addWidget(win)
    yield win
    win.close()


def test_greyed_out_with_what_to_install_when_tensorboard_is_missing(qtbot, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    assert tensorboard_missing() == TENSORBOARD_HINT
    win = MainWindow(Session())
    qtbot.addWidget(win)
    action = win.exports.tensorboard
    assert not action.isEnabled()
    assert "pip install tensorboard" in action.toolTip()
    menu = next(a.menu() for a in win.menuBar().actions() if a.menu() and action in
                a.menu().actions())
    assert menu.toolTipsVisible()  # a tooltip in a menu shows only when asked for
    win.close()


def test_enabled_when_tensorboard_is_installed(window):
    pytest.importorskip("tensorboard")
    assert tensorboard_missing() is None
    assert window.exports.tensorboard.isEnabled()
    assert "pip install" not in window.exports.tensorboard.toolTip()


def test_availability_is_checked_again_as_the_menu_opens(window, monkeypatch):
    action = window.exports.tensorboard
    menu = next(a.menu() for a in window.menuBar().actions() if a.menu() and action in
                a.menu().actions())
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # uninstalled while it runs
    menu.aboutToShow.emit()
    assert not action.isEnabled()
    monkeypatch.delitem(sys.modules, "tensorboard")
    menu.aboutToShow.emit()
    assert action.isEnabled() == (tensorboard_missing() is None)
