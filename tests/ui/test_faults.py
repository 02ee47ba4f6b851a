"""Faults while training (issue 7, item 2), driven through the main window as a user would:
a loss that turns NaN, an exception inside each algorithm's step, Stop in the middle of a
long epoch, closing the window mid-run (in a real process, reading its stderr), and many
start/stop cycles in a row. After each the window says what happened and is ready again.

Faults are injected at the one place every algorithm goes through, ``Optimizers.step`` (each
algorithm's ``training_step`` calls it after computing its losses), so the failure happens
inside the algorithm's own step, mid-update, whatever the algorithm.
(tests/ui/test_main_window.py covers the ordinary Stop button and a closed window in-process.)
"""

from __future__ import annotations

import gc
from collections import Counter
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest
import torch
from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QApplication, QMessageBox

from fixtures import make_image_folder
from workbench.core import config as C
from workbench.core.presets import load_preset
from workbench.core.training.checkpoint import load_checkpoint
from workbench.core.training.optim import Optimizers
from workbench.ui.main_window import MainWindow
from workbench.ui.session import Session

TIMEOUT = 60_000
REPO = Path(__file__).resolve().parents[2]
TINY = ["preprocess.image_size=16", "model.embed_dim=16", "model.hidden_dim=16",
        "training.batch_size=4", "data.val_fraction=0.25", "data.test_fraction=0.0",
        "training.checkpoint_every=1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=3)  # 12 pairs


def preset_config(name: str, folder: Path, *overrides: str) -> C.ExperimentConfig:
    return C.apply_overrides(load_preset(name), [f"data.source={folder}", *TINY, *overrides])


@pytest.fixture
def window(qtbot):
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def use(qtbot, win: MainWindow, cfg: C.ExperimentConfig) -> None:
    """Put ``cfg`` in the session and wait for the Data panel to load its data."""
    if win.session.table is not None and win.session.table.source == cfg.data.source:
        win.session.replace_config(cfg, preset="faults")
        return
    with qtbot.waitSignal(win.session.table_changed, timeout=TIMEOUT):
        win.session.replace_config(cfg, preset="faults")


def error_box_text(qtbot) -> str:
    """The text of the error box the window opened (then closes it, as a user would)."""
    found: list[QMessageBox] = []

    def visible():
        found[:] = [w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMessageBox) and w.isVisible()]
        return bool(found)

    qtbot.waitUntil(visible, timeout=10_000)
    box = found[0]
    text = f"{box.text()}\n{box.detailedText() or ''}"
    box.close()
    return text


def wait_ready(qtbot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: not win.controller.running, timeout=TIMEOUT)
    assert win.training_bar.start_button.isEnabled()
    assert not win.training_bar.stop_button.isEnabled()
    assert win.settings.isEnabled()


# ---------------------------------------------------------------- NaN loss

@pytest.mark.parametrize("when", ["mid-epoch", "at-epoch-end"])
def test_nan_loss_stops_clearly_and_keeps_the_last_good_checkpoint(qtbot, window, folder,
                                                                   monkeypatch, when):
    """Epoch 1 trains and is checkpointed; then the weights turn NaN, either at the first
    update of epoch 2 (the next loss is NaN) or at the last update of epoch 2 (the loss of
    every step was finite: only the weights show it, before epoch 2's checkpoint)."""
    state = {"epochs": 0}
    real_step, real_epoch_end = Optimizers.step, Optimizers.epoch_end

    def poison(optim: Optimizers) -> None:
        with torch.no_grad():
            for opt in optim.optimizers.values():
                for group in opt.param_groups:
                    for p in group["params"]:
                        p.fill_(float("nan"))

    def step(self, name, loss):
        real_step(self, name, loss)
        if when == "mid-epoch" and state["epochs"] == 1:
            poison(self)

    def epoch_end(self):
        state["epochs"] += 1
        if when == "at-epoch-end" and state["epochs"] == 2:
            poison(self)
        real_epoch_end(self)

    monkeypatch.setattr(Optimizers, "step", step)
    monkeypatch.setattr(Optimizers, "epoch_end", epoch_end)
    use(qtbot, window, preset_config("contrastive-emoji", folder, "training.epochs=20"))
    with qtbot.waitSignal(window.controller.failed, timeout=TIMEOUT) as got:
        window.start_training()
    end = got.args[0]
    assert end.epoch == 2 and "finite number" in end.reason, end.reason
    assert "optimizer.lr" in end.reason  # what to try next
    text = error_box_text(qtbot)
    assert "Training failed" in text or "finite" in text
    wait_ready(qtbot, window)
    # The checkpoint kept is epoch 1's, and its weights are numbers.
    ckpt_path = Path(end.run_dir) / "checkpoints" / "last.pt"
    assert str(ckpt_path) in end.reason and "last good checkpoint" in end.reason
    ckpt = load_checkpoint(ckpt_path)
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values()
               if torch.is_tensor(v) and v.is_floating_point())


