"""Compare fusions: train one setup once per valid fusion (on several seeds when asked) and
say which wins on this data, but only when one does.

:func:`fusion_variants` makes the configs (everything but the fusion identical; with
``repeats`` N, each fusion on the seeds ``seed`` .. ``seed + N - 1`` with the split fixed by
``data.split_seed``, so every run is scored on the same validation and test pairs). The
Trainer or the GUI worker runs them one after the other; :func:`summarize` turns each run's
``FitEnded`` into a row, :func:`aggregate` the rows into one per fusion (mean and standard
deviation over its seeds), and :func:`verdict` says whether there is a winner, and why not
when there is none. The GUI and ``workbench compare`` show the same. No Qt, no torch.

How the winner is decided, on the algorithm's primary metric (validation split: the one a
user picks settings on; the test column is shown beside it, never used to pick):

1. An algorithm without a primary metric (a generating GAN) has no winner: no single
   number says one run is better.
2. Fusions whose every run failed or stopped do not compete (they trained less).
3. When every fusion's mean is within two standard errors of chance, or the best one's is,
   there is no winner: nothing beat guessing.
4. Equal means are a tie.
5. With two or more seeds each, the leader must beat the runner-up by more than twice the
   standard error of the difference of their means, sqrt(s_a^2 / n_a + s_b^2 / n_b) (s: the
   standard deviation over seeds); otherwise the difference is within the seeds' noise.
6. With one seed, the leader is named, and the verdict says that the seeds' noise was not
   measured (a repeat count of 3 measures it).

Beside the fusions, a baseline with no training can be shown: zero-shot CLIP
(:mod:`.zero_shot`, when the config's ``model.image_model`` is a CLIP model on this machine),
scored on the same split with the same metrics. :func:`zero_shot_row` makes its row, shaped as
:func:`aggregate`'s (one row: it is deterministic, so its standard deviation is 0), and
:func:`baseline_verdict` says whether the best fusion beats it by more than its seeds' noise.
It never takes part in :func:`verdict`: that names the best fusion.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..algorithms import ALGORITHMS, primary_metric, valid_fusions
from ..config import ExperimentConfig, check, split_seed
from ..fusion import FUSIONS
from ..training.events import EpochEnded, FitEnded
from .rules import CHANCE_MARGIN, NOISE_FACTOR, at_chance
from .names import MACRO_F1, title

# Plotted and shown when the algorithm has no primary metric (lower is better).
FALLBACK = "loss"
# The baseline row's name (``zero_shot.NAME``): a two-tower model scored with no training.
ZERO_SHOT = "zero-shot CLIP"
# A second metric shown beside the primary one.
SECONDARY = {MACRO_F1: "accuracy", "mean_recall": "t2i_r10"}
MAX_REPEATS = 20


def fusion_variants(cfg: ExperimentConfig, fusions: Sequence[str] | None = None, *,
                    repeats: int = 1) -> list[ExperimentConfig]:
    """One copy of ``cfg`` per valid fusion of its algorithm (registry order) and seed, each
    with that fusion's default parameters and everything else identical; fusion by fusion,
    seeds ``cfg.seed`` .. ``cfg.seed + repeats - 1`` within each, the split fixed to
    ``cfg``'s (``data.split_seed``).

    ``fusions`` picks a subset (in the order given); a name that is unknown or invalid for
    the algorithm is refused with the registry's reason, never silently dropped. Defaults for
    every fusion, the current one included, make the comparison fair: none is tuned.
    """
    from ..algorithms import fusion_problem
    from ..errors import ConfigError

    if isinstance(repeats, bool) or not isinstance(repeats, int) or \
            not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError(f"got {repeats!r}, expected a whole number from 1 to {MAX_REPEATS}",
                          key="repeats", value=repeats, allowed=f"1 to {MAX_REPEATS}")
    names = list(valid_fusions(cfg.algorithm.name)) if fusions is None else list(fusions)
    out = []
    for name in names:
        problem = fusion_problem(cfg.algorithm.name, name)
        if problem:
            raise ConfigError(f"{cfg.algorithm.name} cannot use {name!r} fusion: {problem}",
                              key="fusion.name", value=name,
                              allowed=", ".join(valid_fusions(cfg.algorithm.name)))
        for r in range(repeats):
            variant = cfg.copy()
            variant.fusion.name, variant.fusion.params = name, FUSIONS[name].params()
            if repeats > 1:  # other seeds, the same split
                variant.data.split_seed = split_seed(cfg)
                variant.seed = (cfg.seed + r) % 2**32
            check(variant)
            out.append(variant)
    return out


def compared_metric(configs: Sequence[ExperimentConfig], metrics: Iterable[dict]) -> str:
    """The metric the rows are ranked (or, without a primary metric, plotted) by: the
    algorithm's primary metric for the data these runs saw (labelled when any reports a
    classification metric), else :data:`FALLBACK`."""
    seen: set[str] = set()
    for m in metrics:
        seen.update(m)
    cfg = next((c for c in configs if c is not None), None)
    if cfg is None:
        return FALLBACK
    labelled = bool({"accuracy", MACRO_F1} & seen) or ALGORITHMS[cfg.algorithm.name].needs_labels
    return primary_metric(cfg.algorithm.name, cfg.algorithm.params, labelled) or FALLBACK


def higher_is_better(metric: str) -> bool:
    return metric != FALLBACK


def read_history(run_dir: str | Path | None) -> list[dict]:
    """The per-epoch records of a run folder's ``metrics.jsonl`` (empty when there is none)."""
    from ..runs.store import read_metrics
    return [] if run_dir is None else read_metrics(run_dir)


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
    """One row per run: ``fusion``, ``seed``, ``status``, ``metric`` (its name), ``value``
    (its validation value for the model the run handed over), ``secondary`` and
    ``secondary_value``, ``test_value`` (None without a test split), ``chance`` (the
    metric's chance level on validation), ``spread`` (its standard error at chance),
    ``at_chance``, ``best_epoch`` and ``best_value`` (the epoch whose validation value was
    best), ``epochs``, ``seconds``, ``run_dir``, ``reason``.

    ``histories`` are each run's epochs (``EpochEnded`` or ``metrics.jsonl`` records); without
    them they are read from the runs' folders. Values a run did not report are None.
    """
    if len(results) != len(configs):
        raise ValueError(f"{len(results)} results for {len(configs)} configs")
    if histories is None:
        histories = [read_history(r.run_dir) for r in results]
    vals = [_val_history(h) for h in histories]
    if metric is None:
        metric = compared_metric(configs, [r.metrics for r in results]
                                 + [v for h in vals for _, v in h])
    better = max if higher_is_better(metric) else min
    secondary = SECONDARY.get(metric)
    rows = []
    for end, cfg, hist in zip(results, configs, vals):
        points = [(e, _finite(v.get(metric))) for e, v in hist]
        points = [(e, v) for e, v in points if v is not None]
        best = better(points, key=lambda p: p[1]) if points else (None, None)
        val = end.scores.get("val", {})
        value = _finite(end.metrics.get(metric))
        spread = val.get("spread") if val.get("primary") == metric else None
        chance = _finite(val.get("chance", {}).get(metric))
        rows.append({
            "fusion": cfg.fusion.name, "seed": cfg.seed, "status": end.status,
            "metric": metric, "value": value, "secondary": secondary,
            "secondary_value": _finite(end.metrics.get(secondary)) if secondary else None,
            "test_value": _finite(end.test_metrics.get(metric)),
            "test_size": end.scores.get("test", {}).get("size"),
            "chance": chance, "spread": spread,
            "at_chance": at_chance(value, chance, spread, metric) if spread is not None
            else None,
            "best_epoch": best[0], "best_value": best[1], "epochs": end.epoch,
            "seconds": round(float(end.seconds), 3), "run_dir": end.run_dir,
            "reason": end.reason})
    return rows


