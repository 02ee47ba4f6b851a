"""GUI tests run as the application does: cyclic garbage is collected on the GUI thread
only (``workbench.ui.gui_gc``), and once more when each test ends, so no test's leftover
widgets are freed later on a training thread."""

import pytest

from workbench.ui.gui_gc import GuiThreadCollector


@pytest.fixture(autouse=True)
def gui_thread_collector(qapp):
    with GuiThreadCollector(parent=qapp) as collector:
        yield collector
    collector.deleteLater()


@pytest.fixture(autouse=True)
def close_without_asking(monkeypatch):
    """Closing a window over unsaved settings or a running run asks first (a modal box):
    a test that does not answer it itself closes as before, discarding."""
    from workbench.ui.main_window import MainWindow
    monkeypatch.setattr(MainWindow, "_ask_close", lambda self, dirty, running: "discard")


WINDOW_WAIT = 90_000


@pytest.fixture
def window(qtbot, folder):
    """The main window shown, focused and with ``folder`` loaded, as a user starts it (a
    module may define its own ``window`` instead)."""
    from workbench.ui.main_window import MainWindow
    from workbench.ui.session import Session
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    with qtbot.waitSignal(win.session.table_changed, timeout=WINDOW_WAIT):
        win.data_panel.load_source(str(folder))
    yield win
    win.confirm_close = False  # closing asks over unsaved settings: not what is tested here
    win.close()
