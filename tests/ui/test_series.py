"""The curve store behind the training plots: growth, TensorBoard smoothing, bounded memory.
Plain numpy, no Qt."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.ui.plots.series import Series, ema, finite_bounds


def tensorboard_smoothing(values, weight):
    """TensorBoard's smoothing loop (tf-scalar-card / vz_line_chart), point by point."""
    last, count, out = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        out.append(last / (1 - weight ** count) if weight else last)
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 0.05, 0.6, 0.9, 0.99, 0.999])
def test_ema_matches_tensorboard(weight):
    y = np.random.default_rng(0).normal(2.0, 1.0, 3000)
    y[[10, 500]] = np.nan
    y[700] = np.inf
    got, _, _ = ema(y, weight)
    np.testing.assert_allclose(got, tensorboard_smoothing(y, weight), rtol=1e-9, atol=1e-12)


def test_ema_is_debiased_and_clamped():
    smoothed, _, _ = ema(np.full(50, 3.0), 0.99)
    np.testing.assert_allclose(smoothed, 3.0)  # no ramp up from zero
    a, _, _ = ema(np.arange(10.0), 5.0)
    b, _, _ = ema(np.arange(10.0), 0.999)
    np.testing.assert_array_equal(a, b)


def test_a_constant_stays_exactly_constant():
    s = Series(cap=1000, smoothing=0.95)
    for start in range(0, 20_000, 700):
        s.extend(np.arange(start, start + 700), np.full(700, 0.07))
    assert np.all(s.smoothed == 0.07) and np.all(s.y == 0.07)


def test_incremental_smoothing_equals_one_pass():
    y = np.random.default_rng(1).random(5000)
    s = Series(smoothing=0.95)
    for start in range(0, 5000, 333):
        s.extend(np.arange(start, min(start + 333, 5000)), y[start:start + 333])
    np.testing.assert_allclose(s.smoothed, tensorboard_smoothing(y, 0.95), rtol=1e-9)
    s.set_smoothing(0.5)
    np.testing.assert_allclose(s.smoothed, tensorboard_smoothing(y, 0.5), rtol=1e-9)
    s.set_smoothing(0.0)
    np.testing.assert_array_equal(s.smoothed, y)


def test_growth_doubles_and_keeps_points():
    s = Series()
    assert s.capacity == 1024
    s.extend(np.arange(3000), np.arange(3000) * 2.0)
    assert len(s) == 3000 and s.capacity == 4096
    s.extend([3000], [6000.0])
    np.testing.assert_array_equal(s.x, np.arange(3001))
    np.testing.assert_array_equal(s.y, np.arange(3001) * 2.0)
    with pytest.raises(ValueError):
        s.extend([1, 2], [1.0])
    s.clear()
    assert len(s) == 0 and s.value_at(3) is None


def test_value_at_picks_the_nearest_point():
    s = Series()
    s.extend([1, 2, 4, 8], [10.0, 20.0, 40.0, 80.0])
    assert s.value_at(2.9)[:2] == (2.0, 20.0)
    assert s.value_at(3.1)[:2] == (4.0, 40.0)
    assert s.value_at(-5)[0] == 1.0 and s.value_at(100)[0] == 8.0


def test_a_million_points_stay_under_the_cap_and_keep_their_peaks():
    cap = 200_000
    s = Series(cap=cap, smoothing=0.9)
    rng = np.random.default_rng(2)
    spikes = {123_457: 50.0, 600_001: -40.0}
    for start in range(0, 1_000_000, 1000):
        x = np.arange(start + 1, start + 1001)
        y = np.exp(-x / 2e5) + rng.normal(0, 0.01, 1000)
        for at, v in spikes.items():
            if start < at <= start + 1000:
                y[at - start - 1] = v
        s.extend(x, y)
        assert len(s) <= cap
    assert s.decimations > 0
    assert s.capacity <= 2 * cap  # memory: at most ~9.6 MB for the three columns
    assert np.all(np.diff(s.x) >= 0)  # still in x order
    assert s.x[0] <= 64 and s.x[-1] == 1_000_000  # the thinned part is uniform: 2 per 64
    # The newest half of the cap is untouched, the spikes of the thinned part survive.
    np.testing.assert_array_equal(s.x[-cap // 2:], np.arange(1_000_001 - cap // 2, 1_000_001))
    assert s.y.max() == 50.0 and s.y.min() == -40.0
    assert s.x[np.argmax(s.y)] == 123_457 and s.x[np.argmin(s.y)] == 600_001


def test_one_huge_batch_is_thinned_too():
    s = Series(cap=1000)
    y = np.sin(np.arange(50_000) / 100.0)
    y[7] = np.nan
    s.extend(np.arange(50_000), y)
    assert len(s) <= 1000
    assert np.nanmax(s.y) == pytest.approx(y[~np.isnan(y)].max())
    assert np.nanmin(s.y) == pytest.approx(y[~np.isnan(y)].min())
    for start in range(50_000, 60_000, 7):  # then small batches
        s.extend(np.arange(start, start + 7), np.zeros(7))
        assert len(s) <= 1000


def test_the_store_needs_no_qt():
    import subprocess
    import sys
    code = ("import sys, workbench.ui.plots.series; "
            "sys.exit(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_finite_bounds_skip_nan_and_infinite_values():
    assert finite_bounds(np.array([2.0, np.nan, -1.0])) == (-1.0, 2.0)
    assert finite_bounds(np.array([np.inf, 3.0, -np.inf, 1.0])) == (1.0, 3.0)
    assert finite_bounds(np.array([np.nan, np.nan])) == (None, None)
    assert finite_bounds(np.zeros(0)) == (None, None)


def _brute_extent(values: np.ndarray, positive: bool):
    return finite_bounds(values[values > 0] if positive else values)


def test_the_running_extent_equals_a_full_pass_through_thinning_smoothing_and_clear():
    """The extent kept as points arrive must equal one computed from all stored points, also
    after thinning rewrote them (the smallest positive value or a smoothed peak can go), a
    smoothing change (every smoothed value changes) and clear."""
    rng = np.random.default_rng(0)
    s = Series(cap=64, smoothing=0.6)
    x0 = 0
    for k in range(60):
        n = int(rng.integers(1, 20))
        y = rng.normal(size=n) * (1 + k % 7)
        y[rng.random(n) < 0.1] = np.nan
        y[rng.random(n) < 0.05] = -np.inf
        s.extend(np.arange(x0, x0 + n), y)
        x0 += n
        if k == 30:
            s.set_smoothing(0.9)
        if k == 45:
            s.clear()
        for smoothed in (False, True):
            for positive in (False, True):
                stored = s.smoothed if smoothed else s.y
                assert s.extent(smoothed=smoothed, positive=positive) == \
                    _brute_extent(stored, positive), (k, smoothed, positive)
    assert s.decimations > 0


def test_the_running_extent_reads_only_new_points(monkeypatch):
    import workbench.ui.plots.series as series_module
    s = Series(cap=10_000)
    s.extend(np.arange(1000), np.linspace(-1, 1, 1000))
    assert s.extent() == (-1.0, 1.0)
    read: list[int] = []

    def counting(v):
        read.append(len(v))
        return finite_bounds(v)

    monkeypatch.setattr(series_module, "finite_bounds", counting)
    s.extend([1000, 1001], [5.0, -3.0])
    assert s.extent() == (-3.0, 5.0) and read == [2]
    assert s.extent() == (-3.0, 5.0) and read == [2]  # nothing new: nothing read