def aggregate(rows: Sequence[dict]) -> list[dict]:
    """One row per fusion (first-seen order) over its runs: ``fusion``, ``runs`` (how many),
    ``finished`` (how many finished with a value), ``status`` (the runs' statuses, e.g.
    ``finished`` or ``2 finished, 1 failed``), ``metric``, ``values`` (the finished runs'),
    ``mean``, ``std`` (over seeds; None with fewer than two), ``test_mean``, ``test_std``,
    ``secondary``, ``secondary_mean``, ``chance``, ``spread``, ``at_chance`` (the mean within
    two standard errors of chance), ``best_epoch`` (the most common), ``seconds`` (total),
    ``reason`` (the first failed or stopped run's), ``run_dirs``."""
    order: dict[str, list[dict]] = {}
    for row in rows:
        order.setdefault(row["fusion"], []).append(row)
    out = []
    for fusion, runs in order.items():
        done = [r for r in runs if r["status"] == "finished" and r["value"] is not None]
        values = [r["value"] for r in done]
        tests = [r["test_value"] for r in done if r["test_value"] is not None]
        seconds = [r["seconds"] for r in runs]
        mean = statistics.fmean(values) if values else None
        chance = next((r["chance"] for r in runs if r["chance"] is not None), None)
        spread = next((r["spread"] for r in runs if r["spread"] is not None), None)
        statuses = [r["status"] for r in runs]
        counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
        status = statuses[0] if len(counts) == 1 and len(runs) == 1 else ", ".join(
            f"{n} {s}" for s, n in counts.items())
        epochs = [r["best_epoch"] for r in done if r["best_epoch"] is not None]
        secondary = [r["secondary_value"] for r in done if r["secondary_value"] is not None]
        out.append({
            "fusion": fusion, "runs": len(runs), "finished": len(done), "status": status,
            "metric": runs[0]["metric"], "values": values, "mean": mean,
            "std": statistics.stdev(values) if len(values) > 1 else None,
            "test_mean": statistics.fmean(tests) if tests else None,
            "test_std": statistics.stdev(tests) if len(tests) > 1 else None,
            "test_size": next((r["test_size"] for r in runs if r.get("test_size") is not None),
                              None),
            "secondary": runs[0]["secondary"],
            "secondary_mean": statistics.fmean(secondary) if secondary else None,
            "chance": chance, "spread": spread,
            "at_chance": at_chance(mean, chance, spread, runs[0]["metric"])
            if spread is not None else None,
            "best_epoch": max(set(epochs), key=epochs.count) if epochs else None,
            "seconds": round(sum(seconds), 3),
            "reason": next((r["reason"] for r in runs if r["status"] in ("failed", "stopped")),
                           ""),
            "run_dirs": [r["run_dir"] for r in runs]})
    return out


