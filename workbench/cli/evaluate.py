"""``workbench evaluate RUN``: score a trained run on its own split or on other data."""

from __future__ import annotations

import json

from .common import StageProgress, fail


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score a trained run on a split or on other data",
                       description="Score the model RUN handed over (the best epoch's with "
                       "training.keep_best, else the last checkpoint) on one split of its own "
                       "data (split as the run split it; default: test, which neither "
                       "training nor the choice of settings saw), or on every pair of other "
                       "data with the same kinds of inputs (--data): captions tokenised with "
                       "the run's vocabulary, unknown words out of vocabulary, images fitted "
                       "to its size, labels matched by name. Each metric is printed beside "
                       "its chance level. RUN is a run's id (or the start of it) or its "
                       "folder. The graph algorithm is transductive and is refused on other "
                       "data.")
    p.add_argument("run_id", metavar="RUN")
    p.add_argument("--split", choices=("test", "val", "train"), default="test",
                   help="which split of the run's own data (default: test)")
    p.add_argument("--data", metavar="SOURCE", help="other data to score the model on")
    p.add_argument("--images", metavar="DIR", help="image folder of --data (COCO, CSV)")
    p.add_argument("--format", default="auto", metavar="F", help="format of --data")
    p.add_argument("--text-column", default="", metavar="C")
    p.add_argument("--image-column", default="", metavar="C")
    p.add_argument("--label-column", default="", metavar="C",
                   help="label column of --data ('none': score retrieval only)")
    p.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                   help="bad rows of --data: stop (default) or leave them out")
    p.add_argument("--dir", metavar="DIR",
                   help="the folder that holds the runs (default: the user runs folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(run=run_evaluate)


def run_evaluate(args) -> int:
    from ..core.config import ExperimentConfig, apply_overrides
    from ..core.errors import WorkbenchError
    from ..core.evaluation.run_score import evaluate_run

    try:
        data = None
        if args.data:
            data = apply_overrides(ExperimentConfig(), [
                f"data.source={args.data}", f"data.images={args.images or ''}",
                f"data.format={args.format}", f"data.text_column={args.text_column}",
                f"data.image_column={args.image_column}",
                f"data.label_column={args.label_column}",
                f"data.on_error={args.on_error}"]).data
        result = evaluate_run(args.run_id, split=args.split, data=data, base=args.dir,
                              progress=StageProgress())
    except (WorkbenchError, OSError) as exc:
        return fail(exc)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(format_result(result))
    return 0


def format_result(r: dict) -> str:
    lines = [f"Run          {r['run']} ({r['algorithm']} + {r['fusion']} fusion, epoch "
             f"{r['epoch']})", f"Data         {r['data']}",
             f"Split        {r['split']}: {r['size']} pairs"]
    transfer = r.get("transfer")
    if transfer:
        extra = []
        if transfer.get("unknown_labels"):
            extra.append(f"{transfer['unknown_labels']} pairs left out (labels the run never "
                         "saw)")
        if "oov_share" in transfer:
            extra.append(f"{100 * transfer['oov_share']:.1f}% of caption words unknown to the "
                         "run's vocabulary")
        if extra:
            lines.append("Transfer     " + "; ".join(extra))
    if r["metrics"]:
        width = max(len(k) for k in r["metrics"]) + 2
        lines += ["", f"  {'METRIC':<{width}} {'VALUE':>10} {'CHANCE':>10}"]
        for key, value in r["metrics"].items():
            chance = r["chance"].get(key)
            mark = " *" if key == r["primary"] else ""
            lines.append(f"  {key + mark:<{width}} {value:>10.4f} "
                         f"{'' if chance is None else format(chance, '.4f'):>10}")
        if r["primary"]:
            lines.append("  * primary metric")
    for w in r["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
