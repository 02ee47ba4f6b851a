"""The Sweep tab driven as a user drives it: search toggles in the Model panel, Start, rows
arriving live, the best saved as a preset, the study reopened and continued, a trial's run
opened in the other tabs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from fixtures import tiny_config
from workbench.core.presets import load_preset

WAIT = 120_000


@pytest.fixture
def window(window):
    window.session.replace_config(tiny_config(window.session.config.data.source,
                                              "training.epochs=3"), preset="tiny")
    return window


def toggle(window, key: str, text: str | None = None):
    section, _, name = key.rpartition(".")
    form = window.model_panel.forms[section]
    form.search_button(name).click()
    if text is not None:
        edit = form.search_edit(name)
        edit.setText(text)
        edit.editingFinished.emit()
    return form


def settled(qtbot, view):
    """The tab has read the sweeps folder and the chosen study (a background thread)."""
    qtbot.waitUntil(lambda: not view.loading, timeout=WAIT)


def choose(qtbot, view, name: str):
    settled(qtbot, view)
    view.study.setEditText(name)
    settled(qtbot, view)


def run_sweep(qtbot, view, trials: int):
    view.trials.setValue(trials)
    with qtbot.waitSignal(view.controller.running_changed, timeout=5_000):
        qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.controller.running, timeout=WAIT)
    settled(qtbot, view)


def test_search_toggles_start_a_sweep_whose_rows_and_plots_fill(window, qtbot):
    form = toggle(window, "optimizer.lr")
    assert window.session.search == {"optimizer.lr": "1e-05..0.1:log"}
    assert not form.editor("lr").isEnabled()  # the sweep sets it now
    toggle(window, "model.hidden_dim", "16,24")
    view = window.sweep_view
    window.tabs.setCurrentWidget(window.views.page("sweep"))
    assert "optimizer.lr over 1e-05..0.1:log" in view.space_label.text()
    choose(qtbot, view, "tiny-gui")
    seen = []
    view.controller.event.connect(lambda e: seen.append(e["event"]))
    run_sweep(qtbot, view, 3)
    assert seen.count("started") == 3 and seen.count("ended") == 3 and "epoch" in seen
    qtbot.waitUntil(lambda: view.table.rowCount() == 3)
    states = {view.table.item(r, 1).text() for r in range(3)}
    assert states <= {"complete", "pruned"} and "complete" in states
    headers = [view.table.horizontalHeaderItem(c).text()
               for c in range(view.table.columnCount())]
    assert headers[:5] == ["#", "State", "mean_recall", "lr", "hidden_dim"]
    assert view.plots.drawn_lines >= 1
    assert view.status.text().startswith("Ended:")
    assert view.start_button.text() == "Continue study"  # it is in the sweeps folder now

    path = view.save_best("tiny-gui-best")
    assert path is not None and path.is_file()
    best = view.best_row()
    saved = load_preset("tiny-gui-best")
    assert saved.optimizer.lr == best["params"]["optimizer.lr"]
    assert saved.model.hidden_dim == best["params"]["model.hidden_dim"]

    opened = []
    window.open_run = opened.append  # what the window does with it is its own test's
    view.run_opened.disconnect()
    view.run_opened.connect(window.open_run)
    view.table.selectRow(0)
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert len(opened) == 1 and opened[0].summary["sweep"]["study"] == "tiny-gui"


def test_a_study_reopens_with_its_trials_and_continues(window, qtbot):
    toggle(window, "optimizer.lr")
    view = window.sweep_view
    choose(qtbot, view, "again")
    run_sweep(qtbot, view, 2)
    # the user turns the search off, picks another study, then comes back to this one
    toggle(window, "optimizer.lr")
    choose(qtbot, view, "something-else")
    assert view.table.rowCount() == 0 and view.start_button.text() == "Start"
    choose(qtbot, view, "again")
    assert view.table.rowCount() == 2 and view.start_button.text() == "Continue study"
    assert "Study 'again' (tiny) searches optimizer.lr over 1e-05..0.1:log" in \
        view.space_label.text()
    run_sweep(qtbot, view, 1)  # with the study's own settings, not the (empty) search
    assert view.table.rowCount() == 3
    assert sorted(view.rows) == [0, 1, 2]


def test_start_without_a_search_or_with_a_bad_range_says_why(window, qtbot):
    view = window.sweep_view
    choose(qtbot, view, "empty")
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert not view.controller.running
    assert "nothing to search" in view.status.text()
    form = toggle(window, "optimizer.lr", "1e-9..1")
    assert "1e-06 to 10" in form.errors()["lr"]  # said under the row at once
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert not view.controller.running
    assert "optimizer.lr" in view.status.text() and "1e-06 to 10" in view.status.text()


def test_stop_ends_the_running_trial_and_the_study_keeps_it_failed(window, qtbot):
    window.session.set_value("training.epochs", 400)
    toggle(window, "optimizer.lr")
    view = window.sweep_view
    choose(qtbot, view, "stopped")
    view.trials.setValue(5)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(r["intermediate"] for r in view.rows.values()),
                    timeout=WAIT)
    qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    assert view.controller.paused and view.pause_button.text() == "Resume"
    qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.controller.running, timeout=WAIT)
    assert [r["state"] for r in view.rows.values()] == ["fail"]
    assert "stopped" in view.rows[0]["reason"]