@dataclass(frozen=True)
class Verdict:
    """The comparison's outcome: ``winner`` (a fusion) or None, ``reason`` in a sentence,
    and ``ranked`` (the competing fusions, best first)."""

    winner: str | None
    reason: str
    ranked: tuple[str, ...] = ()


def verdict(fusions: Sequence[dict], *, no_primary: str = "") -> Verdict:
    """Whether the :func:`aggregate` rows ``fusions`` have a winner (see the module
    docstring for the rule); ``no_primary`` is the algorithm's reason when it has no
    primary metric."""
    if not fusions:
        return Verdict(None, "no fusion has run yet")
    metric = fusions[0]["metric"]
    if metric == FALLBACK:
        return Verdict(None, "no winner: " + (no_primary or "this algorithm has no primary "
                                              "metric to rank fusions by"))
    ok = sorted((f for f in fusions if f["mean"] is not None), key=lambda f: -f["mean"])
    ranked = tuple(f["fusion"] for f in ok)
    name = title(metric)
    if not ok:
        return Verdict(None, "no winner: no fusion finished")
    if len(ok) == 1:
        return Verdict(None, f"no winner: only {ok[0]['fusion']} finished, so there is "
                             "nothing to compare it with", ranked)
    best, second = ok[0], ok[1]
    if all(f["at_chance"] for f in ok):
        return Verdict(None, f"no clear winner: every fusion's {name} is within "
                             f"{CHANCE_MARGIN:g} standard errors of chance "
                             f"({_num(best['chance'])}): none beat guessing", ranked)
    if best["at_chance"]:
        return Verdict(None, f"no clear winner: the best, {best['fusion']} "
                             f"({_num(best['mean'])}), is within {CHANCE_MARGIN:g} standard "
                             f"errors of chance ({_num(best['chance'])})", ranked)
    gap = best["mean"] - second["mean"]
    if gap <= 1e-12:
        tied = [f["fusion"] for f in ok if best["mean"] - f["mean"] <= 1e-12]
        return Verdict(None, f"no clear winner: {' and '.join(tied)} tie at {name} "
                             f"{_num(best['mean'])}", ranked)
    if best["std"] is None or second["std"] is None:
        return Verdict(best["fusion"], f"{best['fusion']} leads {second['fusion']} by "
                                       f"{_num(gap)} {name} on one seed; the seeds' noise was "
                                       "not measured (repeat each fusion on 3 seeds to "
                                       "measure it)", ranked)
    noise = math.sqrt(best["std"] ** 2 / best["finished"]
                      + second["std"] ** 2 / second["finished"])
    a, b = best["finished"], second["finished"]
    seeds = f"{a} seeds each" if a == b else f"{a} and {b} seeds"
    if gap <= NOISE_FACTOR * noise:
        return Verdict(None, f"no clear winner: {best['fusion']} leads {second['fusion']} by "
                             f"{_num(gap)} {name}, within the noise of the seeds ({seeds}: "
                             f"{NOISE_FACTOR:g} standard errors of the difference = "
                             f"{_num(NOISE_FACTOR * noise)})", ranked)
    return Verdict(best["fusion"], f"{best['fusion']} beats the runner-up, "
                                   f"{second['fusion']}, by {_num(gap)} {name}, more than "
                                   f"{NOISE_FACTOR:g} standard errors of the difference "
                                   f"({_num(NOISE_FACTOR * noise)}) over {seeds}", ranked)


