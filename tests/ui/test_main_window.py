"""The whole window, as a user drives it: load emoji, train every algorithm, stop, presets,
bad input, responsiveness, closing mid-run."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.core import config as C
from workbench.core.presets import load_preset
from workbench.ui.app import GuiOptions, build_window
from workbench.ui.main_window import MainWindow
from workbench.ui.session import Session

# One preset per algorithm, shortened so each run takes seconds on emoji.
RUNS = {
    "contrastive": ("contrastive-emoji", False),
    "classifier": ("classifier-coattention-emoji", True),
    "autoencoder": ("autoencoder-emoji", False),
    "adversarial": ("adversarial-generate-emoji", False),
    "graph": ("graph-gat-emoji", True),
}
FAST = ["training.epochs=3", "preprocess.image_size=16", "model.embed_dim=16",
        "model.hidden_dim=32"]


@pytest.fixture
def window(qtbot):
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.session.table_changed, timeout=60_000):
        win.data_panel.load_source("builtin:emoji")
    yield win
    win.close()


def loss_points(win: MainWindow) -> int:
    steps = win.training_view.loss_plot.panels[0].steps
    return len(steps["loss"].series) if "loss" in steps else 0


def wait_ready(qtbot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: not win.controller.running, timeout=60_000)
    assert win.training_bar.start_button.isEnabled()
    assert win.settings.isEnabled()


@pytest.mark.parametrize("algorithm", list(RUNS))
def test_train_each_algorithm_until_curves_then_stop(qtbot, window, algorithm):
    preset, has_attention = RUNS[algorithm]
    cfg = C.apply_overrides(load_preset(preset), FAST + ["training.epochs=200"])
    window.session.replace_config(cfg, preset=preset)
    qtbot.mouseClick(window.training_bar.start_button, Qt.MouseButton.LeftButton)
    assert window.controller.running and not window.settings.isEnabled()
    qtbot.waitUntil(lambda: loss_points(window) >= 2, timeout=90_000)
    if has_attention:
        view = window.attention_view
        qtbot.waitUntil(lambda: view.placeholder_text is None, timeout=90_000)
        if algorithm == "classifier":  # co-attention: the word x patch heatmap has an image
            assert view.coattention.values.size > 0
    with qtbot.waitSignal(window.controller.stopped, timeout=30_000) as ended:
        qtbot.mouseClick(window.training_bar.stop_button, Qt.MouseButton.LeftButton)
    assert ended.args[0].status == "stopped"
    wait_ready(qtbot, window)
    assert "stopped" in window.training_bar.progress.format()


def test_a_finished_run_writes_its_run_folder(qtbot, window):
    cfg = C.apply_overrides(load_preset("classifier-late-emoji"), FAST + ["training.epochs=1"])
    window.session.replace_config(cfg, preset="classifier-late-emoji")
    with qtbot.waitSignal(window.controller.finished, timeout=90_000) as ended:
        window.start_training()
    end = ended.args[0]
    assert (end.status, end.epoch) == ("finished", 1)
    assert "accuracy" in end.metrics
    wait_ready(qtbot, window)
    assert C.load(f"{end.run_dir}/config.toml") == cfg


def test_the_runs_tab_lists_a_run_while_it_trains(qtbot, window):
    runs = window.runs_view  # built before the run, as when the user looked at it first
    before = len(runs.runs())
    cfg = C.apply_overrides(load_preset("contrastive-emoji"), FAST + ["training.epochs=200"])
    window.session.replace_config(cfg, preset="contrastive-emoji")
    with qtbot.waitSignal(window.controller.started, timeout=60_000):
        window.start_training()
    qtbot.waitUntil(lambda: len(runs.runs()) == before + 1, timeout=10_000)
    assert [r.status for r in runs.runs()].count("running") == 1
    with qtbot.waitSignal(window.controller.stopped, timeout=30_000):
        window.training_bar.stop_button.click()
    wait_ready(qtbot, window)
    assert all(r.status != "running" for r in runs.runs())


def test_gui_stays_responsive_while_training(qtbot, window):
    cfg = C.apply_overrides(load_preset("classifier-attention-emoji"),
                            ["training.epochs=200", "preprocess.image_size=16"])
    window.session.replace_config(cfg, preset="x")
    lateness: list[float] = []
    last = [time.perf_counter()]
    timer = QTimer()
    timer.setInterval(10)

    def beat():
        now = time.perf_counter()
        lateness.append(now - last[0] - 0.010)
        last[0] = now

    timer.timeout.connect(beat)
    window.start_training()
    qtbot.waitUntil(lambda: loss_points(window) >= 2, timeout=90_000)
    last[0] = time.perf_counter()
    timer.start()
    qtbot.wait(3000)
    timer.stop()
    window.controller.stop()
    wait_ready(qtbot, window)
    assert len(lateness) > 50
    assert max(lateness) < 0.250, f"event loop stalled {max(lateness) * 1000:.0f} ms"


def _close_error_box(qtbot) -> str:
    box = None

    def found():
        nonlocal box
        box = next((w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMessageBox) and w.isVisible()), None)
        return box is not None

    qtbot.waitUntil(found, timeout=10_000)
    text = box.text() + "\n" + (box.detailedText() or "")
    box.close()
    return text


def test_invalid_preset_shows_an_error_and_the_window_still_works(qtbot, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nepochs = -3\n")
    win = build_window(GuiOptions(preset=str(bad)))
    qtbot.addWidget(win)
    win.show()
    text = _close_error_box(qtbot)
    assert "training.epochs" in text and "bad.toml" in text
    assert win.session.config.algorithm.name  # a usable default config is loaded
    win.data_panel.shutdown()


def test_corrupt_data_file_shows_an_error_and_keeps_the_data(qtbot, window, tmp_path):
    bad = tmp_path / "pairs.csv"
    bad.write_bytes(b"image,caption\nx.png,caf\xe9 au lait\n")
    window.data_panel.load_source(str(bad))
    text = _close_error_box(qtbot)
    assert "not UTF-8" in text and "pairs.csv" in text
    assert window.session.table is not None and len(window.session.table) == 1870


def test_a_failing_run_reports_and_the_ui_is_ready_again(qtbot, window):
    cfg = C.apply_overrides(load_preset("graph-gcn-emoji"), FAST)
    cfg.algorithm.params.edge_holdout = 0.0
    cfg.algorithm.params.node_weight = 0.0  # nothing to learn: the run refuses
    window.session.replace_config(cfg, preset="")
    with qtbot.waitSignal(window.controller.failed, timeout=60_000):
        window.start_training()
    assert "nothing to learn" in _close_error_box(qtbot)
    wait_ready(qtbot, window)


def test_closing_the_window_mid_run_stops_cleanly(qtbot):
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.session.table_changed, timeout=60_000):
        win.data_panel.load_source("builtin:emoji")
    win.session.replace_config(C.apply_overrides(load_preset("contrastive-emoji"),
                                                 FAST + ["training.epochs=500"]))
    win.start_training()
    qtbot.waitUntil(lambda: loss_points(win) >= 1, timeout=60_000)
    win.close()
    assert not win.controller.running


def test_presets_load_into_every_panel(qtbot, window):
    window.presets_panel.select("graph-gat-emoji")
    window.presets_panel.load_selected()
    assert window.session.config == load_preset("graph-gat-emoji")
    assert window.model_panel.algorithm_combo.currentData() == "graph"
    assert "graph-gat-emoji" in window.windowTitle()
    window.session.set_value("training.epochs", 7)
    assert window.windowTitle().endswith("*")


# ---------------------------------------------------------------- run names, closing

def test_runs_are_named_after_what_trains(qtbot, monkeypatch):
    win = MainWindow(Session())
    qtbot.addWidget(win)
    started: list[tuple[str, str]] = []
    monkeypatch.setattr(win.controller, "start", lambda cfg, table, run_dir, preset, **kw:
                        started.append((run_dir.name, preset)))
    monkeypatch.setattr(win.controller, "start_many", lambda configs, table, run_dirs, preset:
                        started.extend((run_dirs(i, c).name, preset)
                                       for i, c in enumerate(configs)))
    win.session.replace_config(load_preset("contrastive-emoji"), preset="contrastive-emoji")
    win.start_training()  # the preset, unchanged: its name
    assert started[-1][0].endswith("-contrastive-emoji")
    assert started[-1][1] == "contrastive-emoji"
    combo = win.model_panel.algorithm_combo
    combo.setCurrentIndex(combo.findData("classifier"))
    win.start_training()  # changed: algorithm-fusion-data, and the preset marked changed
    assert started[-1][0].endswith("-classifier-mean-emoji")
    assert started[-1][1] == "contrastive-emoji (changed)"
    del started[:]
    win.compare_fusions()
    assert all(preset == "contrastive-emoji (changed)" for _, preset in started)
    assert {name.split("-", 2)[-1] for name, _ in started} >= \
        {"classifier-late-emoji", "classifier-coattention-emoji"}


class CloseAnswers:
    """Answers to the close question, and the questions asked ((dirty, running) each)."""

    def __init__(self, monkeypatch, *answers: str):
        self.answers = list(answers)
        self.asked: list[tuple[bool, bool]] = []
        monkeypatch.setattr(MainWindow, "_ask_close",
                            lambda window, dirty, running: self._ask(dirty, running))

    def _ask(self, dirty, running):
        self.asked.append((dirty, running))
        return self.answers.pop(0) if self.answers else "discard"  # the test's end


def test_closing_asks_when_settings_are_unsaved(qtbot, monkeypatch):
    from workbench.core.presets import user_presets_dir
    from workbench.ui.panels.presets_panel import PresetsPanel
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.session.replace_config(load_preset("contrastive-emoji"), preset="contrastive-emoji")
    win.show()
    answers = CloseAnswers(monkeypatch, "cancel", "save", "save", "discard")
    assert win.close()  # unchanged settings: closes without a word
    assert answers.asked == []

    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.session.replace_config(load_preset("contrastive-emoji"), preset="contrastive-emoji")
    win.show()
    qtbot.waitExposed(win)
    win.session.set_value("training.epochs", 7)
    assert win.windowTitle().endswith("*")
    win.activateWindow()
    qtbot.waitActive(win)
    # Ctrl+Q, through the window system as a key press is (so the shortcut sees it): Cancel
    QTest.keyClick(win.windowHandle(), Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert answers.asked == [(True, False)] and win.isVisible()

    names = [None, "mine"]  # Save: Save as… (a built-in) asks a name; cancelled: stays open
    monkeypatch.setattr(PresetsPanel, "_ask_name", lambda self, title, default: names.pop(0))
    monkeypatch.setattr(PresetsPanel, "_ask_description", lambda self, title, label, text:
                        "Seven epochs.")
    assert not win.close() and win.isVisible()
    assert not (user_presets_dir() / "mine.toml").exists()
    assert win.close() and not win.isVisible()  # Save again, named: saved, then closed
    saved = C.load(user_presets_dir() / "mine.toml")
    assert saved.training.epochs == 7 and saved.description == "Seven epochs."

    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.show()
    win.session.set_value("training.epochs", 9)
    assert win.close()  # Discard
    assert answers.asked[-1] == (True, False) and answers.answers == []


def test_closing_asks_while_a_run_trains_and_stops_it_keeping_its_checkpoint(qtbot,
                                                                            monkeypatch):
    from workbench.core.runs.store import list_runs
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.session.table_changed, timeout=60_000):
        win.data_panel.load_source("builtin:emoji")
    cfg = C.apply_overrides(load_preset("contrastive-emoji"), FAST + ["training.epochs=500"])
    win.session.replace_config(cfg, preset="contrastive-emoji")  # saved: only the run counts
    answers = CloseAnswers(monkeypatch, "cancel", "discard")
    win.start_training()
    qtbot.waitUntil(lambda: loss_points(win) >= 1, timeout=60_000)
    assert not win.close()
    assert answers.asked == [(False, True)] and win.controller.running and win.isVisible()
    assert win.close()
    assert not win.controller.running and answers.asked[-1] == (False, True)
    [run] = list_runs()
    assert run.status == "stopped" and (run.path / "checkpoints" / "last.pt").is_file()
    assert run.id.endswith("-contrastive-emoji") and run.preset == "contrastive-emoji"
