"""Training on a QThread: signals, stop, shutdown, no per-step signal flood."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from fixtures import tiny_config
from workbench.core.data import load_pairs
from workbench.ui.tasks import BackgroundTask
from workbench.ui.thread_priority import TRAINING_NICE, thread_nice
from workbench.ui.frame_pacer import FASTEST_MS
from workbench.ui.worker import EventBuffer, TrainingController, TrainingWorker


def test_a_run_streams_events_and_finishes(qtbot, folder, tmp_path):
    cfg = tiny_config(folder, "training.epochs=3", "algorithm.name=classifier",
                      "fusion.name=coattention")
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    ctl = TrainingController()
    steps, epochs, attention = [], [], []
    ctl.steps_logged.connect(steps.extend)
    ctl.epochs_ended.connect(epochs.extend)
    ctl.attention_updated.connect(attention.append)
    ticks = []
    ctl.steps_logged.connect(lambda batch: ticks.append(len(batch)))
    t0 = time.perf_counter()
    with qtbot.waitSignal(ctl.finished, timeout=60_000) as end:
        ctl.start(cfg, table, run_dir=tmp_path / "run")
        assert ctl.running
    seconds = time.perf_counter() - t0
    assert end.args[0].status == "finished"
    assert not ctl.running
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    assert attention and "text_to_image" in attention[-1].maps
    # Signals follow the drain timer, not the steps: at most one batch per tick, however
    # fast training runs (on a loaded machine a step can outlast a tick, so fewer steps per
    # batch is fine; more batches than ticks is not).
    assert sum(ticks) == len(steps)
    assert len(ticks) <= seconds * 1000 / FASTEST_MS + 2
    assert (tmp_path / "run" / "run.json").is_file()


def test_stop_ends_with_stopped(qtbot, folder):
    cfg = tiny_config(folder, "training.epochs=1000")
    ctl = TrainingController()
    with qtbot.waitSignal(ctl.steps_logged, timeout=60_000):
        ctl.start(cfg, None)
    with qtbot.waitSignal(ctl.stopped, timeout=10_000) as end:
        ctl.stop()
    assert end.args[0].status == "stopped"


def test_shutdown_joins_the_thread(qtbot, folder):
    cfg = tiny_config(folder, "training.epochs=1000")
    ctl = TrainingController()
    ended = []
    ctl.stopped.connect(ended.append)
    with qtbot.waitSignal(ctl.steps_logged, timeout=60_000):
        ctl.start(cfg, None)
    assert ctl.shutdown(10_000)
    assert not ctl.running and len(ended) == 1
    qtbot.wait(100)  # the queued end from the worker is ignored
    assert len(ended) == 1


def test_failure_is_reported(qtbot, tmp_path):
    cfg = tiny_config(tmp_path / "missing.csv")
    ctl = TrainingController()
    with qtbot.waitSignal(ctl.failed, timeout=30_000) as end:
        ctl.start(cfg, None)
    assert "no such file" in end.args[0].reason


def test_background_task(qtbot):
    task = BackgroundTask(lambda: 6 * 7)
    with qtbot.waitSignal(task.succeeded) as got:
        task.start()
    assert got.args == [42]
    bad = BackgroundTask(lambda: 1 / 0)
    with qtbot.waitSignal(bad.failed) as err:
        bad.start()
    assert isinstance(err.args[0], ZeroDivisionError)


def test_many_steps_between_ticks_arrive_as_one_signal(qtbot):
    """The buffer, not the steps, sets the signal rate: 500 steps logged between two ticks
    reach the GUI as one ``steps_logged`` with all 500, in order."""
    from workbench.core.training.events import StepLogged
    from workbench.ui.worker import EventBuffer

    ctl = TrainingController()
    ctl._buffer = buffer = EventBuffer()
    batches = []
    ctl.steps_logged.connect(batches.append)
    for i in range(1, 501):
        buffer.on_step_end(None, StepLogged(i, 1, i / 500, {"loss": 1.0 / i}, 1e-3, 8, i / 100))
    ctl._drain()
    assert len(batches) == 1 and [s.step for s in batches[0]] == list(range(1, 501))
    ctl._drain()
    assert len(batches) == 1  # nothing new: no signal


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice: Linux")
def test_training_runs_below_the_gui_threads_priority(qtbot, folder):
    """The training thread is lowered before its first torch work; the GUI thread is not."""
    seen = {}

    class Recording(TrainingWorker):
        def _fit(self, trainer):
            seen["training"] = thread_nice()
            return super()._fit(trainer)

    ctl = TrainingController()
    gui = thread_nice()
    with qtbot.waitSignal(ctl.finished, timeout=60_000):
        ctl._launch(Recording(tiny_config(folder), None, EventBuffer()))
    assert seen["training"] == min(19, gui + TRAINING_NICE)
    assert thread_nice() == gui


def test_a_run_leaves_no_python_thread_object_behind(qtbot, folder):
    """The training QThread is not one Python started: asking ``threading`` about it would
    register a dummy Thread that outlives it (and made the 20-cycle test flaky)."""
    before = threading.active_count()
    ctl = TrainingController()
    with qtbot.waitSignal(ctl.finished, timeout=60_000):
        ctl.start(tiny_config(folder), None)
    assert threading.active_count() == before, threading.enumerate()


def test_pretrained_features_computed_by_a_run_show_their_progress_and_stop(qtbot, folder,
                                                                            tmp_path):
    """Features the Data panel has not cached are computed by the run: their progress
    reaches the training bar's signal, and Stop during that ends the run as stopped."""
    pytest.importorskip("transformers")
    from workbench.ui.training_bar import TrainingBar
    cfg = tiny_config(folder, "model.text_encoder=pretrained")
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    ctl = TrainingController()
    bar = TrainingBar(ctl)
    qtbot.addWidget(bar)
    stages = []
    ctl.preparing.connect(lambda stage, done, total: stages.append((stage, done, total)))
    with qtbot.waitSignal(ctl.finished, timeout=120_000):
        ctl.start(cfg, table)
    assert stages and stages[-1][0] == "captions" and stages[-1][1] == stages[-1][2] \
        == len(table)
    ctl.preparing.emit("captions", 3, 12)  # as the bar shows it while preparing
    ctl.running_changed.emit(True)
    ctl.preparing.emit("captions", 3, 12)
    assert bar.progress.format() == "preparing: captions 3/12" and bar.progress.value() == 250
    ctl.running_changed.emit(False)

    stopped = tiny_config(folder, "model.text_encoder=pretrained", "preprocess.max_tokens=5")
    with qtbot.waitSignal(ctl.stopped, timeout=120_000) as end:
        ctl.start(stopped, table, run_dir=tmp_path / "run")
        ctl.stop()  # before the model has read a batch of captions
    assert end.args[0].status == "stopped"
    assert "preparing the data" in end.args[0].reason
