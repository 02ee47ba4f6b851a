"""The run controls as a user drives them: Ctrl+P pauses and resumes as often as pressed,
the elapsed time, ETA and duration leave pauses out, and the bar shows the run opened from
the Runs tab, not the last one trained."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from fixtures import tiny_config
from workbench.core.runs.store import read_run
from workbench.core.training.events import FitStarted, StepLogged
from workbench.ui.main_window import MainWindow
from workbench.ui.training_bar import TrainingBar, format_seconds
from workbench.ui.worker import TrainingController

WAIT = 90_000


def start_long_run(qtbot, win: MainWindow) -> None:
    """A run far longer than the test: it is paused and stopped by hand."""
    cfg = tiny_config(win.session.table.source, "algorithm.name=classifier",
                      "fusion.name=late", "training.epochs=100000")
    win.session.replace_config(cfg, preset="")
    with qtbot.waitSignal(win.controller.started, timeout=WAIT):
        win.start_training()
    qtbot.waitUntil(lambda: "step" in win.training_bar.progress.format(), timeout=WAIT)


def stop(qtbot, win: MainWindow):
    with qtbot.waitSignal(win.controller.stopped, timeout=WAIT) as ended:
        win.training_bar.stop_button.click()
    qtbot.waitUntil(lambda: not win.controller.running, timeout=WAIT)
    return ended.args[0]


def test_ctrl_p_pauses_and_resumes_every_time(qtbot, window):
    start_long_run(qtbot, window)
    bar = window.training_bar
    for paused in (True, False, True):
        qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
        # A shortcut "clicks" the button as the mouse does: released 100 ms later.
        qtbot.waitUntil(lambda: window.controller.paused is paused, timeout=2000)
        assert bar.pause_button.text() == ("Resume" if paused else "Pause")
        assert bar.pause_button.shortcut().toString() == "Ctrl+P"
    stop(qtbot, window)
    # A new run starts unpaused, with the shortcut still there.
    assert bar.pause_button.text() == "Pause"
    assert bar.pause_button.shortcut().toString() == "Ctrl+P"


def test_elapsed_time_and_duration_leave_the_pause_out(qtbot, window):
    t0 = time.monotonic()  # the whole fit, its start and end included, is after this
    start_long_run(qtbot, window)
    bar = window.training_bar
    bar.pause_button.click()
    qtbot.wait(2500)
    bar.pause_button.click()
    # Some steps after the pause, so the bar has shown an elapsed time since it.
    steps = []
    window.controller.steps_logged.connect(steps.extend)
    qtbot.waitUntil(lambda: len(steps) >= 20, timeout=WAIT)
    end = stop(qtbot, window)
    wall = time.monotonic() - t0
    # The run trained for at most the wall time less the 2.5 s pause (the trainer's pause
    # starts when the loop sees the flag, after the step under way: a few ms here).
    assert end.seconds < wall - 2.0, (end.seconds, wall)
    assert steps[-1].seconds < wall - 2.0
    assert read_run(end.run_dir).seconds == pytest.approx(end.seconds, abs=0.01)
    assert bar.detail.text() == format_seconds(end.seconds)


def started_bar(qtbot, epochs: int) -> tuple[TrainingController, TrainingBar]:
    """A training bar whose run of ``epochs`` epochs of 10 steps has just started."""
    controller = TrainingController()
    bar = TrainingBar(controller)
    qtbot.addWidget(bar)
    controller.paused = False
    bar._on_started(FitStarted("classifier", "late", epochs=epochs, start_epoch=1,
                               steps_per_epoch=10, train_size=80, val_size=20, device="cpu",
                               parameters=1))
    return controller, bar


def test_eta_is_the_remaining_share_of_training_time(qtbot):
    controller, bar = started_bar(qtbot, epochs=4)
    # A quarter done after 30 s of training: 90 s left, whatever the wall clock says.
    controller.steps_logged.emit([StepLogged(10, 1, 1.0, {"loss": 1.0}, 0.1, 8, 30.0)])
    assert bar.detail.text() == "0:30 elapsed · ETA 1:30 · … pairs/s"  # one step: no pace
    assert bar.progress.value() == 250


def test_the_bar_shows_pairs_a_second_and_streamed_shards_read(qtbot):
    controller, bar = started_bar(qtbot, epochs=1)
    # 8 pairs a step, a step every 0.5 s; streamed from 10 shards, 3 read so far
    controller.steps_logged.emit([StepLogged(k, 1, k / 10, {"loss": 1.0}, 0.1, 8, 0.5 * k,
                                             shards=(3, 10)) for k in range(1, 5)])
    assert bar.detail.text() == "0:02 elapsed · ETA 0:03 · 16 pairs/s · shards 3/10"


def test_opening_a_run_shows_it_in_the_progress_bar(qtbot, window):
    cfg = tiny_config(window.session.table.source, "algorithm.name=classifier",
                      "fusion.name=late", "training.epochs=2")
    window.session.replace_config(cfg, preset="")
    with qtbot.waitSignal(window.controller.finished, timeout=WAIT) as ended:
        window.start_training()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=WAIT)
    first = ended.args[0]
    assert window.training_bar.progress.format().startswith("finished — epoch 2")
    start_long_run(qtbot, window)
    second = stop(qtbot, window)
    assert window.training_bar.progress.format().startswith("stopped")
    run = next(r for r in window.runs_view.runs() if str(r.path) == first.run_dir)
    window.runs_view.select([run])
    window.runs_view.open_selected()
    text = window.training_bar.progress.format()
    assert run.id in text and "finished" in text and "epoch 2/2" in text, text
    assert window.training_bar.progress.value() == 1000
    assert window.training_bar.detail.text() == format_seconds(run.seconds)
    assert second.run_dir != first.run_dir
