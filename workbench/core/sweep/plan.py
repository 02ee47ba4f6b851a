"""What a sweep optimises and what it hands back, shared by ``workbench sweep`` and the
Sweep tab: the metric (the algorithm's primary one unless chosen), its direction, and the
best trial as a preset."""

from __future__ import annotations

from typing import Any

from .. import config as C
from ..algorithms import primary_metric
from ..errors import ConfigError
from ..evaluation.names import LOWER_IS_BETTER
from .trial import best_config


def default_metric(cfg: C.ExperimentConfig, labelled: bool) -> str:
    """The metric Compare ranks ``cfg``'s algorithm by on data with labels or not."""
    metric = primary_metric(cfg.algorithm.name, cfg.algorithm.params, labelled)
    if metric is None:
        raise ConfigError(f"{cfg.algorithm.name} has no primary metric to optimise; choose "
                          "one with --metric (and --direction)", key="--metric")
    return metric


def direction_for(metric: str) -> str:
    """"minimize" for losses, errors and ranks, else "maximize"."""
    lower = metric in LOWER_IS_BETTER or metric.endswith("loss") or \
        metric.startswith("recon_error")
    return "minimize" if lower else "maximize"


def best_preset(spec, study_name: str, number: int, value: float,
                params: dict[str, Any]) -> C.ExperimentConfig:
    """The best trial's settings as a preset, its description saying where they came from."""
    cfg = best_config(spec, params)
    base = spec.base_config()
    cfg.description = (f"The best trial (#{number}) of the sweep {study_name!r} of "
                       f"{spec.preset}: {spec.metric} {value:.4f} on validation"
                       f"{f' (mean of {spec.seeds} seeds)' if spec.seeds > 1 else ''}. "
                       + base.description).strip()
    return cfg
