"""``workbench export embeddings|metrics|tensorboard RUN ...``: a run's results for other
tools (layouts: :mod:`workbench.core.runs.export`)."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import fail


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a run's embeddings, metrics or a TensorBoard log",
                       description="Export what a run folder holds for other tools. RUN is "
                       "a run's id (its folder name, or the start of it) or the path of a run "
                       "folder, as for 'workbench runs'.")
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)

    e = what.add_parser("embeddings", help="validation-set vectors with captions and labels",
                        description="Write the text, image and fused vectors of a run's "
                        "embedding snapshot with each sample's caption and label. CSV: one "
                        "row per sample and modality. NPY: a folder of .npy arrays plus "
                        "metadata.csv and meta.json, or one .npz when DEST ends in .npz.")
    e.add_argument("run_path", metavar="RUN")
    e.add_argument("dest", metavar="DEST")
    e.add_argument("--format", choices=("csv", "npy"),
                   help="default: from DEST (.csv: csv; .npz or a folder: npy)")
    e.add_argument("--epoch", type=int, metavar="N",
                   help="the snapshot of epoch N (default: the last one)")
    e.set_defaults(run_export=_embeddings)

    m = what.add_parser("metrics", help="per-epoch metrics as CSV",
                        description="One row per epoch: epoch, step, seconds, lr, every "
                        "train_* and val_* value.")
    m.add_argument("run_path", metavar="RUN")
    m.add_argument("dest", metavar="DEST.csv")
    m.set_defaults(run_export=_metrics)

    t = what.add_parser("tensorboard", help="a TensorBoard log (scalars and projector)",
                        description="Convert the run to a TensorBoard log: every loss term "
                        "per step, train and validation values per epoch, and the last "
                        "embeddings with captions and labels for the projector. Needs the "
                        "tensorboard package. View it with: tensorboard --logdir LOGDIR")
    t.add_argument("run_path", metavar="RUN")
    t.add_argument("logdir", metavar="LOGDIR")
    t.set_defaults(run_export=_tensorboard)
    for sub_parser in (e, m, t):
        sub_parser.add_argument("--dir", metavar="DIR", help="the folder that holds the runs "
                                "(default: the user runs folder)")
    p.set_defaults(run=run_export)


def run_export(args) -> int:
    from ..core.errors import WorkbenchError
    from ..core.runs.store import load_run
    try:
        # The resolver 'runs show' uses: ids, their unique prefixes and paths alike.
        return args.run_export(args, Path(load_run(args.run_path, base=args.dir).path))
    except WorkbenchError as exc:
        return fail(exc)
    except OSError as exc:
        return fail(WorkbenchError(f"cannot write {exc.filename or ''}: "
                                   f"{exc.strerror or exc}"))


def _table_or_none(run_dir: Path):
    """The run's data, for captions; None (with a warning) when it cannot be read now."""
    from ..core.errors import WorkbenchError
    from ..core.runs.export import load_run_table
    try:
        return load_run_table(run_dir)
    except WorkbenchError as exc:
        print(f"warning: captions left out, the run's data cannot be read: {exc}",
              file=sys.stderr)
        return None


def _embeddings(args, run_dir: Path) -> int:
    from ..core.runs.export import export_embeddings, find_snapshot, load_snapshot
    snapshot = load_snapshot(find_snapshot(run_dir, args.epoch))
    fmt = args.format or ("csv" if Path(args.dest).suffix.lower() == ".csv" else "npy")
    out = export_embeddings(snapshot, _table_or_none(run_dir), args.dest, fmt=fmt)
    modalities = [m for m in ("text", "image", "fused") if getattr(snapshot, m) is not None]
    print(f"wrote {out}: {len(snapshot.index)} samples x {', '.join(modalities)} "
          f"(epoch {snapshot.epoch})", file=sys.stderr)
    return 0


def _metrics(args, run_dir: Path) -> int:
    from ..core.runs.export import export_metrics_csv, metrics_rows
    out = export_metrics_csv(run_dir, args.dest)
    columns, rows = metrics_rows(run_dir)
    epochs = f"{len(rows)} epoch" + ("" if len(rows) == 1 else "s")
    print(f"wrote {out}: {epochs} x {len(columns)} columns", file=sys.stderr)
    return 0


def _tensorboard(args, run_dir: Path) -> int:
    from ..core.runs.export import require_tensorboard, write_tensorboard
    require_tensorboard()  # the install hint before reading any data
    out = write_tensorboard(run_dir, args.logdir)
    print(f"wrote {out}; view it with: tensorboard --logdir {out}", file=sys.stderr)
    return 0
