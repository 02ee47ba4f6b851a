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
