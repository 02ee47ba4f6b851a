"""Measure 6: start-up, from launching the process to the main window's first paint,
against launching a process that only imports PySide6.QtWidgets and makes a QApplication.
torch must not be imported before the window is painted (it takes a second or more)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from .result import Result
from .qt import ensure_platform

RATIO_TARGET = 3.0  # the window within 3x the bare Qt start-up (not set by the issue)


def sizes(quick: bool) -> int:
    """Launches of each kind (the best counts)."""
    return 1 if quick else 3


def launch(bare: bool, timeout_s: float = 60.0, *,
           bytecode: str | None = None) -> tuple[float, dict]:
    """Seconds from starting ``startup_probe`` to its report line, and the report.

    ``bytecode``: a folder for compiled modules, written by the first launch and read by
    the next, as an installed application's are. Without it a machine that sets
    PYTHONDONTWRITEBYTECODE (this project's does) compiles every workbench module from
    source at every launch, 0.2 s that no user's start pays."""
    ensure_platform()
    cmd = [sys.executable, "-m", "workbench.bench.startup_probe"] + (["--bare"] if bare else [])
    env = os.environ.copy()
    if bytecode is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        line = proc.stdout.readline()
        took = time.perf_counter() - t0
        proc.wait(timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not line:
        raise RuntimeError(f"the start-up probe printed nothing: {proc.stderr.read()[-2000:]}")
    return took, json.loads(line)


def run(quick: bool) -> list[Result]:
    repeats = sizes(quick)
    bare, window, torch_seen = [], [], False
    with tempfile.TemporaryDirectory(prefix="workbench-bytecode-") as bytecode:
        launch(False, bytecode=bytecode)  # compiles the modules once, unmeasured
        for _ in range(repeats):  # alternated, so a burst of load hits both kinds
            bare.append(launch(True, bytecode=bytecode)[0])
            took, report = launch(False, bytecode=bytecode)
            window.append(took)
            torch_seen |= report["torch_imported"]
    b, w = min(bare), min(window)
    return [
        Result("start-up: process start to painted window", w, "s", b,
               "import PySide6.QtWidgets + QApplication", w / b,
               f"<= {RATIO_TARGET:g}x time", w / b <= RATIO_TARGET,
               details={"launches": repeats, "window_s": window, "bare_s": bare}),
        Result("start-up: torch imported before the first paint", float(torch_seen), "yes=1",
               None, "", None, "no (0)", not torch_seen),
    ]
