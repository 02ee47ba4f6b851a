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
