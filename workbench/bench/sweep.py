"""Measure: how responsive the window stays while the Sweep tab runs a study.

A 10 ms heartbeat timer on the GUI thread, idle for a moment first (the baseline: what this
machine's scheduler alone costs), then while a shown Sweep tab runs ``contrastive-emoji``
trials on the built-in emoji: with one job (the trials train on a thread of the GUI's own
process, the harder case: they share its interpreter lock) and with two (worker processes,
one torch thread each). The rows are the lateness's 99th percentile and maximum over every
tick of the sweep (target p99 < 20 ms, as the training measure's).

Each try runs in a fresh process (``python -m workbench.bench.sweep --child``) with its own
user folder, so the study, its runs and their files never touch the user's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from .gui_training import HEARTBEAT_MS, IDLE_S, MAX_TARGET_MS, P99_TARGET_MS
from .result import Result, json_from_child, percentile

PRESET = "contrastive-emoji"
SEARCH = {"optimizer.lr": "", "model.hidden_dim": "64,128"}


def sizes(quick: bool) -> tuple[int, int]:
    """(trials, epochs) of each try."""
    return (2, 2) if quick else (4, 6)


def run(quick: bool) -> list[Result]:
    trials, epochs = sizes(quick)
    rows = []
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory() as home:
            got = json_from_child([sys.executable, "-m", "workbench.bench.sweep", "--child",
                                   "--trials", str(trials), "--epochs", str(epochs),
                                   "--jobs", str(jobs)],
                                  env=dict(os.environ, WORKBENCH_HOME=home))
        if "error" in got:
            raise RuntimeError(f"the sweep try failed: {got['error']}")
        late, idle = got["lateness"], got["idle_lateness"]
        details = {"trials": trials, "epochs": epochs, "jobs": jobs, "ticks": len(late),
                   "trials_ended": got["trials_ended"], "seconds": round(got["seconds"], 1)}
        p99, worst = percentile(late, 99), max(late, default=float("nan"))
        where = "on the GUI's thread" if jobs == 1 else "in 2 worker processes"
        rows += [
            Result(f"GUI heartbeat lateness during a sweep (trials {where}), p99", p99, "ms",
                   percentile(idle, 99), "same timer, GUI idle", None,
                   f"< {P99_TARGET_MS:g} ms", p99 < P99_TARGET_MS, details=details),
            Result(f"GUI heartbeat lateness during a sweep (trials {where}), max", worst,
                   "ms", max(idle, default=float("nan")), "same timer, GUI idle", None,
                   f"< {MAX_TARGET_MS:g} ms", worst < MAX_TARGET_MS, details=details),
        ]
    return rows


def child(trials: int, epochs: int, jobs: int, idle_s: float = IDLE_S,
          timeout_s: float = 900.0) -> dict:
    """A shown Sweep tab runs ``trials`` trials; the heartbeat's lateness idle and during."""
    from ..core.presets import load_preset
    from ..ui.gui_gc import GuiThreadCollector
    from ..ui.plots.sweep_view import SweepView
    from ..ui.session import Session
    from .qt import Heartbeat, application, run_until_emitted

    app = application()
    collector = GuiThreadCollector(parent=app)
    collector.start()
    cfg = load_preset(PRESET)
    cfg.training.epochs = epochs
    session = Session(cfg)
    session.mark_saved(PRESET)
    for key, text in SEARCH.items():
        session.set_search(key, text)
    view = SweepView(session)
    view.resize(1200, 750)
    view.show()
    heartbeat = Heartbeat(HEARTBEAT_MS)
    ended: list[dict] = []
    view.controller.event.connect(lambda e: e["event"] == "ended" and ended.append(e))
    try:
        app.processEvents()
        idle = heartbeat.idle(app, idle_s)
        view.study.setEditText(f"bench-{jobs}")
        view.trials.setValue(trials)
        view.jobs.setValue(jobs)
        t0 = time.perf_counter()
        view.start()
        while view.controller.running and time.perf_counter() - t0 < timeout_s:
            run_until_emitted([view.controller.running_changed], timeout_s)
        heartbeat.stop()
        if view.controller.running:
            view.shutdown()
            raise RuntimeError(f"the sweep did not end within {timeout_s:.0f} s")
        if len(ended) != trials:
            raise RuntimeError(f"{len(ended)} of {trials} trials ended: "
                               f"{view.status.text()}")
        return {"lateness": heartbeat.lateness(), "idle_lateness": idle,
                "trials_ended": len(ended), "seconds": time.perf_counter() - t0}
    finally:
        heartbeat.stop()
        view.shutdown()
        view.close()
        view.deleteLater()
        app.processEvents()
        collector.stop()
        collector.deleteLater()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one try of the sweep measure (a child)")
    p.add_argument("--child", action="store_true", required=True)
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    args = p.parse_args(argv)
    print(json.dumps(child(args.trials, args.epochs, args.jobs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
