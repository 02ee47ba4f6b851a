"""Run time leaves pauses out: the clock by hand with a fake time source, the fit's share
done and the ETA on tiny numbers, and a real fit paused from another thread."""

from __future__ import annotations

import threading
import time

import pytest

from fixtures import tiny_config
from workbench.core.data import load_dataset
from workbench.core.training import Callback, EpochEnded, EventRecorder, StepLogged, Trainer
from workbench.core.training.clock import RunClock, eta_seconds, fit_fraction


class FakeTime:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_clock_stands_still_while_paused():
    t = FakeTime()
    clock = RunClock(t)
    clock.start()
    t.now += 10
    assert clock.elapsed() == 10
    clock.pause()
    t.now += 80
    assert clock.elapsed() == 10 and clock.paused and clock.paused_seconds == 80
    clock.pause()  # pausing twice changes nothing
    t.now += 5
    clock.resume()
    t.now += 3
    assert clock.elapsed() == 13 and clock.paused_seconds == 85 and not clock.paused
    clock.resume()  # resuming a running clock changes nothing
    assert clock.elapsed() == 13
    clock.start()  # a new fit starts from zero
    t.now += 1
    assert clock.elapsed() == 1 and clock.paused_seconds == 0


def test_fit_fraction_counts_only_this_fits_epochs():
    assert fit_fraction(1, 0.5, 1, 4) == 0.125
    assert fit_fraction(4, 1.0, 1, 4) == 1.0
    # continued from epoch 3 to 6: epochs 1-2 were another fit's
    assert fit_fraction(3, 0.5, 3, 6) == 0.125
    assert fit_fraction(6, 1.0, 3, 6) == 1.0
    assert fit_fraction(7, 1.0, 3, 6) == 1.0  # never past the end


def test_eta_is_the_rest_at_the_same_pace():
    assert eta_seconds(30.0, 0.25) == 90.0
    assert eta_seconds(30.0, 1.0) == 0.0
    assert eta_seconds(0.0, 0.0) is None  # no progress yet: no pace to go by


class PauseAt(Callback):
    """Pauses the run after ``step`` and resumes it ``seconds`` later, from another thread
    (as the GUI's Pause button does)."""

    def __init__(self, step: int, seconds: float):
        self.step, self.seconds = step, seconds

    def on_step_end(self, trainer, event):
        if event.step == self.step:
            trainer.pause()
            threading.Timer(self.seconds, trainer.resume).start()


def test_a_paused_fit_reports_training_time_without_the_pause(folder):
    cfg = tiny_config(folder, "training.epochs=2")
    rec = EventRecorder()
    trainer = Trainer(cfg, load_dataset(cfg), callbacks=[rec, PauseAt(1, 1.5)])
    t0 = time.perf_counter()
    end = trainer.fit()
    wall = time.perf_counter() - t0
    assert end.status == "finished"
    assert trainer.clock.paused_seconds == pytest.approx(1.5, abs=0.3)
    # every second of the fit but the pause
    assert end.seconds == pytest.approx(wall - trainer.clock.paused_seconds, abs=0.2)
    assert end.seconds < wall - 1.2
    steps = rec.of(StepLogged)
    # the step after the pause took milliseconds, not the pause's 1.5 s
    assert steps[1].seconds - steps[0].seconds < 1.0
    assert rec.of(EpochEnded)[-1].seconds <= end.seconds


def test_throughput_is_the_pace_of_the_last_seconds_of_training():
    from workbench.core.training.clock import Throughput, rate_text
    meter = Throughput(window=2.0)
    assert meter.rate() is None and rate_text(None) == "… pairs/s"
    meter.add(1.0, 10)
    assert meter.rate() is None  # one step: no interval yet
    for k in range(2, 6):  # 10 pairs a second
        meter.add(float(k), 10)
    assert meter.rate() == pytest.approx(10.0)
    for k in range(6, 9):  # then 40 a second: the window forgets the slow start
        meter.add(float(k), 40)
    assert meter.rate() == pytest.approx(40.0)
    assert rate_text(meter.rate()) == "40 pairs/s" and rate_text(12345.6) == "12,346 pairs/s"
    # a validation between epochs does not move training time: the pace holds
    meter.add(8.0, 0)
    assert meter.rate() == pytest.approx(80 / 2.0)


def test_an_epochs_pace_runs_from_its_first_step_to_its_last():
    from workbench.core.training.clock import EpochPace
    pace = EpochPace()
    for seconds, pairs in ((5.0, 8), (6.0, 8), (7.0, 4)):  # 5 s before: the last validation
        pace.add(seconds, pairs)
    assert pace.take() == pytest.approx(12 / 2.0)
    pace.add(9.0, 8)
    assert pace.take() is None  # a one-step epoch: no interval to go by


def test_throughput_starts_afresh_each_epoch_keeping_the_last_rate_meanwhile():
    from workbench.core.training.clock import Throughput
    meter = Throughput(window=10.0)
    for k in range(1, 5):  # epoch 1: 8 pairs a second
        meter.add(float(k), 8, epoch=1)
    assert meter.rate() == pytest.approx(8.0)
    # 20 s of validation, then epoch 2's first step: still epoch 1's pace, not 8 / 21
    meter.add(25.0, 8, epoch=2)
    assert meter.rate() == pytest.approx(8.0)
    meter.add(25.5, 8, epoch=2)
    assert meter.rate() == pytest.approx(16.0)