def zero_shot_row(result: dict | None, metric: str, *, reason: str = "") -> dict:
    """The zero-shot baseline as an :func:`aggregate` row on ``metric`` (the fusions'), from
    ``zero_shot.score``'s ``result``; with ``result`` None, a row saying why there is none
    (``reason``). Its ``std`` and ``test_std`` are 0 (no seeds: nothing varies), ``runs`` 1,
    ``status`` "no training" (or "unavailable"); it adds ``zero_shot`` (True), ``model``,
    ``from``, ``prompt`` and the splits' whole ``metrics`` / ``test_metrics``."""
    secondary = SECONDARY.get(metric)
    row = {"fusion": ZERO_SHOT, "zero_shot": True, "runs": 0, "finished": 0,
           "status": "unavailable", "metric": metric, "values": [], "mean": None, "std": None,
           "test_mean": None, "test_std": None, "test_size": None, "secondary": secondary,
           "secondary_mean": None, "chance": None, "spread": None, "at_chance": None,
           "best_epoch": None, "seconds": 0.0, "reason": reason, "run_dirs": [],
           "model": None, "from": None, "prompt": None, "metrics": {}, "test_metrics": {}}
    if result is None:
        return row
    val = result["scores"].get("val", {})
    test = result["scores"].get("test", {})
    metrics, test_metrics = val.get("metrics", {}), test.get("metrics", {})
    value = _finite(metrics.get(metric))
    spread = val.get("spread") if val.get("primary") == metric else None
    chance = _finite(val.get("chance", {}).get(metric))
    tested = _finite(test_metrics.get(metric))
    row.update(runs=1, finished=1 if value is not None else 0, status="no training",
               values=[value] if value is not None else [], mean=value,
               std=0.0 if value is not None else None, test_mean=tested,
               test_std=0.0 if tested is not None else None, test_size=test.get("size"),
               secondary_mean=_finite(metrics.get(secondary)) if secondary else None,
               chance=chance, spread=spread,
               at_chance=at_chance(value, chance, spread, metric) if spread is not None
               else None,
               seconds=round(float(result.get("seconds", 0.0)), 3), model=result["model"],
               prompt=result["prompt"], metrics=metrics, test_metrics=test_metrics)
    row["from"] = result.get("from")
    if value is None:
        row["reason"] = reason or (
            f"{ZERO_SHOT} has no {column_title(metric)}: it is scored on retrieval and, with "
            "labels, classification" if metric != FALLBACK else
            f"{ZERO_SHOT} is not ranked: this algorithm has no primary metric (its scores "
            "are in the JSON output)")
    return row


