"""``workbench sweep PRESET --param KEY=RANGE ...``: a hyperparameter search with Optuna."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .common import StopOnInterrupt, add_config_arguments, config_from_arguments, fail


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", help="search hyperparameters of a preset (Optuna: TPE, median pruning)",
        description="Search settings of PRESET with Optuna. Each --param is KEY=LOW..HIGH "
        "(add :log for a log scale), KEY=A,B,C (a list) or KEY alone (its default search "
        "range; --list-params shows them). Every trial trains one ordinary run per seed (in "
        "the Runs tab, tagged with the study and trial) and is scored by the mean of their "
        "final validation values of --metric; the pruner stops a trial whose first seed "
        "falls below the median of earlier trials at the same epoch. The study is kept in a "
        "database (by default an SQLite file per study in the user data folder): running "
        "the same command again adds --trials more trials, also after the sweep was killed "
        "(its interrupted trial is marked failed). The best trial's test-split score is "
        "shown at the end; the test split never chooses anything.")
    add_config_arguments(p)
    p.add_argument("--param", action="append", default=[], metavar="KEY[=RANGE]",
                   help="a setting to search (repeatable): KEY=LOW..HIGH[:log], KEY=A,B,C "
                   "or KEY; without any, an existing study goes on with its own")
    p.add_argument("--trials", type=int, default=20, metavar="N",
                   help="run N more trials (default 20)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="start no trial after S seconds")
    p.add_argument("--metric", metavar="NAME", help="the validation metric to optimise "
                   "(default: the algorithm's primary metric, the one Compare ranks by)")
    p.add_argument("--direction", choices=("max", "min"),
                   help="maximise or minimise --metric (default: what the metric needs)")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="run J trials at once, in J processes sharing the storage, each "
                   "with cores/J torch threads (default 1)")
    p.add_argument("--seeds", type=int, default=1, metavar="K",
                   help="score each trial by the mean over K model seeds (the split stays "
                   "fixed; pruning follows the first seed); default 1")
    p.add_argument("--storage", metavar="URL", help="an SQLAlchemy URL (sqlite:///path.db, "
                   "postgresql://user@host/db); default: an SQLite file per study in the "
                   "user data folder")
    p.add_argument("--study", metavar="NAME", help="the study's name (default: the preset's)")
    p.add_argument("--sampler-seed", type=int, metavar="N",
                   help="seed the sampler: the same command suggests the same settings")
    p.add_argument("--grid", action="store_true",
                   help="try every combination of the lists instead of TPE (every --param "
                   "must be a list)")
    p.add_argument("--no-prune", action="store_true", help="train every trial to the end")
    p.add_argument("--out", metavar="DIR", help="write the trials' run folders here "
                   "(default: the user runs folder)")
    p.add_argument("--save-best", metavar="NAME",
                   help="save the best trial's settings as the user preset NAME")
    p.add_argument("--list-params", action="store_true",
                   help="list the settings of PRESET a sweep can search, with their default "
                   "ranges, and exit")
    p.add_argument("--json", action="store_true",
                   help="print the study's summary as one JSON object on stdout")
    p.set_defaults(run=run_sweep)


def run_sweep(args) -> int:
    from ..core.errors import WorkbenchError
    try:
        return _sweep(args)
    except WorkbenchError as exc:
        return fail(exc)


def _sweep(args) -> int:
    from ..core import config as C
    from ..core.errors import ConfigError
    from ..core.presets import save_user_preset
    from ..core.sweep import space as S
    from ..core.sweep.plan import best_preset
    from ..core.sweep.runner import SweepOptions, SweepRunner
    from ..core.sweep.study import (SweepSpec, check_study_name, default_storage,
                                    load_existing, open_storage)

    cfg = config_from_arguments(args)
    if args.list_params:
        for line in param_lines(cfg):
            print(line)
        return 0
    opts = SweepOptions(trials=args.trials, timeout=args.timeout, jobs=args.jobs,
                        sampler_seed=args.sampler_seed, grid=args.grid, runs_base=args.out)
    opts.check()  # --trials 0 and the like, before the data loads
    if args.seeds < 1:
        raise ConfigError(f"got {args.seeds}, expected at least 1", key="--seeds")
    if args.save_best:
        from ..core.presets import user_path
        user_path(args.save_best)  # a built-in or malformed name: said before any trial
    preset = Path(args.preset).stem if args.preset.endswith(".toml") else args.preset
    name = check_study_name(args.study or preset)
    url = args.storage or default_storage(name)
    if args.param:
        space = S.build_space(args.param, cfg)
    else:  # no --param: go on with the study's own space
        _, stored = load_existing(open_storage(url), name)
        space = stored.space
    metric, direction = _metric(cfg, args)
    spec = SweepSpec(preset=preset, config=C.to_dict(cfg), space=space, metric=metric,
                     direction=direction, seeds=args.seeds,
                     pruner="none" if args.no_prune else "median")
    printer = TrialPrinter(opts.trials, spec)
    runner = SweepRunner(spec, url, name, opts, on_event=printer)
    study = runner.open()
    print(f"study {name!r} in {url}: {len(study.trials)} trial"
          f"{'s' if len(study.trials) != 1 else ''} so far; {opts.trials} more, "
          f"{opts.jobs} at a time; {spec.direction[:3]}imising {metric} (validation"
          f"{f', mean of {spec.seeds} seeds' if spec.seeds > 1 else ''})", file=sys.stderr)
    with StopOnInterrupt(runner, message="stopping the sweep"):
        try:
            summary = runner.run()
        finally:
            printer.close()
    summary["storage"] = url
    for line in summary_lines(summary):
        print(line, file=sys.stderr)
    if args.save_best:
        if summary["best_trial"] is None:
            print("no complete trial: nothing to save as a preset", file=sys.stderr)
        else:
            best = best_preset(spec, name, summary["best_trial"], summary["best_value"],
                               summary["best_params"])
            path = save_user_preset(best, args.save_best)
            summary["saved_preset"] = str(path)
            print(f"saved the best settings as the preset {args.save_best!r} ({path})",
                  file=sys.stderr)
    if args.json:
        print(json.dumps(summary, default=_json_number))
    return 1 if runner.errors else 130 if runner.stopped else 0


def _json_number(value):
    return None if isinstance(value, float) and not math.isfinite(value) else str(value)


def _metric(cfg, args) -> tuple[str, str]:
    """The metric and direction: the options', else the algorithm's primary metric."""
    from ..core.data import load_dataset
    from ..core.sweep.plan import default_metric, direction_for
    from .common import StageProgress

    metric = args.metric
    if metric is None:
        # Whether the data has labels decides the primary metric; loading it also says
        # what is wrong with the data before any trial starts.
        dataset = load_dataset(cfg, progress=StageProgress())
        metric = default_metric(cfg, dataset.table.has_labels)
    direction = {"max": "maximize", "min": "minimize"}.get(args.direction or "") or \
        direction_for(metric)
    return metric, direction


def param_lines(cfg) -> list[str]:
    """``--list-params``: each searchable setting, its type and default search range."""
    from ..core.sweep.space import default_dimension, searchable
    lines = []
    for key, info in searchable(cfg).items():
        dim = default_dimension(key, info)
        rng = dim.text() if dim else "(no default range: give one)"
        lines.append(f"{key:45s} {info.type.__name__:6s} {rng}")
    return lines


class TrialPrinter:
    """A progress bar over the trials (tqdm, on stderr) and one line per trial."""

    def __init__(self, total: int, spec, stream=None):
        from tqdm import tqdm
        self.stream = stream or sys.stderr
        self.spec = spec
        self.bar = tqdm(total=total, unit="trial", file=self.stream, leave=False,
                        disable=not self.stream.isatty())

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "ended":
            self.bar.update(1)
            self.bar.write(trial_line(event, self.spec.metric), file=self.stream)
        elif kind == "lost":
            numbers = ", ".join(f"#{n}" for n in event["numbers"])
            self.bar.write(f"trial{'s' if len(event['numbers']) > 1 else ''} {numbers} "
                           "of an earlier sweep ended with its process: marked failed, "
                           "not counted", file=self.stream)
        elif kind == "error":
            self.bar.write(f"error: {event['message']}", file=self.stream)

    def close(self) -> None:
        self.bar.close()


def _params_text(params: dict) -> str:
    from ..core.params import value_text
    return ", ".join(f"{k}={_short(v) if isinstance(v, float) else value_text(v)}"
                     for k, v in params.items())


def _short(v: float) -> str:
    return f"{v:.4g}"


def trial_line(event: dict, metric: str) -> str:
    state = event["state"]
    head = f"trial {event['number']:3d} {state:8s}"
    if state == "complete":
        head += f" {metric} {event['value']:.4f}"
    elif event.get("reason"):
        head += f" ({event['reason']})"
    return f"{head}  {_params_text(event['params'])}  {event['seconds']:.1f} s"


def summary_lines(s: dict) -> list[str]:
    lines = [f"{s['trials']} trials: {s['complete']} complete, {s['pruned']} pruned, "
             f"{s['failed']} failed" + (f", {s['running']} running elsewhere"
                                        if s["running"] else "")
             + f"; {s['epochs']} epochs trained"]
    if s["best_trial"] is None:
        lines.append("no complete trial yet")
        return lines
    seeds = s["best_seed_values"]
    spread = f" (seeds: {', '.join(f'{v:.4f}' for v in seeds)})" if len(seeds) > 1 else ""
    lines.append(f"best: trial {s['best_trial']}, {s['metric']} {s['best_value']:.4f} on "
                 f"validation{spread}")
    lines.append(f"  {_params_text(s['best_params'])}")
    test, chance = s["best_test_metrics"], s["best_test_chance"]
    if s["metric"] in test:
        ch = chance.get(s["metric"])
        lines.append(f"  test: {s['metric']} {test[s['metric']]:.4f}"
                     + (f" (chance {ch:.4f})" if ch is not None else "")
                     + " (the test split was not used to choose it)")
    elif s["best_runs"]:
        lines.append("  test: no test split")
    return lines