# ---------------------------------------------------------------- an exception in a step

STEP_PRESETS = ["contrastive-emoji", "classifier-mean-emoji", "autoencoder-emoji",
                "adversarial-generate-emoji", "adversarial-align-emoji", "graph-gcn-emoji"]


@pytest.mark.parametrize("preset", STEP_PRESETS)
def test_an_exception_inside_each_algorithm_step_is_shown_and_the_ui_is_ready_again(
        qtbot, window, folder, monkeypatch, preset):
    calls = {"n": 0}
    real_step = Optimizers.step

    def failing_step(self, name, loss):
        calls["n"] += 1
        if calls["n"] == 3:  # a few steps in: the run is well under way
            raise RuntimeError(f"injected failure in {preset}'s {name!r} update")
        real_step(self, name, loss)

    monkeypatch.setattr(Optimizers, "step", failing_step)
    use(qtbot, window, preset_config(preset, folder, "training.epochs=50"))
    with qtbot.waitSignal(window.controller.failed, timeout=TIMEOUT) as got:
        window.start_training()
    assert "RuntimeError: injected failure in " + preset in got.args[0].reason
    text = error_box_text(qtbot)
    assert f"injected failure in {preset}" in text
    assert "Training failed" in window.statusBar().currentMessage()
    wait_ready(qtbot, window)
    # Ready again means it trains again: the same settings, with the fault gone.
    monkeypatch.setattr(Optimizers, "step", real_step)
    window.session.set_value("training.epochs", 1)
    with qtbot.waitSignal(window.controller.finished, timeout=TIMEOUT):
        window.training_bar.start_button.click()
    wait_ready(qtbot, window)


# ---------------------------------------------------------------- Stop mid-epoch

def test_stop_mid_epoch_returns_within_one_second(qtbot, window, folder, monkeypatch):
    # Each update takes 0.2 s and an epoch has 5 (9 training pairs, batch 2): Stop is pressed
    # with an update under way in the middle of an epoch, and must not wait for its end.
    real_step = Optimizers.step

    def slow_step(self, name, loss):
        time.sleep(0.2)
        real_step(self, name, loss)

    monkeypatch.setattr(Optimizers, "step", slow_step)
    use(qtbot, window, preset_config("contrastive-emoji", folder, "training.epochs=100",
                                     "training.batch_size=2"))
    steps = []
    window.controller.steps_logged.connect(steps.extend)
    window.start_training()
    qtbot.waitUntil(lambda: len(steps) >= 2 and steps[-1].epoch_progress <= 0.6,
                    timeout=TIMEOUT)
    with qtbot.waitSignal(window.controller.stopped, timeout=5_000) as got:
        t0 = time.perf_counter()
        window.training_bar.stop_button.click()
    elapsed = time.perf_counter() - t0
    end = got.args[0]
    assert elapsed < 1.0, f"Stop took {elapsed:.2f} s"
    assert 0 < steps[-1].epoch_progress < 1  # it really was mid-epoch
    assert end.status == "stopped" and end.epoch == steps[-1].epoch
    wait_ready(qtbot, window)


# ---------------------------------------------------------------- closing mid-run

# The application as ``workbench gui --data D --preset P --train`` starts it (run_gui, its
# exit path included), with a hook that closes the window once training is under way.
CLOSE_SCRIPT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from workbench.ui import app as gui

    real_build = gui.build_window

    def build(options):
        window = real_build(options)
        if sys.argv[3] == "no-shutdown":  # the control: closing without joining the thread
            window.controller.shutdown = lambda *a, **k: True
        # Closing mid-run asks first; the user answers "Stop the run and close".
        window._ask_close = lambda dirty, running: "discard"
        seen = []

        def on_steps(batch):
            seen.extend(batch)
            # Once only: closing drains the last steps, which arrive here again mid-close.
            if len(seen) >= 3 and not getattr(window, "closing", False):
                window.closing = True
                print("closing at step", seen[-1].step, flush=True)
                window.close()
                QApplication.instance().quit()

        window.controller.steps_logged.connect(on_steps)
        QTimer.singleShot(60_000, lambda: (print("timed out", flush=True),
                                           QApplication.instance().exit(3)))
        return window

    gui.build_window = build
    code = gui.run_gui(gui.GuiOptions(data=sys.argv[1], preset=sys.argv[2], train=True))
    print("exit", code, flush=True)
    sys.exit(code)
