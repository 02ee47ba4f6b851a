"""The live plots' light curve item: what it draws of many points is each pixel column's
minimum and maximum within the view, log10 on a log axis, and the whole data for auto-range."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from workbench.ui.plots.live_curve import LiveCurve, in_view, peaks


def test_peaks_keeps_each_runs_minimum_and_maximum_in_order():
    x = np.arange(10.0)
    y = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], dtype=float)
    px, py = peaks(x, y, 4)
    # runs [3 1 4 1] [5 9 2 6] [5 3]: min then max in the order they occur, at the run's x
    assert px.tolist() == [0, 0, 4, 4, 8, 8]
    assert py.tolist() == [1, 4, 9, 2, 5, 3]


def test_peaks_leaves_few_points_alone():
    x, y = np.arange(5.0), np.arange(5.0)
    assert peaks(x, y, 1)[1] is y
    two = y[:2]
    assert peaks(x[:2], two, 4)[1] is two


def test_peaks_skips_nan_and_keeps_a_gap_where_a_run_has_no_value():
    x = np.arange(6.0)
    y = np.array([np.nan, 2.0, 1.0, np.nan, np.nan, np.nan])
    _, py = peaks(x, y, 3)
    assert py[:2].tolist() == [2.0, 1.0]
    assert np.isnan(py[2:]).all()


def test_in_view_takes_one_point_past_each_edge():
    x = np.arange(0.0, 100.0)
    part = in_view(x, 10.5, 20.5)
    assert (x[part][0], x[part][-1]) == (10.0, 21.0)
    assert in_view(x, -50, 500) == slice(0, 100)


@pytest.fixture
def plot(qtbot):
    widget = pg.PlotWidget()
    widget.resize(400, 300)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget.getPlotItem()  # the widget stays referenced until the test ends


def test_many_points_draw_as_the_envelope_of_the_view(plot):
    rng = np.random.default_rng(0)
    x = np.arange(1.0, 100_001.0)
    y = rng.normal(size=x.size)
    y[54_321] = 25.0  # a spike survives
    curve = LiveCurve(pg.mkPen("k"))
    plot.addItem(curve)
    plot.vb.setRange(xRange=(1, 100_000), padding=0)
    curve.show_data(x, y)
    dx, dy = curve.getData()
    assert len(dx) <= 2 * plot.vb.width() + 2
    assert dy.max() == 25.0 and dy.min() == y.min()

    # Zoomed in: what is in view, in more detail, nothing far outside it.
    plot.vb.setRange(xRange=(50_000, 50_100), padding=0)
    dx, dy = curve.getData()
    assert dx[0] >= 49_999 and dx[-1] <= 50_101
    np.testing.assert_array_equal(dy, y[(x >= 49_999) & (x <= 50_101)])


def test_log_mode_draws_log10_with_gaps_at_non_positive_values(plot):
    curve = LiveCurve(pg.mkPen("k"))
    plot.addItem(curve)
    plot.vb.setRange(xRange=(0, 5), padding=0)
    curve.show_data(np.arange(1.0, 5.0), np.array([100.0, 10.0, 0.0, 1.0]))
    plot.setLogMode(y=True)
    _, dy = curve.getData()
    np.testing.assert_array_equal(dy[[0, 1, 3]], [2.0, 1.0, 0.0])
    assert np.isnan(dy[2])
    plot.setLogMode(y=False)
    np.testing.assert_array_equal(curve.getData()[1], [100.0, 10.0, 0.0, 1.0])


def test_auto_range_sees_the_whole_data_not_the_part_drawn(plot):
    curve = LiveCurve(pg.mkPen("k"))
    plot.addItem(curve)
    x = np.arange(0.0, 10_000.0)
    plot.vb.setRange(xRange=(0, 100), padding=0)
    curve.show_data(x, np.sin(x / 500))
    assert curve.getData()[0][-1] <= 101  # drawn: the view's part only
    plot.vb.autoRange(padding=0)
    (x0, x1), _ = plot.vb.viewRange()
    assert x0 <= 0 and x1 >= 9_999  # (plus the pen's few pixels)


def test_a_resized_view_thins_for_its_new_width(plot, qtbot):
    rng = np.random.default_rng(1)
    x = np.arange(1.0, 100_001.0)
    curve = LiveCurve(pg.mkPen("k"))
    plot.addItem(curve)
    plot.vb.setRange(xRange=(1, 100_000), padding=0)
    curve.show_data(x, rng.normal(size=x.size))
    narrow = plot.vb.width()
    assert len(curve.getData()[0]) <= 2 * narrow + 2
    widget = plot.getViewWidget()
    widget.resize(900, 300)
    qtbot.waitUntil(lambda: plot.vb.width() > narrow + 300)
    qtbot.waitUntil(lambda: len(curve.getData()[0]) > 2 * narrow + 2)
    assert len(curve.getData()[0]) <= 2 * plot.vb.width() + 2

