"""Compare fusions: train one setup once per valid fusion and say which wins on this data.

:func:`fusion_variants` makes the configs (everything but the fusion identical, the same seed,
so the same split and the same initial encoders), the Trainer or the GUI worker runs them one
after the other, and :func:`summarize` / :func:`winner` turn the runs' ``FitEnded`` events into
the table both the GUI and ``workbench compare`` show. No Qt, no torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

from ..algorithms import valid_fusions
from ..config import ExperimentConfig, check
from ..fusion import FUSIONS
from ..training.events import EpochEnded, FitEnded

# The headline metric is the first of these a run reports (validation, higher is better):
# accuracy for algorithms that predict labels, else text -> image R@10. Algorithms with
# neither (the generating GAN) fall back to the validation loss, lower is better.
HEADLINES = ("accuracy", "t2i_r10")
FALLBACK = "loss"

# Shown in tables and on axes.
METRIC_TITLES = {"accuracy": "accuracy", "t2i_r10": "R@10 text→image", "loss": "val loss"}


def fusion_variants(cfg: ExperimentConfig,
                    fusions: Sequence[str] | None = None) -> list[ExperimentConfig]:
    """One copy of ``cfg`` per valid fusion of its algorithm (registry order), each with that
    fusion's default parameters and everything else identical.

    ``fusions`` picks a subset (in the order given); a name that is unknown or invalid for
    the algorithm is refused with the registry's reason, never silently dropped. Defaults for
    every fusion, the current one included, make the comparison fair: none is tuned.
    """
    from ..algorithms import fusion_problem
    from ..errors import ConfigError

    names = list(valid_fusions(cfg.algorithm.name)) if fusions is None else list(fusions)
    out = []
    for name in names:
        problem = fusion_problem(cfg.algorithm.name, name)
        if problem:
            raise ConfigError(f"{cfg.algorithm.name} cannot use {name!r} fusion: {problem}",
                              key="fusion.name", value=name,
                              allowed=", ".join(valid_fusions(cfg.algorithm.name)))
        variant = cfg.copy()
        variant.fusion.name, variant.fusion.params = name, FUSIONS[name].params()
        check(variant)
        out.append(variant)
    return out


def headline_metric(metrics: Iterable[dict]) -> str:
    """The headline metric among the metric dicts ``metrics`` (of every run being compared)."""
    seen: set[str] = set()
    for m in metrics:
        seen.update(m)
    return next((name for name in HEADLINES if name in seen), FALLBACK)


def higher_is_better(metric: str) -> bool:
    return metric != FALLBACK


def read_history(run_dir: str | Path | None) -> list[dict]:
    """The per-epoch records of a run folder's ``metrics.jsonl`` (empty when there is none)."""
    from ..runs.export import read_jsonl
    return [] if run_dir is None else read_jsonl(Path(run_dir) / "metrics.jsonl")


def _val_history(history: Sequence[dict | EpochEnded]) -> list[tuple[int, dict]]:
    out = []
    for h in history:
        epoch, val = (h.epoch, h.val) if isinstance(h, EpochEnded) else (h["epoch"], h["val"])
        if val:
            out.append((int(epoch), val))
    return out


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def summarize(results: Sequence[FitEnded], configs: Sequence[ExperimentConfig],
              histories: Sequence[Sequence[dict | EpochEnded]] | None = None, *,
              metric: str | None = None) -> list[dict]:
    """One row per run: ``fusion``, ``status``, ``metric`` (its name), ``value`` (the final
    validation value), ``macro_f1``, ``median_rank``, ``best_epoch`` and ``best_value`` (the
    epoch whose validation value was best), ``epochs``, ``seconds``, ``run_dir``, ``reason``.

    ``histories`` are each run's epochs (``EpochEnded`` or ``metrics.jsonl`` records); without
    them they are read from the runs' folders. Values a run did not report are None. The
    headline ``metric`` is the same for every row (:func:`headline_metric` by default).
    """
    if len(results) != len(configs):
        raise ValueError(f"{len(results)} results for {len(configs)} configs")
    if histories is None:
        histories = [read_history(r.run_dir) for r in results]
    vals = [_val_history(h) for h in histories]
    if metric is None:
        metric = headline_metric([r.metrics for r in results]
                                 + [v for h in vals for _, v in h])
    better = max if higher_is_better(metric) else min
    rows = []
    for end, cfg, hist in zip(results, configs, vals):
        points = [(e, _finite(v.get(metric))) for e, v in hist]
        points = [(e, v) for e, v in points if v is not None]
        best = better(points, key=lambda p: p[1]) if points else (None, None)
        rows.append({
            "fusion": cfg.fusion.name, "status": end.status, "metric": metric,
            "value": _finite(end.metrics.get(metric)),
            "macro_f1": _finite(end.metrics.get("macro_f1")),
            "median_rank": _finite(end.metrics.get("median_rank")),
            "best_epoch": best[0], "best_value": best[1], "epochs": end.epoch,
            "seconds": round(float(end.seconds), 3), "run_dir": end.run_dir,
            "reason": end.reason})
    return rows


def winner(rows: Sequence[dict]) -> dict | None:
    """The finished row with the best final headline value (ties: higher macro-F1, lower
    median rank, faster); None when no run finished with a value. Stopped and failed runs
    do not compete: they trained less than the others."""
    ok = [r for r in rows if r["status"] == "finished" and r["value"] is not None]
    if not ok:
        return None
    sign = 1.0 if higher_is_better(ok[0]["metric"]) else -1.0

    def key(r: dict):
        f1 = r["macro_f1"] if r["macro_f1"] is not None else -math.inf
        rank = r["median_rank"] if r["median_rank"] is not None else math.inf
        return (-sign * r["value"], -f1, rank, r["seconds"])

    return min(ok, key=key)


def format_table(rows: Sequence[dict]) -> str:
    """The rows as a plain-text table, the winner marked with ``*``."""
    if not rows:
        return "(no runs)"
    best = winner(rows)
    metric = rows[0]["metric"]
    head = ["", "fusion", "status", METRIC_TITLES.get(metric, metric), "macro-F1",
            "median rank", "best epoch", "time (s)"]
    lines = [head]
    for r in rows:
        lines.append(["*" if r is best else "", r["fusion"], r["status"], _num(r["value"]),
                      _num(r["macro_f1"]), _num(r["median_rank"], "{:g}"),
                      "" if r["best_epoch"] is None else str(r["best_epoch"]),
                      f"{r['seconds']:.1f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    left = {1, 2}  # text columns; numbers are right-aligned
    out = ["  ".join(c.ljust(w) if i in left or i == 0 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(line, widths))).rstrip()
           for line in lines]
    return "\n".join(out)


def _num(value: float | None, fmt: str = "{:.3f}") -> str:
    return "" if value is None else fmt.format(value)
