"""The main window's hidden tabs are built after its first paint, or the moment they are
needed: shown, asked for in code, or sent a run's events."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget

from workbench.core.training.events import FitStarted
from workbench.ui.app import GuiOptions, build_window
from workbench.ui.deferred_tabs import DeferredTabs
from workbench.ui.main_window import MainWindow
from workbench.ui.plots.attention_view import AttentionView
from workbench.ui.plots.training_view import TrainingView
from workbench.ui.session import Session

HIDDEN = ("attention", "embedding", "retrieval", "compare", "runs")


def test_a_page_is_built_once_when_shown_or_asked_for(qtbot):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    made = []

    def factory(name):
        def make():
            made.append(name)
            return QLabel(name)
        return make

    tabs.addTab(QLabel("first"), "First")
    views = DeferredTabs(tabs)
    views.add("a", "A", factory("a"))
    views.add("b", "B", factory("b"))
    assert made == [] and views.built("a") is None
    tabs.setCurrentIndex(2)  # showing B builds B, inside B's page
    assert made == ["b"] and views.built("b").parent() is views.page("b")
    assert views.get("a").text() == "a" and views.get("a") is views.get("a")
    views.build_all()
    assert made == ["b", "a"]


def test_the_window_paints_before_its_hidden_tabs_exist_then_builds_them(qtbot):
    window = MainWindow(Session())
    qtbot.addWidget(window)
    assert all(window.views.built(name) is None for name in HIDDEN)
    window.show()
    qtbot.waitUntil(lambda: all(window.views.built(n) is not None for n in HIDDEN),
                    timeout=10_000)
    assert isinstance(window.attention_view, AttentionView)
    assert window.attention_view.isVisibleTo(window.views.page("attention"))


def test_a_tab_picked_before_the_first_paint_is_built_for_it(qtbot):
    window = MainWindow(Session())
    qtbot.addWidget(window)
    window.select_tab("Compare")
    assert window.views.built("compare") is not None
    assert window.views.built("attention") is None
    window.close()  # never shown: closing must not build the rest
    assert window.views.built("embedding") is None


def test_a_view_built_late_still_follows_the_run(qtbot):
    """A view built on first access connects to the controller then: the run's start
    resets it like any other."""
    window = MainWindow(Session())
    qtbot.addWidget(window)
    view = window.attention_view
    view._info.setText("stale")
    window.controller.started.emit(FitStarted("contrastive", "mean", 3, 1, 10, 100, 20, "cpu",
                                              1000, None))
    assert view._info.text() == ""


def test_the_adversarial_view_is_built_for_the_first_adversarial_run(qtbot):
    view = TrainingView()
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()

    def started(algorithm):
        return FitStarted(algorithm, "mean", 3, 1, 10, 100, 20, "cpu", 1000, None)

    view.reset(started("contrastive"))
    assert view._adversarial_view is None and not view.adversarial
    view.reset(started("adversarial"))
    assert view._adversarial_view is not None and view.adversarial
    curves, game = view.splitter.sizes()  # the curves keep the larger share
    assert curves > game > 100
    view.reset(started("contrastive"))  # built once, then only hidden
    assert view._adversarial_view is not None and not view.adversarial


def test_the_data_starts_loading_once_the_window_has_painted(qtbot):
    window = build_window(GuiOptions())
    qtbot.addWidget(window)
    qtbot.wait(300)  # no paint yet: no load either
    assert window.session.table is None
    with qtbot.waitSignal(window.session.table_changed, timeout=60_000):
        window.show()
    assert window.session.table is not None and len(window.session.table) > 1000
    window.after_first_paint(lambda: window.setWindowTitle("later"))  # painted: runs soon
    qtbot.waitUntil(lambda: window.windowTitle() == "later", timeout=5_000)


def test_a_retrieval_tab_first_built_mid_run_says_the_run_is_training(qtbot, monkeypatch):
    from workbench.ui.plots.retrieval_view import NO_MODEL, TRAINING
    window = MainWindow(Session())
    qtbot.addWidget(window)
    window.controller.running_changed.emit(True)  # before the tab exists: nothing built
    assert window.views.built("retrieval") is None
    monkeypatch.setattr(type(window.controller), "running", property(lambda self: True))
    assert window.retrieval_view.header.text() == TRAINING
    window.controller.running_changed.emit(False)
    assert window.retrieval_view.header.text() == NO_MODEL


def test_the_window_and_every_tab_module_import_without_torch():
    """torch takes a second to import: the window paints first (the start-up bench row
    'torch imported before the first paint'). Reading how scores are judged (chance, the
    metrics' names) must not pull it in."""
    import subprocess
    import sys
    code = ("import sys; import workbench.ui.main_window, workbench.ui.plots.compare_view, "
            "workbench.ui.plots.metrics_table, workbench.ui.plots.training_view, "
            "workbench.ui.panels.runs_view, workbench.ui.panels.model_panel; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120, env={**__import__("os").environ,
                                                       "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.strip() == "[]", out.stdout[:300]
