"""``workbench bench``: every speed measure side by side with its baseline, in one process
(see ``workbench.bench``)."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    from ..bench import MEASURES
    p = sub.add_parser("bench", help="measure speed against baselines (training loop, GUI, "
                       "plots, data, projection, start-up)",
                       description="Run each speed measure in this process and print a "
                       "table: measure, workbench, baseline, ratio, target, pass. Ratios, "
                       "not absolute times, are what to compare between machines.")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, a smoke test that ends in well under a minute (its "
                   "ratios are rougher)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--only", action="append", default=[], metavar="MEASURE",
                   choices=list(MEASURES),
                   help=f"run only this measure (repeatable): {', '.join(MEASURES)}")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..bench import MEASURES
    from ..bench.report import format_markdown, format_table, run_measures, to_json

    names = args.only or list(MEASURES)

    def progress(name: str) -> None:
        print(f"bench: {name}...", file=sys.stderr, flush=True)

    rows, meta = run_measures(names, args.quick, progress)
    if args.json:
        print(json.dumps(to_json(rows, meta)))
    elif args.markdown:
        print(format_markdown(rows))
    else:
        print(format_table(rows))
    # Timings never fail the command (machines are noisy; CI runs it as a smoke test); a
    # measure that could not run does.
    return 1 if meta["errors"] else 0
