"""Running the measures and printing what they found: the table and the JSON object."""

from __future__ import annotations

import math
import platform
import time
import traceback
from typing import Callable, Iterable

from . import load
from .result import Result, peak_rss_mb


def run_measures(names: Iterable[str], quick: bool,
                 progress: Callable[[str], None] | None = None) -> tuple[list[Result], dict]:
    """Every measure in ``names``, in order, then the peak-memory line. A measure that
    raises becomes one failed row naming the error, and the others still run."""
    rows: list[Result] = []
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name in names:
        if progress:
            progress(name)
        t0 = time.perf_counter()
        try:
            rows += load(name)(quick)
        except Exception as exc:  # a broken measure must not hide the others' numbers
            errors[name] = f"{type(exc).__name__}: {exc}"
            rows.append(Result(f"{name}: could not run", None, "", passed=False,
                               note=errors[name],
                               details={"traceback": traceback.format_exc(limit=8)}))
        seconds[name] = round(time.perf_counter() - t0, 2)
    peak = peak_rss_mb()
    rows.append(Result("peak memory of this process (RSS)", peak, "MB",
                       note="" if peak is not None else "not reported by this OS"))
    meta = {"quick": quick, "seconds": seconds, "errors": errors,
            "python": platform.python_version(), "machine": platform.machine(),
            "system": platform.system(), "cpus": _cpus()}
    return rows, meta


def _cpus() -> int | None:
    import os
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit in ("samples/s", "images/s", "MB"):
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip() if unit else text


def verdict(passed: bool | None) -> str:
    return {True: "yes", False: "NO", None: "–"}[passed]


def table_rows(rows: list[Result]) -> list[list[str]]:
    out = []
    for r in rows:
        unit = "" if r.unit == "yes=1" else r.unit
        work = ("yes" if r.workbench else "no") if r.unit == "yes=1" else fmt(r.workbench, unit)
        base = fmt(r.baseline, unit)
        if r.baseline_name:
            base += f" ({r.baseline_name})"
        ratio = "–" if r.ratio is None else f"{r.ratio:.2f}x"
        cells = [r.measure, work, base, ratio, r.target or "–", verdict(r.passed)]
        if r.note:
            cells[0] += f" [{r.note}]"
        out.append(cells)
    return out


HEADER = ["measure", "workbench", "baseline", "ratio", "target", "pass"]


def format_table(rows: list[Result]) -> str:
    """A plain-text table for the terminal."""
    body = table_rows(rows)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(HEADER)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *map(line, body)])


def format_markdown(rows: list[Result]) -> str:
    """The same table in Markdown (for the README)."""
    body = table_rows(rows)
    return "\n".join(["| " + " | ".join(HEADER) + " |",
                      "| " + " | ".join("---" for _ in HEADER) + " |",
                      *("| " + " | ".join(r) + " |" for r in body)])


def to_json(rows: list[Result], meta: dict) -> dict:
    """One JSON-able object: the rows, whether every target held, and the run's context."""
    judged = [r.passed for r in rows if r.passed is not None]
    return {"rows": [_clean(r.to_dict()) for r in rows], "all_passed": all(judged),
            **meta}


def _clean(value):
    """NaN and infinity are not JSON: None instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
