"""A growable, memory-bounded (x, y) series for live curves, with TensorBoard's smoothing.

Pure numpy, no Qt, so it is unit-tested without a display.

- Appending a batch writes into preallocated arrays that double when full: appending n points
  costs O(n) amortised, never a Python list of floats.
- Beyond ``cap`` points the older part is decimated to the minimum and the maximum of each
  bucket (in x order), so spikes survive and a run of millions of steps keeps a few MB per
  curve. The newest ``cap // 2`` points always stay at full resolution.
- The smoothed column is TensorBoard's debiased exponential moving average, updated
  incrementally for the new points only; changing the weight recomputes it from the stored
  points (vectorised, in blocks).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ...core.training.events import StepLogged

DEFAULT_CAP = 200_000
MAX_WEIGHT = 0.999
_MIN_CAPACITY = 1024
_MIN_BUCKET = 4  # thinning at least halves the old part: min + max of every 4 points
_EXP_RANGE = 600.0  # w**k kept above e**-600 inside one block: no overflow in w**-k


def ema(y: np.ndarray, weight: float, last: float = 0.0, count: int = 0
        ) -> tuple[np.ndarray, float, int]:
    """TensorBoard's smoothing of ``y``: ``last = w * last + (1 - w) * y``, shown debiased
    as ``last / (1 - w**count)``, so the first points are not pulled towards zero.
    Non-finite values pass through unchanged and do not enter the average. ``last`` and
    ``count`` carry the state of the points before ``y``; returns (smoothed, last, count).
    """
    y = np.asarray(y, dtype=np.float64)
    w = min(max(float(weight), 0.0), MAX_WEIGHT)
    finite = np.isfinite(y)
    vals = y[finite]
    m = vals.size
    if m == 0:
        return y.copy(), last, count
    if w == 0.0:
        acc = vals.copy()
    else:
        # Blocks where w**-k stays finite: inside one, last_j = w**(j+1) * carry
        # + (1 - w) * w**j * cumsum(y_i * w**-i).
        block = max(1, int(_EXP_RANGE / -math.log(w)))
        acc = np.empty(m)
        carry = last
        for start in range(0, m, block):
            chunk = vals[start:start + block]
            k = np.arange(chunk.size, dtype=np.float64)
            up = np.power(w, -k)
            down = np.power(w, k)
            acc[start:start + chunk.size] = (
                w * down * carry + (1.0 - w) * down * np.cumsum(chunk * up))
            carry = acc[start + chunk.size - 1]
    counts = count + np.arange(1, m + 1, dtype=np.float64)
    debias = 1.0 - np.power(w, counts) if w > 0.0 else 1.0
    smoothed = acc / debias
    # Where the average equals the value up to rounding (a constant stretch), show the value
    # itself, as TensorBoard does for constant series: a fixed temperature must draw a flat
    # line, not rounding noise that autoscaling blows up into a band.
    same = np.abs(smoothed - vals) <= 8 * np.finfo(np.float64).eps * np.abs(vals)
    smoothed[same] = vals[same]
    out = y.copy()
    out[finite] = smoothed
    return out, float(acc[-1]), count + m


class Series:
    """Points (x, y) of one curve in x order, plus their smoothed y.

    ``x``, ``y`` and ``smoothed`` are views of the stored points, valid until the next
    change; hand them to ``setData`` right after appending.
    """

    def __init__(self, cap: int = DEFAULT_CAP, smoothing: float = 0.0):
        if cap < 16:
            raise ValueError(f"cap must be at least 16 points, got {cap}")
        self.cap = int(cap)
        self._weight = min(max(float(smoothing), 0.0), MAX_WEIGHT)
        self._buf = np.empty((3, _MIN_CAPACITY))  # rows: x, y, smoothed
        self._n = 0
        self._last, self._count = 0.0, 0  # the EMA's state after the last point
        self._thinned = 0  # points [0, _thinned) are min/max pairs of _bucket raw points
        self._bucket = 0
        self.decimations = 0  # how often older points were thinned
        # Running extents (see extent): bumped whenever stored points are rewritten rather
        # than appended, which makes every cached extent start over.
        self._version = 0
        self._extents: dict[tuple[int, bool], tuple[int, int, float | None, float | None]] = {}

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        return self._buf[0, :self._n]

    @property
    def y(self) -> np.ndarray:
        return self._buf[1, :self._n]

    @property
    def smoothed(self) -> np.ndarray:
        return self._buf[2, :self._n]

    @property
    def capacity(self) -> int:
        """Points the arrays hold before they grow (memory use = 24 bytes per point)."""
        return self._buf.shape[1]

    @property
    def smoothing(self) -> float:
        return self._weight

    def set_smoothing(self, weight: float) -> None:
        """Use EMA weight ``weight`` (clamped to 0 .. 0.999) for all points."""
        weight = min(max(float(weight), 0.0), MAX_WEIGHT)
        if weight == self._weight:
            return
        self._weight = weight
        self._buf[2, :self._n], self._last, self._count = ema(self.y, weight)
        self._version += 1

    def clear(self) -> None:
        self._buf = np.empty((3, _MIN_CAPACITY))
        self._n = 0
        self._last, self._count = 0.0, 0
        self._thinned = self._bucket = 0
        self.decimations = 0
        self._version += 1

    def extent(self, *, smoothed: bool = False, positive: bool = False
               ) -> tuple[float | None, float | None]:
        """The least and greatest finite y (``smoothed``: smoothed y), only values > 0 with
        ``positive`` (a log axis); (None, None) when there are none. Kept as points arrive,
        so a call costs the points added since the last one; thinning (every quarter of a
        cap of points) or a smoothing change makes the next call read them all again."""
        row = 2 if smoothed else 1
        key = (row, positive)
        version, covered, lo, hi = self._extents.get(key, (-1, 0, None, None))
        if version != self._version:
            covered, lo, hi = 0, None, None
        if covered < self._n:
            new = self._buf[row, covered:self._n]
            a, b = finite_bounds(new[new > 0] if positive else new)
            if a is not None:
                lo, hi = (a, b) if lo is None else (min(lo, a), max(hi, b))
        self._extents[key] = (self._version, self._n, lo, hi)
        return lo, hi

    def value_at(self, x: float) -> tuple[float, float, float] | None:
        """The stored point nearest to ``x``: (x, y, smoothed), or None when empty."""
        if self._n == 0:
            return None
        xs = self.x
        i = int(np.searchsorted(xs, x))
        if i >= self._n or (i > 0 and x - xs[i - 1] <= xs[i] - x):
            i -= 1
        return float(xs[i]), float(self._buf[1, i]), float(self._buf[2, i])

    def extend(self, x, y) -> None:
        """Append points; ``x`` must not go back before the last stored x."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"x and y differ in length: {x.size} and {y.size}")
        k = x.size
        if k == 0:
            return
        self._reserve(self._n + k)
        n = self._n
        self._buf[0, n:n + k] = x
        self._buf[1, n:n + k] = y
        self._buf[2, n:n + k], self._last, self._count = ema(
            y, self._weight, self._last, self._count)
        self._n = n + k
        while self._n > self.cap and self._decimate():
            pass

    def _reserve(self, n: int) -> None:
        if n <= self.capacity:
            return
        size = self.capacity
        while size < n:
            size *= 2
        grown = np.empty((3, size))
        grown[:, :self._n] = self._buf[:, :self._n]
        self._buf = grown

    def _decimate(self) -> bool:
        """Move the raw points older than the newest cap // 2 into the thinned prefix (min
        and max of every ``_bucket`` raw points); when the prefix passes cap // 4 points,
        halve its resolution by merging pairs of buckets. The prefix stays uniform in
        resolution and the next thinning comes about a quarter of a cap later: O(1)
        amortised per point. Returns whether it freed any room."""
        before = self._n
        self._version += 1  # points are rewritten: the smoothed and positive extents can shrink
        raw = self._n - self._thinned
        if self._bucket == 0:
            self._bucket = _MIN_BUCKET
        move = max(0, raw - self.cap // 2) // self._bucket * self._bucket
        if move == 0 and raw >= self._bucket:  # huge buckets: free room from the tail too
            move = self._bucket
        if move:
            start = self._thinned
            self._thinned += self._peaks(start, move, self._bucket, start)
            self._shift(start + move, self._thinned)
        while self._thinned > self.cap // 4:  # merge pairs of buckets: 4 points -> 2
            merged = self._thinned // 4 * 4
            kept = self._peaks(0, merged, 4, 0)
            rest = self._thinned - merged  # an odd last bucket keeps its two points
            self._buf[:, kept:kept + rest] = self._buf[:, merged:self._thinned]
            end = self._thinned
            self._thinned = kept + rest
            self._shift(end, self._thinned)
            self._bucket *= 2
        self.decimations += 1
        return self._n < before

    def _peaks(self, start: int, count: int, size: int, dest: int) -> int:
        """Write the min and max (in x order) of each ``size`` points of
        ``[start, start + count)`` at ``dest``; returns how many points it wrote."""
        idx = start + peak_indices(self._buf[1, start:start + count // size * size], size)
        self._buf[:, dest:dest + idx.size] = self._buf[:, idx]  # fancy index: a copy first
        return idx.size

    def _shift(self, src: int, dest: int) -> None:
        """Move the points from ``src`` to the end down to ``dest``."""
        count = self._n - src
        self._buf[:, dest:dest + count] = self._buf[:, src:self._n]  # numpy handles overlap
        self._n = dest + count


def peak_indices(y: np.ndarray, size: int) -> np.ndarray:
    """Indices of the minimum and the maximum of each run of ``size`` points of ``y`` (the
    last, shorter run too), two a run, in x order. A NaN never hides the peaks around it; a
    run with no value gives its first index twice, so a gap stays one."""
    n = len(y)
    full = n // size * size
    nan = np.isnan(y)
    low, high = (np.where(nan, np.inf, y), np.where(nan, -np.inf, y)) if nan.any() else (y, y)
    lo = low[:full].reshape(-1, size).argmin(axis=1)
    hi = high[:full].reshape(-1, size).argmax(axis=1)
    if full < n:  # the tail run
        lo = np.append(lo, low[full:].argmin())
        hi = np.append(hi, high[full:].argmax())
    starts = np.arange(0, n, size)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    return (np.stack([first, second], axis=1) + starts[:, None]).ravel()


def finite_bounds(v: np.ndarray) -> tuple[float | None, float | None]:
    """(min, max) of the finite values of ``v``, (None, None) when there are none. fmin and
    fmax skip NaN without a copy; only an infinite value needs the filtered copy."""
    if not v.size:
        return None, None
    lo, hi = float(np.fmin.reduce(v)), float(np.fmax.reduce(v))
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    v = v[np.isfinite(v)]
    return (float(v.min()), float(v.max())) if v.size else (None, None)


def step_columns(steps: list[StepLogged]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The batch as arrays: steps, and each term's values (NaN where a step lacks it)."""
    n = len(steps)
    x = np.fromiter((s.step for s in steps), dtype=np.float64, count=n)
    names = dict.fromkeys(itertools.chain.from_iterable(s.losses for s in steps))
    nan = float("nan")
    return x, {name: np.fromiter((s.losses.get(name, nan) for s in steps), dtype=np.float64,
                                 count=n) for name in names}
