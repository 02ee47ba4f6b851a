"""A trained model's scores on one split, with everything needed to read them honestly:
each metric's chance level, the primary metric and whether it rose above chance, and
whether the embedding space collapsed.

The Trainer scores the model it hands over once on ``test`` when a run ends (and on ``val``
when the last validation is not of that model); ``workbench evaluate`` scores a saved run.
Everything returned is plain JSON (run.json, ``--json``, events).
"""

from __future__ import annotations

import math

import torch

from ..data.dataset import PairedDataset
from .chance import chance_spread, split_chance
from .rules import CHANCE_MARGIN, at_chance
from .health import collapse_warning, space_health
from .names import LOWER_IS_BETTER, title

# Vectors per modality the collapse figures are computed on (an SVD of this many rows).
HEALTH_SAMPLE = 5000
EVAL_BATCH = 256


def score_split(model, dataset: PairedDataset, split: str, batch_size: int = EVAL_BATCH,
                device: torch.device | str = "cpu", *,
                metrics: dict[str, float] | None = None) -> dict:
    """``{"split", "size", "metrics", "chance", "primary", "spread", "at_chance"}`` for
    ``model`` on ``split``; ``metrics`` when already computed (the last validation). An
    empty split gives ``size`` 0 and no metrics: never a made-up number."""
    idx = dataset.indices(split)
    primary = model.primary_metric()
    out = {"split": split, "size": len(idx), "metrics": {}, "chance": {},
           "primary": primary, "spread": None, "at_chance": None}
    if len(idx) == 0:
        return out
    if metrics is None:
        metrics = model.evaluate(dataset, split, max(batch_size, EVAL_BATCH), device)
    chance, spread = split_chance_of(dataset, split, primary if primary in metrics else None)
    out.update(metrics=dict(metrics), chance={k: v for k, v in chance.items() if k in metrics})
    if spread is not None:
        out["spread"] = spread
        out["at_chance"] = at_chance(metrics[primary], chance.get(primary), spread, primary)
    return out


def split_chance_of(dataset: PairedDataset, split: str,
                    primary: str | None = None) -> tuple[dict[str, float], float | None]:
    """The chance level of every metric ``split`` can be scored on (classification where
    it has labels, retrieval always), and ``primary``'s standard error at chance."""
    idx = dataset.indices(split)
    if len(idx) == 0:
        return {}, None
    where = {"labels": dataset.split_labels(split), "num_classes": dataset.num_classes,
             "image_ids": dataset.image_ids(idx)}
    spread = chance_spread(primary, **where) if primary else None
    return split_chance(**where), spread


def chance_warning(score: dict) -> str | None:
    """A sentence when the split's primary metric is within two standard errors of
    chance (or below it), else None."""
    if not score.get("at_chance"):
        return None
    primary = score["primary"]
    value, chance, spread = score["metrics"][primary], score["chance"][primary], score["spread"]
    lower = primary in LOWER_IS_BETTER
    below = value > chance + CHANCE_MARGIN * spread if lower else \
        value < chance - CHANCE_MARGIN * spread
    where = "worse than" if below else f"within {CHANCE_MARGIN:g} standard errors of"
    split = score["split"]
    on = f"on the {split} split" if split in ("train", "val", "test") else f"on {split}"
    return (f"{title(primary)} {value:.3f} {on} is {where} chance "
            f"({chance:.3f}, standard error {spread:.3f} for {score['size']} pairs): no "
            "evidence that the model learned more than guessing")


@torch.no_grad()
def split_health(model, dataset: PairedDataset, split: str,
                 device: torch.device | str = "cpu") -> dict[str, dict[str, float]]:
    """:func:`~.health.space_health` of the split's text and image vectors (the first
    :data:`HEALTH_SAMPLE` pairs) in the model's score space; {} when there are none."""
    idx = dataset.indices(split)[:HEALTH_SAMPLE]
    if len(idx) < 2:
        return {}
    was_training = model.training
    model.eval()
    parts: dict[str, list] = {}
    try:
        for start in range(0, len(idx), EVAL_BATCH):
            batch = dataset.batch(idx[start:start + EVAL_BATCH]).to(device)
            for k, v in model.embed(batch).items():
                if k in ("text", "image"):
                    parts.setdefault(k, []).append(v.float().cpu())
    finally:
        model.train(was_training)
    return space_health({k: torch.cat(v).numpy() for k, v in parts.items()})


def warnings_of(val: dict | None, test: dict | None, health: dict,
                no_primary: str = "") -> list[str]:
    """What a run's summary says beside its numbers: at chance, collapsed, no test split,
    no primary metric."""
    out = []
    for score in (val, test):
        if score:
            warning = chance_warning(score)
            if warning:
                out.append(warning)
    collapsed = collapse_warning(health)
    if collapsed:
        out.append(collapsed)
    if test is not None and test.get("size") == 0:
        out.append("no test split (data.test_fraction is 0, or too few pairs): the run has "
                   "no score on data nobody tuned on")
    if no_primary:
        out.append(f"no primary metric: {no_primary}")
    return out


def finite(metrics: dict) -> dict[str, float]:
    """The finite numbers of a metrics dict (JSON has no NaN)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and math.isfinite(v)}
