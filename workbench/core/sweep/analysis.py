"""What a study says: its trials as rows, the best trial, the summary, the settings'
importances (Optuna's), the best value over the trials. Read from the storage, so it serves
a running study, a finished one and one reopened days later alike."""

from __future__ import annotations

import math
from typing import Any

from .study import SweepSpec, optuna_module


def trial_rows(study) -> list[dict[str, Any]]:
    """Every trial as the Sweep tab and ``--json`` show it."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        start, end = t.datetime_start, t.datetime_complete
        seconds = t.user_attrs.get("seconds")
        if seconds is None and start is not None and end is not None:
            seconds = (end - start).total_seconds()
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value,
                     "params": dict(t.params), "seconds": seconds,
                     "epochs": t.user_attrs.get("epochs"),
                     "reason": t.user_attrs.get("reason", ""),
                     "runs": list(t.user_attrs.get("runs", [])),
                     "intermediate": {int(k): v for k, v in t.intermediate_values.items()}})
    return rows


def best_trial(study):
    """The best complete trial, or None."""
    from optuna.trial import TrialState
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def summarize(study, spec: SweepSpec) -> dict:
    """The study in one dict: best value and settings, trial counts, the best trial's test
    metrics (the test split was never used to choose it)."""
    rows = trial_rows(study)
    count = {s: sum(r["state"] == s for r in rows) for s in
             ("complete", "pruned", "fail", "running")}
    best = best_trial(study)
    return {"study": study.study_name, "metric": spec.metric, "direction": spec.direction,
            "seeds": spec.seeds, "trials": len(rows), "complete": count["complete"],
            "pruned": count["pruned"], "failed": count["fail"], "running": count["running"],
            "epochs": sum(r["epochs"] or 0 for r in rows),
            "best_trial": best.number if best else None,
            "best_value": best.value if best else None,
            "best_params": dict(best.params) if best else {},
            "best_seed_values": list(best.user_attrs.get("seed_values", [])) if best else [],
            "best_test_metrics": dict(best.user_attrs.get("test", {})) if best else {},
            "best_test_chance": dict(best.user_attrs.get("test_chance", {})) if best else {},
            "best_runs": list(best.user_attrs.get("runs", [])) if best else []}



def importances(study) -> dict[str, float]:
    """Each searched setting's share of the value's variance (Optuna's fANOVA over the
    complete trials), highest first; {} while there are too few trials to say."""
    optuna = optuna_module()
    from optuna.trial import TrialState
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 3:
        return {}
    try:
        found = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError):  # one value only, a constant
        return {}
    return {k: float(v) for k, v in found.items() if math.isfinite(v)}


def best_so_far(rows: list[dict[str, Any]], direction: str) -> list[tuple[int, float]]:
    """``(trial number, best value up to it)`` after each complete trial."""
    better = max if direction == "maximize" else min
    out: list[tuple[int, float]] = []
    for row in sorted(rows, key=lambda r: r["number"]):
        value = row["value"]
        if row["state"] != "complete" or value is None or not math.isfinite(value):
            continue
        out.append((row["number"], value if not out else better(out[-1][1], value)))
    return out
