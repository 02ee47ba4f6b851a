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
