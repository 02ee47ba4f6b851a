"""Live plots follow their data in steps: the view changes a few times over a run, always
holds every point, and leaves the user's own zoom alone until "A" is pressed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.core.training.events import FitStarted, StepLogged
from workbench.ui.plots.loss_plot import LossPlot
from workbench.ui.plots.stepped_range import round_up, x_extent, y_extent


@pytest.mark.parametrize("v, want", [(1, 1), (1.2, 1.5), (2.5, 3), (7, 8), (8.5, 10),
                                     (99, 100), (101, 150), (0.031, 0.04), (1e6, 1e6)])
def test_round_up_to_the_next_round_number(v, want):
    assert round_up(v) == pytest.approx(want)


def test_round_up_needs_a_positive_number():
    with pytest.raises(ValueError):
        round_up(0)


def test_the_step_axis_extends_only_when_the_data_leaves_it():
    assert x_extent(1, 64, None) == (1, 1 + 80)  # 63 wide -> 80
    assert x_extent(1, 70, (1, 81)) is None
    assert x_extent(1, 90, (1, 81)) == (1, 1 + 100)


def test_the_value_axis_keeps_a_margin_and_refits_when_the_data_shrinks():
    lo, hi = y_extent(0.0, 1.0, None)
    assert (lo, hi) == pytest.approx((-0.1, 1.1))
    assert y_extent(0.05, 1.0, (lo, hi)) is None  # inside, fills most of it
    # left it at the bottom: more room below, where a falling loss is heading
    assert y_extent(-0.2, 1.0, (lo, hi)) == pytest.approx((-0.56, 1.12))
    assert y_extent(0.4, 0.6, (lo, hi)) == pytest.approx((0.38, 0.62))  # fills < half
    # a flat line: a band of half its value either side (short tick labels), or 1 at zero
    assert y_extent(0.07, 0.07, None) == pytest.approx((0.035, 0.105))
    assert y_extent(0.0, 0.0, None) == (-1.0, 1.0)


def steps(first: int, last: int) -> list[StepLogged]:
    return [StepLogged(k, 1, 0.0, {"loss": 2.0 * math.exp(-k / 50) + 0.1 + 0.02 * math.sin(k),
                                   "temperature": 0.07}, 1e-3, 32, 0.0)
            for k in range(first, last + 1)]


@pytest.fixture
def plot(qtbot):
    view = LossPlot()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.reset(FitStarted("contrastive", "attention", 5, 1, 20, 640, 160, "cpu", 1000,
                          primary="mean_recall"))  # as a contrastive run starts
    view.show()
    qtbot.waitExposed(view)
    return view


def inside(box, series, log_y=False) -> bool:
    (x0, x1), (y0, y1) = box.viewRange()
    y = np.log10(series.y) if log_y else series.y
    return x0 <= series.x.min() and series.x.max() <= x1 and y0 <= y.min() and y.max() <= y1


def test_a_streamed_run_moves_the_view_a_few_times_and_shows_every_point(plot):
    box = plot.losses.plot.vb
    changes = []
    box.sigRangeChanged.connect(lambda *_: changes.append(box.viewRange()))
    series = None
    for k in range(1, 401, 2):  # 200 frames of 2 steps
        plot.add_steps(steps(k, k + 1))
        series = plot.losses.steps["loss"].series
        assert inside(box, series), (k, box.viewRange())
    assert len(changes) <= 25  # pyqtgraph's auto-range moved it on each of the 200 frames
    assert box.viewRange()[0][1] == pytest.approx(1 + 400)  # 399 wide -> 400
    # the metrics plot's step axis is linked; its value axis follows its own curve
    metrics = plot.metrics.plot.vb
    assert metrics.viewRange()[0] == pytest.approx(box.viewRange()[0])
    assert inside(metrics, plot.metrics.steps["temperature"].series)


def test_a_pan_by_the_user_stops_the_following_and_auto_starts_it_again(plot):
    box = plot.losses.plot.vb
    plot.add_steps(steps(1, 50))
    assert plot.losses.plot.buttonsHidden  # following: no "A" button to offer
    box.setRange(xRange=(10, 20), padding=0)
    box.sigRangeChangedManually.emit([True, True])  # as a drag or the wheel reports it
    plot.add_steps(steps(51, 200))
    assert box.viewRange()[0] == pytest.approx([10, 20])  # left where the user put it
    assert not plot.losses.plot.buttonsHidden
    plot.losses.plot.autoBtnClicked()  # the "A" button
    assert plot.losses.range.following and plot.losses.plot.buttonsHidden
    assert inside(box, plot.losses.steps["loss"].series)
    assert not any(box.state["autoRange"])  # in steps, not pyqtgraph's every-frame refit


def test_view_all_in_the_menu_follows_again(plot):
    box = plot.losses.plot.vb
    plot.add_steps(steps(1, 50))
    box.setRange(xRange=(10, 20), padding=0)
    box.sigRangeChangedManually.emit([True, True])
    assert not plot.losses.range.following
    box.menu.viewAll.trigger()  # right-click > View All
    assert plot.losses.range.following
    plot.add_steps(steps(51, 120))
    assert inside(box, plot.losses.steps["loss"].series)


def test_log_scale_fits_the_logarithms(plot):
    plot.smoothing_slider.setValue(0)
    plot.add_steps(steps(1, 300))
    plot.log_check.setChecked(True)
    box = plot.losses.plot.vb
    assert inside(box, plot.losses.steps["loss"].series, log_y=True)
    (_, _), (y0, y1) = box.viewRange()
    assert y1 < 1  # log10 units: the values are below 10


def test_hiding_a_curve_refits_to_what_is_left(plot):
    plot.smoothing_slider.setValue(0)
    big = [StepLogged(k, 1, 0.0, {"loss": 100.0 + k, "small": 1.0 + 0.01 * k}, 1e-3, 32, 0.0)
           for k in range(1, 50)]
    plot.add_steps(big)
    box = plot.losses.plot.vb
    assert box.viewRange()[1][1] > 100
    plot.losses.steps["loss"].main.setVisible(False)  # a click on its legend entry
    assert box.viewRange()[1][1] < 3
    assert inside(box, plot.losses.steps["small"].series)


def test_a_new_run_follows_from_scratch(plot):
    box = plot.losses.plot.vb
    plot.add_steps(steps(1, 1000))
    box.sigRangeChangedManually.emit([True, True])
    plot.reset(None)
    plot.add_steps(steps(1, 10))
    assert plot.losses.range.following
    assert box.viewRange()[0][1] <= 16  # fitted to 10 steps, not the old run's 1,000


def test_a_metrics_plot_shown_late_follows_the_step_axis(qtbot):
    """A run without a primary metric (a generating GAN) starts with the losses alone; when
    a curve comes for the metrics plot, it joins the grid with the loss plot's step range."""
    view = LossPlot()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.reset(FitStarted("adversarial", "mean", 5, 1, 20, 640, 160, "cpu", 1000))
    view.show()
    qtbot.waitExposed(view)
    assert not view.metrics_shown
    view.add_steps(steps(1, 100))  # "temperature" goes to the metrics plot
    assert view.metrics_shown
    box, metrics = view.losses.plot.vb, view.metrics.plot.vb
    qtbot.waitUntil(lambda: metrics.viewRange()[0] == pytest.approx(box.viewRange()[0]))
