"""What a measure reports, and the small pure helpers the measures share."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence


@dataclass
class Result:
    """One row of the table.

    ``ratio`` is oriented so that bigger is better for the workbench (a speed-up), except
    where ``target`` says otherwise (``<= 1.15x`` of a floor's time). ``passed`` is None
    for a line that is reported with no target (peak memory) or could not run here (a
    missing optional package: ``note`` says why).
    """

    measure: str
    workbench: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    note: str = ""
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, interpolated linearly between the
    closest ranks (numpy's default), NaN for no values."""
    xs = sorted(values)
    if not xs:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def lateness_ms(times_s: Sequence[float], interval_ms: float) -> list[float]:
    """How late each tick of a repeating timer came: the gap since the previous tick minus
    the interval, in ms, never below 0 (an early tick is not late). A GUI thread that is
    blocked for 80 ms shows up as one tick 70 ms late."""
    return [max(0.0, (b - a) * 1000.0 - interval_ms) for a, b in zip(times_s, times_s[1:])]


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """The shortest of ``repeats`` timed calls (seconds): on a shared machine the minimum
    is the run least disturbed by other processes, as ``timeit`` advises."""
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_alternated(contenders: dict[str, Callable[[], float]], repeats: int
                    ) -> dict[str, float]:
    """Each contender's shortest time over ``repeats`` rounds, the contenders taking turns
    within a round: on a shared machine a burst of load from another process then hurts one
    try of each, not every try of one. A contender returns its own seconds."""
    best = {name: math.inf for name in contenders}
    for _ in range(max(1, repeats)):
        for name, fn in contenders.items():
            best[name] = min(best[name], fn())
    return best


def json_from_child(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``cmd`` (a measure's child process) and read the JSON object on its last line of
    output; ``{"error": <the end of its stderr>}`` when it fails."""
    import json
    import subprocess
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far (MB), None where the OS does not say.

    Linux's VmHWM first: ``ru_maxrss`` is inherited from the parent at fork and kept across
    exec, so a child of a big process (the whole ``workbench bench``) would report its
    parent's peak."""
    peak = proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil
            return psutil.Process().memory_info().peak_wset / 2**20
        except (ImportError, AttributeError):
            return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def proc_status_mb(field: str) -> float | None:
    """A memory line of Linux's /proc/self/status (VmHWM, RssAnon, ...) in MB; None
    elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_mb() -> float | None:
    """Resident memory now (MB): /proc on Linux, psutil elsewhere when installed."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return None
