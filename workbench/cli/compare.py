"""``workbench compare PRESET``: train PRESET once per valid fusion and print which wins
(``--zero-shot``: beside zero-shot CLIP, the baseline with no training)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import (StageProgress, StopOnInterrupt, add_config_arguments,
                     config_from_arguments, fail)


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="train a preset once per valid fusion and compare",
                       description="Train PRESET once per fusion its algorithm accepts (each "
                       "with that fusion's default settings; the same data, split and seed), "
                       "or on --repeats seeds each (the split fixed), one after the other, "
                       "then print a table of each fusion's validation and test score on the "
                       "algorithm's primary metric. A winner is named only when it beats the "
                       "runner-up by more than the seeds' noise and beats chance; otherwise "
                       "the table says why there is none. Progress goes to stderr; each run "
                       "writes its own run folder. The first Ctrl-C stops the current run "
                       "and skips the rest.")
    add_config_arguments(p)
    p.add_argument("--fusions", metavar="A,B,...",
                   help="compare only these fusions, in this order (default: every valid one)")
    p.add_argument("--repeats", type=int, default=1, metavar="N",
                   help="train each fusion on N seeds (seed, seed + 1, ...; the split stays "
                   "the preset's), so the table shows mean ± standard deviation and a winner "
                   "must beat the seeds' noise (default 1; 3 measures the noise)")
    p.add_argument("--out", metavar="DIR",
                   help="write the run folders here, one per fusion (DIR/<fusion>); default: "
                   "dated folders in the user runs folder")
    p.add_argument("--zero-shot", action="store_true",
                   help="add a row for zero-shot CLIP: model.image_model's two towers scored "
                   "with no training on the same split and metrics (retrieval; with labels, "
                   "classification with one prompt per label), the baseline the fusions "
                   "should beat. Needs a CLIP model on this machine; without one the table "
                   "says why the row is absent")
    p.add_argument("--prompt", metavar="TEMPLATE", default=None,
                   help="--zero-shot: the prompt each label becomes, {label} replaced by its "
                   "name (default: \"a photo of {label}.\")")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the runs, the fusions and the verdict on "
                   "stdout (with --zero-shot: the baseline row and its verdict too)")
    p.set_defaults(run=run_compare)


def run_compare(args) -> int:
    from ..core.evaluation.compare import fusion_variants
    from ..core.errors import WorkbenchError

    try:
        cfg = config_from_arguments(args)
        fusions = [f.strip() for f in args.fusions.split(",") if f.strip()] \
            if args.fusions else None
        configs = fusion_variants(cfg, fusions, repeats=args.repeats)
        run_dirs = _run_dirs(args, configs)
        no_zero_shot = _check_zero_shot(args, cfg)
        from ..core.presets import load_preset
        from ..core.runs.naming import same_config
        # named after the preset only when no option changed its settings (as train does)
        args.unchanged = same_config(cfg, load_preset(args.preset))
        return _compare(configs, run_dirs, args, no_zero_shot)
    except WorkbenchError as exc:
        return fail(exc)


def _preset_name(preset: str) -> str:
    return Path(preset).stem if preset.endswith(".toml") else preset


def run_name(cfg, repeats: int) -> str:
    """A run's folder name within a comparison: the fusion, and its seed when repeated."""
    return cfg.fusion.name + (f"-seed{cfg.seed}" if repeats > 1 else "")


def _run_dirs(args, configs) -> list[Path | None]:
    """Planned folders (created when each run starts): DIR/<fusion>[-seed<S>] under --out."""
    from ..core.errors import WorkbenchError
    if not args.out:
        return [None] * len(configs)
    out = Path(args.out)
    dirs = [out / run_name(c, args.repeats) for c in configs]
    taken = [d for d in dirs if d.exists() and any(d.iterdir())]
    if taken:
        raise WorkbenchError(f"{taken[0]} already holds a run; pick another --out folder so "
                             "runs are not mixed")
    return dirs


def _check_zero_shot(args, cfg) -> str | None:
    """Before any training: a prompt given without --zero-shot, or one without {label}, is
    refused; why the baseline cannot be had is said at once (the table says it again) and
    returned."""
    from ..core.errors import ConfigError
    if args.prompt is not None and not args.zero_shot:
        raise ConfigError("--prompt is the zero-shot row's prompt template: add --zero-shot",
                          key="--prompt", value=args.prompt)
    if not args.zero_shot:
        return None
    from ..core.evaluation.zero_shot import check_prompt, unavailable_reason
    if args.prompt is not None:
        check_prompt(args.prompt)
    reason = unavailable_reason(cfg)
    if reason:
        print(f"note: {reason}", file=sys.stderr)
    return reason


