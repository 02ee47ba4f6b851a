"""Soak test (issue 7, item 6): train with the live views for a long time and check that
nothing grows. ``python -m workbench.tools.soak --minutes 30`` (``--minutes 1`` for a
short check). A benchmark, not a CI test: it prints a report and exits 1 when a check fails.

Checks, from the end of a warm-up (the first tenth of the time, at least 20 s: buffers and
caches fill once) to the end: resident memory within 10%, the number of Qt widgets and of
Python-wrapped Qt objects not higher, the number of threads not higher.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
import warnings

MEMORY_TOLERANCE = 0.10


def _threads() -> int:
    """OS threads of this process (Qt's and torch's too), Python's own count elsewhere."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _qt_counts(app) -> tuple[int, int]:
    from PySide6.QtCore import QObject
    gc.collect()
    # isinstance() on every live object touches some of torch's deprecated module
    # attributes, which warn: noise here, not news.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = sum(1 for o in gc.get_objects() if isinstance(o, QObject))
    return len(app.allWidgets()), wrapped


def sample(app, t0: float) -> dict:
    from ..bench.result import rss_mb
    widgets, qobjects = _qt_counts(app)
    return {"t": round(time.perf_counter() - t0, 1), "rss_mb": rss_mb(), "widgets": widgets,
            "qobjects": qobjects, "threads": _threads()}


def verdicts(samples: list[dict], warm_up_s: float) -> list[tuple[str, bool, str]]:
    """(check, passed, detail) from the samples after the warm-up (pure: unit-testable)."""
    after = [s for s in samples if s["t"] >= warm_up_s] or samples[-1:]
    first, last = after[0], after[-1]
    out = []
    if first["rss_mb"] is not None:
        growth = (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"]
        out.append(("memory flat within 10%", growth <= MEMORY_TOLERANCE,
                    f"{first['rss_mb']:.0f} MB -> {last['rss_mb']:.0f} MB ({growth:+.1%}); "
                    f"peak after warm-up {max(s['rss_mb'] for s in after):.0f} MB"))
    for key, name in (("widgets", "Qt widgets"), ("qobjects", "Qt objects held by Python"),
                      ("threads", "threads")):
        out.append((f"no growth in {name}", last[key] <= first[key],
                    f"{first[key]} -> {last[key]}"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workbench.tools.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0, help="how long to train (30)")
    p.add_argument("--preset", default="classifier-attention-emoji",
                   help="preset to train (an attention fusion: the heatmaps update too)")
    p.add_argument("--every", type=float, default=10.0, metavar="SECONDS",
                   help="seconds between samples (10)")
    args = p.parse_args(argv)

    from ..bench.qt import application, wait_until
    from ..core import config as C
    from ..core.presets import load_preset
    from ..ui.gui_gc import collect_on_gui_thread
    from ..ui.plots.attention_view import AttentionView
    from ..ui.plots.training_view import TrainingView
    from ..ui.worker import TrainingController

    app = application()
    collect_on_gui_thread(app)  # as the application does
    cfg = C.apply_overrides(load_preset(args.preset), ["training.epochs=100000"])
    training, attention = TrainingView(), AttentionView()
    controller = TrainingController()
    training.connect_controller(controller)
    attention.connect_controller(controller)
    for view in (training, attention):
        view.resize(1000, 700)
        view.show()
    ends: list = []
    for signal in (controller.finished, controller.failed, controller.stopped):
        signal.connect(ends.append)
    steps = [0]
    controller.steps_logged.connect(lambda s: steps.__setitem__(0, steps[0] + len(s)))

    duration = args.minutes * 60.0
    warm_up = max(20.0, duration / 10.0) if duration > 40 else duration / 3.0
    t0 = time.perf_counter()
    samples = [sample(app, t0)]
    controller.start(cfg, None)
    print(f"soak: training {args.preset} with live views for {args.minutes:g} min; a sample "
          f"every {args.every:g} s", file=sys.stderr, flush=True)
    try:
        while time.perf_counter() - t0 < duration and not ends:
            next_at = samples[-1]["t"] + args.every
            wait_until(app, lambda: ends or time.perf_counter() - t0 >= min(next_at, duration),
                       args.every + 5)
            samples.append({**sample(app, t0), "steps": steps[0]})
            print(f"  {samples[-1]}", file=sys.stderr, flush=True)
    finally:
        controller.stop()
        wait_until(app, lambda: bool(ends), 30)
        controller.shutdown()
    if ends and ends[0].status == "failed":
        print(f"soak: training failed: {ends[0].reason}")
        return 1
    checks = verdicts(samples[1:], warm_up)
    print(f"Soak report: {args.preset}, {samples[-1]['t']:.0f} s, {steps[0]:,} steps drawn, "
          f"{len(samples)} samples (warm-up {warm_up:.0f} s)")
    for name, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    for view in (training, attention):
        view.close()
        view.deleteLater()
    app.processEvents()
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
