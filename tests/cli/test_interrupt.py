"""Ctrl-C in the command line: the first stops the run cleanly, the handler is put back."""

from __future__ import annotations

import os
import signal

from workbench.cli.common import StopOnInterrupt


class FakeTrainer:
    stopped = 0

    def stop(self):
        self.stopped += 1


def test_first_ctrl_c_stops_the_trainer_and_the_old_handler_comes_back(capsys):
    before = signal.getsignal(signal.SIGINT)
    trainer = FakeTrainer()
    with StopOnInterrupt(None, message="stopping now") as stop:
        stop.trainer = trainer  # set once the run exists, as a sequence does
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and trainer.stopped == 1
        # a second Ctrl-C would interrupt at once
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is before
    assert "stopping now (Ctrl-C again to abort)" in capsys.readouterr().err


def test_under_torchrun_a_second_signal_only_asks_again(capsys):
    """torchrun forwards its own SIGINT after the terminal's: that second signal must not
    abort a rank in the middle of its stop (it did, about one run in thirteen)."""
    trainer = FakeTrainer()
    with StopOnInterrupt(trainer, escalate=False) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt
        assert stop.requested and trainer.stopped == 2
    err = capsys.readouterr().err
    assert err.count("stopping after this step") == 1  # said once
    assert "torchrun ends the processes" in err