""")


def run_app_and_close(folder: Path, tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    preset = tmp_path / "long.toml"
    C.save(preset_config("contrastive-emoji", folder, "training.epochs=100000"), preset)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "WORKBENCH_HOME": str(tmp_path / "h"),
           "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", CLOSE_SCRIPT, str(folder), str(preset), mode],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


def test_closing_the_window_mid_training_exits_cleanly(folder, tmp_path):
    proc = run_app_and_close(folder, tmp_path, "normal")
    assert "closing at step" in proc.stdout, proc.stdout + proc.stderr
    assert "QThread" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0 and "exit 0" in proc.stdout, proc.stdout + proc.stderr
    # Closing stopped the run the normal way: it wrote its checkpoint.
    assert list((tmp_path / "h").rglob("last.pt")), "no checkpoint written on close"


def test_closing_without_joining_the_thread_would_be_caught(folder, tmp_path):
    # The check above can fail: with the join removed, Qt complains (and aborts).
    proc = run_app_and_close(folder, tmp_path, "no-shutdown")
    assert "closing at step" in proc.stdout, proc.stdout + proc.stderr
    assert "QThread: Destroyed while thread" in proc.stderr, proc.stderr
    assert proc.returncode != 0  # Qt aborts the process


# ---------------------------------------------------------------- start/stop cycles

def _qt_objects() -> tuple[int, Counter]:
    """QThread wrappers alive, and QObject wrappers alive by type name. type(), not
    isinstance(): isinstance on a lazily loaded module object (torch has some) imports and
    warns."""
    gc.collect()
    types = [type(o) for o in gc.get_objects()]
    return (sum(issubclass(t, QThread) for t in types),
            Counter(t.__name__ for t in types if issubclass(t, QObject)))


def test_twenty_start_stop_cycles_leave_no_threads_or_memory_behind(qtbot, window, folder):
    use(qtbot, window, preset_config("classifier-mean-emoji", folder, "training.epochs=1000"))
    process = psutil.Process()

    def cycle():
        # Stop once the first epoch has ended, so every run leaves the same things drawn
        # (train and validation curves, one snapshot): how far a run got before Stop must
        # not read as a leak. A 3-step epoch makes that a fraction of a second.
        epochs = []
        window.controller.epochs_ended.connect(epochs.extend)
        window.start_training()
        qtbot.waitUntil(lambda: len(epochs) > 0, timeout=TIMEOUT)
        with qtbot.waitSignal(window.controller.stopped, timeout=TIMEOUT):
            window.training_bar.stop_button.click()
        window.controller.epochs_ended.disconnect(epochs.extend)
        wait_ready(qtbot, window)

    def settle():
        # After each run the window builds its retrieval index in the background: let the
        # last one finish (and its task be deleted) before counting.
        window.retrieval_view.shutdown()
        # A loaded machine delivers the tasks' last signals and deletions late: wait for
        # them, not a fixed time.
        qtbot.waitUntil(lambda: not window.retrieval_view._tasks, timeout=TIMEOUT)
        qtbot.wait(300)

    for _ in range(3):  # warm-up: first-use caches (torch kernels, fonts, plot items)
        cycle()
    settle()
    threads, (qthreads, qobjects) = threading.active_count(), _qt_objects()
    rss = process.memory_info().rss
    for _ in range(20):
        cycle()
    settle()
    grown = (process.memory_info().rss - rss) / 2**20
    assert threading.active_count() <= threads, threading.enumerate()
    now_qthreads, now_qobjects = _qt_objects()
    assert now_qthreads <= qthreads  # each run's QThread (and its tasks' threads) is gone
    grown_types = now_qobjects - qobjects  # only the types that grew
    assert now_qobjects.total() <= qobjects.total() + 5, grown_types
    # 20 runs of a model this size would add tens of MB if each run's model, optimiser,
    # dataset copy or plot data were kept; allocator noise stays well under this.
    assert grown < 40, f"memory grew {grown:.1f} MB over 20 start/stop cycles"
