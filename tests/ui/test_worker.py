"""Training on a QThread: signals, stop, shutdown, no per-step signal flood."""

from __future__ import annotations

from fixtures import tiny_config
from workbench.core.data import load_pairs
from workbench.ui.tasks import BackgroundTask
from workbench.ui.worker import TrainingController


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
    with qtbot.waitSignal(ctl.finished, timeout=60_000) as end:
        ctl.start(cfg, table, run_dir=tmp_path / "run")
        assert ctl.running
    assert end.args[0].status == "finished"
    assert not ctl.running
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    assert attention and "text_to_image" in attention[-1].maps
    assert len(ticks) < len(steps) or len(steps) <= 3  # several steps per signal
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
