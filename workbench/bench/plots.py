"""Measure 3: the loss plot keeps up with a long run. A million steps of four loss terms
are streamed into the Training tab's ``LossPlot`` in frames, as the GUI's drain timer
would hand them over; each frame's redraw (a synchronous repaint of the shown plot) is
timed, and the memory the curves hold must stay bounded (``Series`` thins old points).

Also what a live frame of an ordinary run costs the GUI thread: the whole Training tab fed
two steps of four terms a frame, from its first step on. That cost, against the drain's
budget (``ui.frame_pacer``), decides how often the curves are fed while training."""

from __future__ import annotations

import time
from contextlib import contextmanager

from .result import Result, percentile, rss_mb

FRAME_TARGET_MS = 16.0  # one frame at 60 Hz
TERMS = ("loss", "recon_text", "recon_image", "corr")


def sizes(quick: bool) -> tuple[int, int]:
    """(points per term, frames)."""
    return (100_000, 40) if quick else (1_000_000, 200)


def run(quick: bool) -> list[Result]:
    live = live_frames(60 if quick else 300)
    total, frames = sizes(quick)
    got = stream(total, frames)
    redraw = got["redraw_ms"]
    p95, worst = percentile(redraw, 95), max(redraw)
    last = redraw[-max(1, frames // 10):]  # the frames drawn with the most points stored
    stored = got["stored"]
    cap = got["cap"]
    unthinned_mb = total * len(TERMS) * 3 * 8 / 2**20  # x, y, smoothed as float64
    details = {"points_per_term": total, "frames": frames, "append_ms_p95":
               percentile(got["append_ms"], 95), "redraw_ms_max": worst,
               "redraw_ms_last_frames_mean": sum(last) / len(last),
               "stored_points_per_curve": stored, "cap": cap}
    from ..ui.frame_pacer import BUDGET, FASTEST_MS
    budget_ms = BUDGET * FASTEST_MS
    live_median = percentile(live, 50)
    return [
        Result("plots: a live frame of the Training tab, GUI-thread time (median)",
               live_median, "ms", None, "", None,
               f"<= {budget_ms:g} ms ({BUDGET:.0%} of a {FASTEST_MS} ms frame)",
               live_median <= budget_ms,
               details={"frames": len(live), "p90_ms": percentile(live, 90),
                        "max_ms": max(live)}),
        Result(f"plots: redraw per frame, {total:,} points per curve (p95)", p95, "ms",
               None, "", None, f"< {FRAME_TARGET_MS:g} ms", p95 < FRAME_TARGET_MS,
               details=details),
        Result(f"plots: memory growth over {total:,} points x {len(TERMS)} curves",
               got["rss_growth_mb"], "MB", unthinned_mb, "every point kept (float64 x3)",
               None, f"bounded: <= {cap:,} points a curve",
               max(stored.values()) <= cap, details=details),
    ]


@contextmanager
def shown(make, width: int, height: int):
    """A widget made by ``make()`` (once the application exists) shown at ``width`` x
    ``height`` for the block, then closed and deleted; yields (application, widget)."""
    from .qt import application

    app = application()
    widget = make()
    widget.resize(width, height)
    widget.show()
    app.processEvents()
    try:
        yield app, widget
    finally:
        widget.close()
        widget.deleteLater()
        app.processEvents()


def stream(total: int, frames: int) -> dict:
    """Stream ``total`` steps of every term in ``frames`` batches into a shown LossPlot."""
    import numpy as np

    from ..core.training.events import FitStarted, StepLogged
    from ..ui.plots.loss_plot import LossPlot

    with shown(LossPlot, 900, 600) as (app, plot):
        per_frame = -(-total // frames)
        plot.reset(FitStarted("autoencoder", "mean", 1, 1, total, total * 64, 0, "cpu", 0))
        rng = np.random.default_rng(0)
        append_ms, redraw_ms = [], []
        before = rss_mb()
        for start in range(1, total + 1, per_frame):
            stop = min(total + 1, start + per_frame)
            k = np.arange(start, stop)
            decay = np.exp(-k / (total / 4))
            noise = rng.normal(0, 0.02, (len(TERMS), len(k)))
            values = [(0.5 + i * 0.1) * decay + 0.05 + noise[i] for i in range(len(TERMS))]
            steps = [StepLogged(int(s), 1, s / total, {t: float(v[j]) for t, v in
                                                        zip(TERMS, values)}, 1e-3, 64, 0.0)
                     for j, s in enumerate(k.tolist())]
            t0 = time.perf_counter()
            plot.add_steps(steps)
            t1 = time.perf_counter()
            # A synchronous paint of everything shown, as the next screen refresh would.
            plot.graphics.viewport().repaint()
            t2 = time.perf_counter()
            append_ms.append((t1 - t0) * 1000)
            redraw_ms.append((t2 - t1) * 1000)
            app.processEvents()
        after = rss_mb()
        stored = {name: len(c.series) for name, c in plot.losses.steps.items()}
        cap = next(iter(plot.losses.steps.values())).series.cap
    growth = (after - before) if before is not None and after is not None else float("nan")
    return {"append_ms": append_ms, "redraw_ms": redraw_ms, "stored": stored, "cap": cap,
            "rss_growth_mb": growth}


def live_frames(frames: int) -> list[float]:
    """Milliseconds of GUI-thread CPU per frame: a shown ``TrainingView`` (1000 x 700) fed two
    steps of four terms a frame, each frame drawn before the next (``repaint``)."""
    import numpy as np

    from ..core.training.events import FitStarted, StepLogged
    from ..ui.plots.training_view import TrainingView

    with shown(TrainingView, 1000, 700) as (app, view):
        view.reset(FitStarted("autoencoder", "mean", 1, 1, 32, 2048, 0, "cpu", 0))
        rng = np.random.default_rng(0)
        out = []
        for frame in range(frames):
            steps = [StepLogged(k, 1 + k // 32, 0.0, {
                t: float(np.exp(-k / 100) + 0.1 * i + rng.normal(0, 0.02))
                for i, t in enumerate(TERMS)}, 1e-3, 64, 0.0)
                for k in (2 * frame + 1, 2 * frame + 2)]
            t0 = time.thread_time()
            view.add_steps(steps)
            view.repaint()
            app.processEvents()
            out.append((time.thread_time() - t0) * 1000)
    return out
