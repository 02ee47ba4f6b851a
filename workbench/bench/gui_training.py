"""Measures 1 (GUI) and 2: the document's model trained by the GUI's worker thread while the
Training tab draws live curves, against the document's own loop; and how late a 10 ms
heartbeat timer on the GUI thread fires meanwhile (what a user feels as a stutter).

The heartbeat's lateness is also measured with the window idle for a moment first: that is
what this machine's scheduler alone costs, the baseline of the lateness rows.

Each GUI try runs in a fresh process (``python -m workbench.bench.gui_training --child``),
as a user starts the application: its GUI thread never runs torch. In this process it
would have run the document's loop and the headless measure, and every thread that runs
torch's parallel operations keeps its own team of OpenMP threads; with more of them than
cores, OpenMP makes every team sleep between operations instead of spinning, and the GUI's
training ran about 20% slower than it does in the application (best of 3 alternated runs,
two torch threads, no curves drawn: 1.19-1.26 s against 0.94-1.03 s).

Importing this module imports Qt and torch: it is loaded only when its measure runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from ..ui.worker import EventBuffer, TrainingController, TrainingWorker
from .document import DocumentAutoencoder
from .result import Result, json_from_child, lateness_ms, percentile

GUI_TARGET = 1.0  # x the document's samples/s, with the GUI live
HEARTBEAT_MS = 10
P99_TARGET_MS = 20.0
MAX_TARGET_MS = 100.0
IDLE_S = 1.0


def run(quick: bool) -> list[Result]:
    from . import document as D
    from .training import sizes

    n, epochs, repeats = sizes(quick)
    with D.temporary_data(n, epochs) as data:
        # Alternated, best of ``repeats`` each, as the headless measure does: a burst of
        # load from another process then hurts one try of each, not one contender.
        doc_s, runs = float("inf"), []
        for _ in range(repeats):
            doc_s = min(doc_s, D.time_document_loop(data, epochs, fresh=True))
            runs.append(run_child(n, epochs, IDLE_S))
    samples = n * epochs
    gui = min(runs, key=lambda r: r["seconds"])
    doc_sps, gui_sps = samples / doc_s, samples / gui["seconds"]
    # The heartbeat over every try, not the best one's: the lateness rows stay strict.
    late = [x for r in runs for x in r["lateness"]]
    idle = [x for r in runs for x in r["idle_lateness"]]
    details = {"pairs": n, "epochs": epochs, "repeats": repeats, "ticks": len(late),
               "idle_ticks": len(idle), "steps_drawn": gui["steps_drawn"],
               "gui_seconds": [r["seconds"] for r in runs],
               # the share of one core the GUI thread used while training
               "gui_thread_cpu": [round(r["gui_thread_cpu"], 3) for r in runs],
               # how often the curves were fed (the drain's pace: ``ui.frame_pacer``)
               "frames_per_second": [round(r["frames_per_second"], 1) for r in runs]}
    p99, worst = percentile(late, 99), max(late, default=float("nan"))
    return [
        Result("training: workbench in the GUI, live plots, vs document loop", gui_sps,
               "samples/s", doc_sps, "document's loop (5.1 + 5.3)", gui_sps / doc_sps,
               f">= {GUI_TARGET}x", gui_sps / doc_sps >= GUI_TARGET, details=details),
        Result("GUI heartbeat lateness while training, p99", p99, "ms",
               percentile(idle, 99), "same timer, GUI idle", None,
               f"< {P99_TARGET_MS:g} ms", p99 < P99_TARGET_MS, details=details),
        Result("GUI heartbeat lateness while training, max", worst, "ms",
               max(idle, default=float("nan")), "same timer, GUI idle", None,
               f"< {MAX_TARGET_MS:g} ms", worst < MAX_TARGET_MS, details=details),
    ]


def run_child(pairs: int, epochs: int, idle_s: float) -> dict:
    """One GUI try in a fresh process; what :func:`train_in_gui` returned there."""
    cmd = [sys.executable, "-m", "workbench.bench.gui_training", "--child", "--pairs",
           str(pairs), "--epochs", str(epochs), "--idle", str(idle_s)]
    got = json_from_child(cmd)
    if "error" in got:
        raise RuntimeError(f"the GUI try failed: {got['error']}")
    return got


def child(pairs: int, epochs: int, idle_s: float) -> dict:
    """The child's side: the same pairs as the parent's (``make_data`` is seeded), one
    headless fit to warm up on a thread that then ends (its OpenMP team with it, and its
    memory left for the next thread's allocations), then one GUI try."""
    from . import document as D
    from .training import _trainer_fit

    with D.temporary_data(pairs, epochs) as data:
        warm = threading.Thread(target=_trainer_fit, args=(data,))
        warm.start()
        warm.join()
        return train_in_gui(data, idle_s=idle_s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one GUI try of the GUI measure (a child)")
    p.add_argument("--child", action="store_true", required=True)
    p.add_argument("--pairs", type=int, required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--idle", type=float, default=IDLE_S)
    args = p.parse_args(argv)
    print(json.dumps(child(args.pairs, args.epochs, args.idle)))
    return 0


def train_in_gui(data, timeout_s: float = 600.0, idle_s: float = IDLE_S) -> dict:
    """Train ``data``'s document model through ``TrainingController`` with a shown
    ``TrainingView`` fed live; returns the fit's seconds, the heartbeat's lateness during
    training and while idle, and how many steps reached the plot."""
    from PySide6.QtCore import Qt, QTimer

    from ..ui.gui_gc import GuiThreadCollector
    from ..ui.plots.training_view import TrainingView
    from .qt import application, wait_until

    app = application()
    collector = GuiThreadCollector(parent=app)  # as the application runs
    collector.start()
    view = TrainingView()
    view.resize(1000, 700)
    view.show()
    controller = TrainingController()
    view.connect_controller(controller)
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    drawn, frames = [0], [0]

    def count(steps):
        drawn[0] += len(steps)
        frames[0] += 1

    controller.steps_logged.connect(count)
    ends: list = []
    for signal in (controller.finished, controller.failed, controller.stopped):
        signal.connect(ends.append)
    try:
        app.processEvents()
        heartbeat.start()
        t_idle = time.perf_counter()
        wait_until(app, lambda: time.perf_counter() - t_idle >= idle_s, idle_s + 5)
        idle = lateness_ms(ticks, HEARTBEAT_MS)
        ticks.clear()
        # The controller's own start() would build the model the config names; _launch is
        # the rest of start(), given this worker.
        gui_cpu0, wall0 = time.thread_time(), time.perf_counter()
        controller._launch(DocumentWorker(data.cfg, data.table, EventBuffer()))
        if not wait_until(app, lambda: bool(ends), timeout_s):
            controller.shutdown()
            raise RuntimeError(f"GUI training did not end within {timeout_s:.0f} s")
        heartbeat.stop()
        gui_share = (time.thread_time() - gui_cpu0) / (time.perf_counter() - wall0)
        end = ends[0]
        if end.status != "finished":
            raise RuntimeError(f"GUI training {end.status}: {end.reason}")
        return {"seconds": end.seconds, "lateness": lateness_ms(ticks, HEARTBEAT_MS),
                "idle_lateness": idle, "steps_drawn": drawn[0], "gui_thread_cpu": gui_share,
                "frames_per_second": frames[0] / (time.perf_counter() - wall0)}
    finally:
        heartbeat.stop()
        controller.shutdown()
        view.close()
        view.deleteLater()
        controller.deleteLater()
        app.processEvents()
        collector.stop()
        collector.deleteLater()


class DocumentWorker(TrainingWorker):
    """The GUI's worker, unchanged, but training the document's model: the Trainer it
    builds gets the model through its ``algorithm`` argument."""

    def _trainer(self, cfg, run_dir, resume_from):
        trainer = super()._trainer(cfg, run_dir, resume_from)
        trainer.algorithm = DocumentAutoencoder(cfg, trainer.dataset.info())
        return trainer


if __name__ == "__main__":
    sys.exit(main())
