"""Grounding check: does co-attention look at the drawing its words name (issue 20)?

Trains a preset once per seed (its split too) and scores each trained model with
``evaluation.grounding``: over every validation pair, the text -> image attention's normalised
entropy, word specificity and foreground gain (and the image -> text entropy); the pointing
game's rate on ``--composites`` composites of the validation split (chance 0.5, ± its
binomial standard error); and, beside them, the run's test accuracy (and macro-F1) and their
chance. Then the mean and the sample standard deviation over the seeds. ``--run`` scores a
finished run folder's saved model instead of training. ``--by-label`` adds the attention
figures per label, ``--by-head`` per co-attention head (the drawn map is the heads' mean).

    python -m workbench.tools.grounding_check --preset NAME [--seeds 0,1,2]
        [--set KEY=VALUE ...] [--composites 500] [--by-label] [--by-head] [--json]
    python -m workbench.tools.grounding_check --run RUN_DIR [--composites 500] [--by-label]
        [--by-head] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics

from workbench.core.config import apply_overrides
from workbench.core.data import load_dataset
from workbench.core.errors import WorkbenchError
from workbench.core.evaluation.attention_heads import head_count, head_snapshot
from workbench.core.evaluation.grounding import (pointing_game, snapshot_figures,
                                                 split_snapshot, stats_by_label)
from workbench.core.evaluation.report import score_split
from workbench.core.evaluation.saved_model import open_checkpoint
from workbench.core.presets import load_preset
from workbench.core.runs.store import load_run
from workbench.core.training import Trainer

# (key, heading, format) of each row printed per seed and in the mean / sd lines
COLUMNS = (("t2i_entropy", "entropy", "{:.3f}"), ("t2i_specificity", "specificity", "{:.4f}"),
           ("t2i_foreground_gain", "fg gain", "{:+.3f}"), ("t2i_null_share", "null", "{:.3f}"),
           ("pointing", "pointing", "{:.3f}"),
           ("accuracy", "test acc", "{:.3f}"), ("macro_f1", "test F1", "{:.3f}"),
           ("t2i_r10", "test R@10", "{:.3f}"), ("reranked_t2i_r10", "re-ranked", "{:.3f}"))
#: the test scores reported, where the run has them: classification, retrieval (the matching
#: algorithm's both ways: the dual encoder's and re-ranked by its cross-encoder)
TEST_KEYS = ("accuracy", "macro_f1", "t2i_r10", "reranked_t2i_r10")
#: the per-label table's columns (``--by-label``)
LABEL_COLUMNS = (("pairs", "pairs", "{:.0f}"), ("foreground_share", "fg share", "{:.2f}"),
                 ("t2i_foreground_gain", "fg gain", "{:+.3f}"),
                 ("t2i_entropy", "entropy", "{:.3f}"), ("t2i_specificity", "specificity",
                                                        "{:.4f}"))
#: the per-head table's columns (``--by-head``)
HEAD_COLUMNS = tuple(c for c in LABEL_COLUMNS if c[0] != "foreground_share") + (
    ("t2i_null_share", "null", "{:.3f}"),)
#: the breakdowns a row may hold: (its key, the table's first column, its columns)
PARTS = (("by_label", "label", LABEL_COLUMNS), ("by_head", "head", HEAD_COLUMNS))


def grounding(model, dataset, test: dict, composites: int, seed: int = 0,
              by_label: bool = False, by_head: bool = False) -> dict:
    """One model's figures: the validation attention figures, the pointing game and the
    test scores (``test``: ``report.score_split``'s dict); with ``by_label``, the attention
    figures per label too (``by_label``: label -> figures); with ``by_head``, each
    co-attention head's own (``by_head``: "head 1" ... -> figures; none for one head)."""
    snap = split_snapshot(model, dataset, "val")
    stats = snapshot_figures(snap)
    game = pointing_game(model, dataset, "val", n=composites, seed=seed)
    metrics, chance = test.get("metrics", {}), test.get("chance", {})
    row = {**stats, "pointing": game["rate"], "pointing_se": game["se"],
           "pointing_n": game["n"], "pointing_chance": game["chance"],
           **{k: metrics[k] for k in TEST_KEYS if k in metrics},
           **{f"{k}_chance": chance[k] for k in TEST_KEYS if k in chance}}
    if by_label:
        row["by_label"] = stats_by_label(snap)
    if by_head:
        row["by_head"] = {f"head {h + 1}": snapshot_figures(head_snapshot(snap, h))
                          for h in range(head_count(snap))}
    return row


def train_seed(preset: str, sets: list[str], seed: int, composites: int,
               by_label: bool = False, by_head: bool = False) -> dict:
    """The preset (with ``sets``) trained on ``seed`` and scored."""
    cfg = apply_overrides(load_preset(preset), sets)
    cfg.seed = seed
    trainer = Trainer(cfg, load_dataset(cfg))
    end = trainer.fit()
    if end.status != "finished":
        raise SystemExit(f"{preset} seed {seed}: {end.status}: {end.reason}")
    return grounding(trainer.model, trainer.dataset, end.scores.get("test", {}), composites,
                     seed, by_label, by_head)


def score_run(run_dir: str, composites: int, by_label: bool = False,
              by_head: bool = False) -> dict:
    """A finished run folder's saved model, scored on its own data and split."""
    path = load_run(run_dir).model_checkpoint
    if path is None:
        raise SystemExit(f"{run_dir}: no checkpoint to score")
    saved = open_checkpoint(path)
    return grounding(saved.model, saved.dataset, score_split(saved.model, saved.dataset, "test"),
                     composites, saved.config.seed, by_label, by_head)


def summary(rows: dict[str, dict]) -> dict[str, dict]:
    """Mean and sample standard deviation (NaN for one row) of each column over ``rows``."""
    out = {}
    for key, _, _ in COLUMNS:
        values = [r[key] for r in rows.values() if key in r]
        if values:
            out[key] = _spread(values)
    return out


def _spread(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.mean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else math.nan}


def _shown(rows: dict[str, dict]) -> list[tuple[str, str, str]]:
    """The columns some row has a value for."""
    return [c for c in COLUMNS if any(c[0] in r for r in rows.values())]


def _line(name: str, row: dict, columns) -> str:
    cells = [f"{name:>8}"]
    for key, _, fmt in columns:
        if name == "sd":  # a spread has no sign
            fmt = fmt.replace("+", "")
        cell = fmt.format(row[key]) if key in row else "-"
        if key == "pointing" and "pointing_se" in row:
            cell += f" ± {row['pointing_se']:.3f}"
        cells.append(f"{cell:>15}" if key == "pointing" else f"{cell:>11}")
    return " ".join(cells)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m workbench.tools.grounding_check",
                                 description=__doc__.split("\n\n")[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--preset", help="train this preset once per seed")
    what.add_argument("--run", help="score this run folder's saved model instead")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override, e.g. training.epochs=5 (repeatable)")
    ap.add_argument("--composites", type=int, default=500,
                    help="pointing-game composites per model (default 500)")
    ap.add_argument("--by-label", action="store_true",
                    help="also the attention figures per label (where the foreground gain "
                         "is won and lost)")
    ap.add_argument("--by-head", action="store_true",
                    help="also each co-attention head's own attention figures (the drawn "
                         "map is the heads' mean)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    opts = ap.parse_args(argv)
    try:
        _report(opts)
    except WorkbenchError as exc:  # a preset, override or run folder the user must fix
        raise SystemExit(f"error: {exc}") from None


def _report(opts: argparse.Namespace) -> None:
    if opts.run:
        rows = {"run": score_run(opts.run, opts.composites, opts.by_label, opts.by_head)}
    else:
        rows = {}
        for seed in (int(s) for s in opts.seeds.split(",") if s.strip()):
            rows[f"seed {seed}"] = train_seed(opts.preset, opts.set, seed, opts.composites,
                                              opts.by_label, opts.by_head)
            if not opts.json:
                print(f"trained seed {seed}", flush=True)
    spread = summary(rows)
    parts = {key: part_summary(rows, key, columns) for key, _, columns in PARTS}
    if opts.json:
        out = {"rows": rows, "summary": spread}
        out.update({key: value for key, value in parts.items() if value})
        print(json.dumps(out, default=float))
        return
    columns = _shown(rows)
    print(" ".join([f"{'':>8}"] + [f"{h:>15}" if k == "pointing" else f"{h:>11}"
                                   for k, h, _ in columns]))
    for name, row in rows.items():
        print(_line(name, row, columns))
    if len(rows) > 1:
        print(_line("mean", {k: v["mean"] for k, v in spread.items()}, columns))
        print(_line("sd", {k: v["sd"] for k, v in spread.items()}, columns))
    # each seed splits its own test set: its chance, averaged
    chance = ", ".join(f"{k} {statistics.mean(r[f'{k}_chance'] for r in rows.values()):.3f}"
                       for k in TEST_KEYS
                       if all(f"{k}_chance" in r for r in rows.values()))
    first = next(iter(rows.values()))
    print(f"chance: pointing 0.500{', test ' + chance if chance else ''}; validation pairs "
          f"{first.get('pairs', 0)}, composites {first.get('pointing_n', 0)} per model")
    for key, what, columns in PARTS:
        if parts[key]:
            print()
            print(_part_table(parts[key], len(rows), what, columns))


def part_summary(rows: dict[str, dict], key: str = "by_label",
                 columns=LABEL_COLUMNS) -> dict[str, dict]:
    """Per part (label, head) of the breakdown ``key``, the mean and sample standard
    deviation (NaN for one row) of each figure over the rows (seeds) that have it; empty
    where no row has that breakdown."""
    per = [r[key] for r in rows.values() if key in r]
    out: dict[str, dict] = {}
    for part in dict.fromkeys(name for p in per for name in p):  # labels sorted, heads 1..H
        cells = {}
        for column, _, _ in columns:
            values = [p[part][column] for p in per if column in p.get(part, {})]
            if values:
                cells[column] = _spread(values)
        out[part] = cells
    return out


def _part_table(parts: dict[str, dict], seeds: int, what: str, columns) -> str:
    width = max(len(what), *(len(name) for name in parts))
    title = f"per {what}, validation" + (f" (mean of {seeds} seeds)" if seeds > 1 else "")
    lines = [title, " ".join([f"{what:<{width}}"] + [f"{h:>11}" for _, h, _ in columns])]
    for name, cells in parts.items():
        cells_shown = [f"{name:<{width}}"]
        for key, _, fmt in columns:
            cells_shown.append(f"{fmt.format(cells[key]['mean']) if key in cells else '-':>11}")
        lines.append(" ".join(cells_shown))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