def _zero_shot(cfg, metric: str, args, reason: str | None) -> dict:
    """The baseline's row on ``metric``, or a row saying why there is none (``reason``, or
    the error scoring it met)."""
    from ..core.errors import WorkbenchError
    from ..core.evaluation.compare import zero_shot_row
    from ..core.evaluation.zero_shot import DEFAULT_PROMPT, score
    if reason:
        return zero_shot_row(None, metric, reason=reason)
    print(f"[zero-shot] {cfg.model.image_model}", file=sys.stderr)
    try:
        result = score(cfg, prompt=args.prompt or DEFAULT_PROMPT, primary=metric,
                       progress=StageProgress())
    except Exception as exc:  # the trained runs' table is still printed, with the reason
        why = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
        print(f"zero-shot CLIP failed: {why}", file=sys.stderr)
        return zero_shot_row(None, metric, reason=f"zero-shot CLIP failed: {why}")
    return zero_shot_row(result, metric)


def _compare(configs, run_dirs, args, no_zero_shot: str | None = None) -> int:
    from ..core.algorithms import ALGORITHMS
    from ..core.data import dataset_for, load_pairs
    from ..core.evaluation.compare import (aggregate, baseline_verdict, compared_metric,
                                           format_table, summarize, verdict)
    from ..core.runs.writer import RunWriter, new_run_dir
    from ..core.training import Trainer
    from .train import ProgressPrinter

    first = configs[0]
    table = load_pairs(first.data, first.preprocess.image_size, progress=StageProgress())
    from ..core.runs import naming
    unchanged = getattr(args, "unchanged", True)
    name = _preset_name(args.preset)
    # a changed preset's runs are named after what trains, and record the preset as changed
    recorded = naming.preset_label(name, unchanged=unchanged)
    stop = StopOnInterrupt(None, message="stopping after this step; the remaining fusions are skipped")
    ends, done = [], []
    with stop:
        for i, (cfg, run_dir) in enumerate(zip(configs, run_dirs)):
            if stop.requested:
                break
            print(f"[{i + 1}/{len(configs)}] {run_name(cfg, args.repeats)}", file=sys.stderr)
            seed = f"-seed{cfg.seed}" if args.repeats > 1 else ""
            folder = f"{name}-{run_name(cfg, args.repeats)}" if unchanged else \
                naming.run_name(cfg) + seed
            run_dir = run_dir or new_run_dir(folder)
            dataset = dataset_for(cfg, table)
            trainer = Trainer(cfg, dataset, run_dir=run_dir,
                              callbacks=[RunWriter(run_dir, cfg, preset=recorded),
                                         ProgressPrinter()])
            stop.trainer = trainer
            end = trainer.fit()
            if end.status == "failed":
                print(f"{cfg.fusion.name} failed: {end.reason.splitlines()[0]}",
                      file=sys.stderr)
            ends.append(end)
            done.append(cfg)
    rows = summarize(ends, done)
    fusions = aggregate(rows)
    result = verdict(fusions, no_primary=ALGORITHMS[first.algorithm.name].no_primary)
    metric = rows[0]["metric"] if rows else compared_metric(configs, [])
    baseline = _zero_shot(first, metric, args, no_zero_shot) \
        if args.zero_shot and not stop.requested else None
    if args.json:
        extra = {} if baseline is None else {
            "zero_shot": baseline, "baseline": baseline_verdict(fusions, baseline)}
        print(json.dumps({"algorithm": first.algorithm.name, "preset": name,
                          "metric": rows[0]["metric"] if rows else None,
                          "repeats": args.repeats, "rows": rows, "fusions": fusions,
                          "winner": result.winner, "verdict": result.reason,
                          "stopped": stop.requested, **extra}))
    else:
        print(format_table(fusions, result, baseline=baseline))
    if stop.requested:
        print(f"stopped after {len(ends)} of {len(configs)} runs", file=sys.stderr)
        return 130
    if rows and all(r["status"] == "failed" for r in rows):
        return 1
    return 0
