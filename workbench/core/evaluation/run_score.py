"""Score a saved run: the model it handed over, on one of its own splits or on other data
(``workbench evaluate``)."""

from __future__ import annotations

from pathlib import Path

from .. import config as C
from ..runs.store import RunError, RunInfo, load_run
from .report import chance_warning, finite, score_split, split_health
from .health import collapse_warning
from .saved_model import Progress, open_checkpoint, open_on_other_data

SPLITS = ("test", "val", "train")


def evaluate_run(run: str | Path | RunInfo, *, split: str = "test",
                 data: C.DataConfig | None = None, base: str | Path | None = None,
                 progress: Progress | None = None) -> dict:
    """The run's handed-over model (the best epoch's with ``training.keep_best``) scored on
    ``split`` of its own data, or on every pair of ``data`` (other data with the same kinds
    of inputs). Returns plain JSON: ``run``, ``checkpoint``, ``epoch``, ``data``, ``split``,
    ``size``, ``metrics``, ``chance``, ``primary``, ``spread``, ``at_chance``, ``health``,
    ``warnings`` and, for other data, ``transfer`` (pairs left out for labels the run never
    saw, the share of caption words outside its vocabulary)."""
    if split not in SPLITS:
        raise RunError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
    info = load_run(run, base=base)
    checkpoint = info.model_checkpoint
    if checkpoint is None:
        raise RunError(f"{info.id} has no checkpoint to evaluate (checkpoints/last.pt): it "
                       "ended before writing one")
    transfer = None
    if data is None:
        saved = open_checkpoint(checkpoint, progress=progress)
    else:
        saved, transfer = open_on_other_data(checkpoint, data, progress=progress)
        split = "test"  # every pair of the other data
    score = score_split(saved.model, saved.dataset, split)
    health = split_health(saved.model, saved.dataset, split)
    if transfer is not None:
        score["split"] = "all pairs of the other data"
    warnings = [w for w in (chance_warning(score), collapse_warning(health)) if w]
    if score["size"] == 0:
        warnings.append(f"the run has no {split} split: nothing to score")
    out = {"run": info.id, "checkpoint": str(checkpoint), "epoch": saved.about["epoch"],
           "algorithm": saved.config.algorithm.name, "fusion": saved.config.fusion.name,
           "data": data.source if data is not None else saved.config.data.source,
           **score, "metrics": finite(score["metrics"]), "health": health,
           "warnings": warnings}
    if transfer is not None:
        out["transfer"] = transfer
    return out