def baseline_verdict(fusions: Sequence[dict], baseline: dict) -> str:
    """Whether the best fusion beats the :func:`zero_shot_row` ``baseline``: by more than
    :data:`NOISE_FACTOR` standard errors of its mean over seeds (the baseline has no noise:
    it is deterministic), or not measured on one seed, or not at all."""
    if baseline["mean"] is None:
        reason = baseline["reason"] or "not scored"
        return reason if reason.startswith(ZERO_SHOT) else f"{ZERO_SHOT}: {reason}"
    metric = baseline["metric"]
    name = title(metric)
    value = _num(baseline["mean"])
    base = f"{ZERO_SHOT} (no training, {value})"
    ok = [f for f in fusions if f["mean"] is not None and not f.get("zero_shot")]
    if not ok:
        return f"{ZERO_SHOT} (no training) scores {value} {name}; no fusion finished to " \
               "compare it with"
    best = max(ok, key=lambda f: f["mean"])
    gap = best["mean"] - baseline["mean"]
    if gap <= 1e-12:
        return (f"no fusion beats {ZERO_SHOT}, which had no training: it scores {value} "
                f"{name}, the best fusion, {best['fusion']}, {_num(best['mean'])}")
    if best["std"] is None:
        return (f"{best['fusion']} beats {base} by {_num(gap)} {name} on one seed (the "
                "seeds' noise not measured)")
    noise = best["std"] / math.sqrt(best["finished"])
    if gap <= NOISE_FACTOR * noise:
        return (f"{best['fusion']} leads {base} by {_num(gap)} {name}, within the noise of "
                f"its {best['finished']} seeds ({NOISE_FACTOR:g} standard errors = "
                f"{_num(NOISE_FACTOR * noise)}): no clear gain from training")
    return (f"{best['fusion']} beats {base} by {_num(gap)} {name}, more than "
            f"{NOISE_FACTOR:g} standard errors of its mean over {best['finished']} seeds "
            f"({_num(NOISE_FACTOR * noise)})")


def baseline_about(baseline: dict) -> str:
    """Which model and prompt made the :func:`zero_shot_row` ``baseline``, in a line."""
    if baseline["model"] is None:
        return ""
    where = {"folder": ", from a folder", "package": ", from an installed package",
             "huggingface cache": ", from the Hugging Face cache",
             "downloaded": ", downloaded from the Hugging Face Hub"}.get(baseline.get("from"),
                                                                         "")
    prompt = f"; label prompts \"{baseline['prompt']}\"" if baseline["metrics"].get(
        "accuracy") is not None else ""
    return f"{ZERO_SHOT}: {baseline['model']}{where}, no training{prompt}"


def column_title(metric: str) -> str:
    """What a column of ``metric`` is called beside "val" and "test" ("loss", not the title
    "val loss", which would read "val val loss")."""
    return "loss" if metric == FALLBACK else title(metric)


def mean_text(mean: float | None, std: float | None, fmt: str = "{:.3f}") -> str:
    """``0.812 ± 0.014`` (± the standard deviation over seeds), or one value, or ""."""
    if mean is None:
        return ""
    return fmt.format(mean) + ("" if std is None else " ± " + fmt.format(std))


def format_table(fusions: Sequence[dict], result: Verdict | None = None, *,
                 baseline: dict | None = None) -> str:
    """The :func:`aggregate` rows as a plain-text table, the winner marked with ``*``; the
    :func:`zero_shot_row` ``baseline`` last, with :func:`baseline_verdict`."""
    if not fusions and baseline is None:
        return "(no runs)"
    result = result or verdict(fusions)
    first = fusions[0] if fusions else baseline
    metric = first["metric"]
    secondary = first["secondary"]
    chance = next((f["chance"] for f in fusions if f["chance"] is not None), None)
    head = ["", "fusion", "runs", "status", f"val {column_title(metric)}",
            f"test {column_title(metric)}",
            *([title(secondary)] if secondary else []), "best epoch", "time (s)"]
    lines = [head]
    for f in [*fusions, *([baseline] if baseline is not None else [])]:
        test = "no test split" if f["test_size"] == 0 else mean_text(f["test_mean"],
                                                                     f["test_std"])
        lines.append(["*" if f["fusion"] == result.winner else "", f["fusion"], str(f["runs"]),
                      f["status"], mean_text(f["mean"], f["std"]), test,
                      *([mean_text(f["secondary_mean"], None)] if secondary else []),
                      "" if f["best_epoch"] is None else str(f["best_epoch"]),
                      f"{f['seconds']:.1f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    left = {1, 3}  # text columns; numbers are right-aligned
    out = ["  ".join(c.ljust(w) if i in left or i == 0 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(line, widths))).rstrip()
           for line in lines]
    if chance is not None:
        out.append(f"chance: {title(metric)} {_num(chance)} on the validation split")
    if fusions:
        out.append(("winner: " if result.winner else "") + result.reason)
    if baseline is not None:
        about = baseline_about(baseline)
        out.extend([about] if about else [])
        out.append("baseline: " + baseline_verdict(fusions, baseline))
    return "\n".join(out)


def _num(value: float | None, fmt: str = "{:.3f}") -> str:
    return "" if value is None else fmt.format(value)
