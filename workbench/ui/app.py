"""Starting the application: the window on the chosen data and preset, and the scripted
options (start training, pick a tab, save a screenshot after N seconds and quit)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class GuiOptions:
    data: str | None = None
    images: str | None = None
    preset: str | None = None
    train: bool = False
    tab: str | None = None
    screenshot: str | None = None
    after: float = 5.0


DEFAULT_PRESET = "contrastive-emoji"


def run_gui(options: GuiOptions) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .gui_gc import collect_on_gui_thread

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Multimodal Workbench")
    collect_on_gui_thread(app)
    window = build_window(options)
    window.show()
    if options.screenshot:
        QTimer.singleShot(int(options.after * 1000),
                          lambda: _screenshot_and_quit(window, options.screenshot))
    code = app.exec()
    # Tear the window down while the QApplication still exists: left to interpreter exit,
    # Python frees the Qt objects in no fixed order, which can crash the process (a
    # segfault after the window closed cleanly, seen when closing mid-training).
    from PySide6.QtCore import QCoreApplication, QEvent
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    window = None  # the last reference, before the collection below
    import gc
    gc.collect()
    return code


def build_window(options: GuiOptions):
    """The main window set up as ``options`` say (data loading starts, off the GUI thread,
    when the window has painted; with ``train`` the run starts as soon as the data is in)."""
    from ..core import config as C
    from ..core.errors import WorkbenchError
    from ..core.presets import load_preset
    from .main_window import MainWindow
    from .session import Session

    error = None
    preset = options.preset or DEFAULT_PRESET
    try:
        cfg = load_preset(preset)
    except WorkbenchError as exc:
        error = str(exc)
        cfg, preset = C.ExperimentConfig(), ""
    name = Path(preset).stem if preset.endswith(".toml") else preset
    session = Session(cfg)
    session.replace_config(cfg, preset=name)
    window = MainWindow(session)
    if options.tab:
        window.select_tab(options.tab)
    if error:
        window.show_error("Cannot load the preset", error)
    if options.train:
        def start_once(table):
            session.table_changed.disconnect(start_once)
            window.start_training()
            if options.tab:  # starting shows the Training tab; the asked-for tab wins
                window.select_tab(options.tab)
        session.table_changed.connect(start_once)
    # Loading starts once the window is on screen: a load running beside the window's
    # construction holds the interpreter lock half the time and delays the first paint.
    window.after_first_paint(lambda: window.data_panel.load_source(
        options.data or cfg.data.source, options.images or ""))
    return window


def _screenshot_and_quit(window, path: str) -> None:
    from PySide6.QtWidgets import QApplication
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(path)
    window.confirm_close = False  # scripted: nobody is there to answer
    window.close()
    QApplication.instance().quit()
