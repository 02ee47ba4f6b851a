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


def test_sigterm_and_sighup_stop_as_ctrl_c_does(capsys):
    for signum, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")):
        before = signal.getsignal(signum)
        trainer = FakeTrainer()
        with StopOnInterrupt(trainer) as stop:
            os.kill(os.getpid(), signum)
            assert stop.requested and trainer.stopped == 1
            assert signal.getsignal(signum) is signal.SIG_DFL  # the next one ends it
        assert signal.getsignal(signum) is before
        assert f"stopping after this step ({name} received; {name} again to abort)" in \
            capsys.readouterr().err


def test_a_training_sent_sigterm_stops_with_a_checkpoint(tmp_path):
    """What ``docker stop``, systemd or a scheduler sends: the run ends as after Ctrl-C,
    its folder records it stopped and holds a checkpoint (it was killed with none, exit
    143)."""
    import json
    import subprocess
    import sys
    import time

    from fixtures import make_image_folder, tiny_config
    from workbench.core import config as C
    folder = make_image_folder(tmp_path / "shapes", n_per_class=30)
    preset = C.save(tiny_config(folder, "training.epochs=10000"), tmp_path / "long.toml")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "train", str(preset),
                             "--out", str(out)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / "steps.jsonl").exists() and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # some steps in
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "SIGTERM received" in err and "Traceback" not in err
    summary = json.loads((out / "run.json").read_text())
    assert summary["status"] == "stopped"
    assert (out / "checkpoints" / "last.pt").is_file()
