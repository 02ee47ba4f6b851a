"""``workbench runs``: list, show, export, delete and continue the runs training left behind."""

from __future__ import annotations

import json
import sys

from ..core.runs.store import format_duration
from ..core.training.events import epoch_note
from .common import StageProgress, fail

# The metrics ``runs list`` shows of a run without a primary metric, the first two it has.
HEADLINE = ("accuracy", "t2i_r10", "macro_f1", "i2t_r10", "t2i_r1", "recon_error_image",
            "d_real", "loss")


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list, show, export, delete and continue training runs",
                       description="The run folders training writes (config, metrics, "
                       "checkpoints, embeddings), under the user data folder. RUN is a run's "
                       "id (its folder name, or the start of it), or the path of a run folder.")
    rsub = p.add_subparsers(dest="runs_command", metavar="SUBCOMMAND", required=True)

    def command(name, help, description, func):
        c = rsub.add_parser(name, help=help, description=description)
        c.add_argument("--dir", metavar="DIR",
                       help="the folder that holds the runs (default: the user runs folder)")
        c.set_defaults(run=func)
        return c

    c = command("list", "every run, newest first", "Every run, newest first: id, date, preset, "
                "method, data, status, epochs, duration and headline metrics.", run_list)
    c.add_argument("--json", action="store_true", help="print a JSON list on stdout")

    c = command("show", "one run: summary, final metrics, per-epoch table",
                "One run: its summary, final validation metrics and a line per epoch.",
                run_show)
    c.add_argument("run_id", metavar="RUN")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    c = command("export", "copy a run folder into DIR",
                "Copy the run folder into DIR (as DIR/<id>); DIR is made if needed. The copy "
                "is written to a temporary folder and renamed when complete.", run_export)
    c.add_argument("run_id", metavar="RUN")
    c.add_argument("dest", metavar="DIR")

    c = command("delete", "delete a run folder",
                "Delete a run folder. Only a folder holding nothing but what a run writes is "
                "deleted; anything else is refused.", run_delete)
    c.add_argument("run_id", metavar="RUN")
    c.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    c = command("continue", "train a run further from its checkpoint",
                "Train RUN for N more epochs from its last checkpoint, with its config. By "
                "default into a new folder <id>-continued, which starts as a copy of the run "
                "(so its curves show the whole history) and leaves the original as it was; "
                "--in-place continues in the run's own folder instead.", run_continue)
    c.add_argument("run_id", metavar="RUN")
    c.add_argument("--epochs", type=int, required=True, metavar="N",
                   help="how many epochs to train beyond the checkpoint")
    c.add_argument("--in-place", action="store_true",
                   help="write into the run's own folder instead of a new one")
    c.add_argument("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps")
    c.add_argument("--json", action="store_true",
                   help="print one JSON object with the final metrics on stdout")


# ---------------------------------------------------------------- list, show

def run_list(args) -> int:
    from ..core.runs.store import list_runs

    runs = list_runs(args.dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], ensure_ascii=False))
        return 0
    if not runs:
        from ..core.paths import runs_dir
        print(f"no runs in {args.dir or runs_dir()}", file=sys.stderr)
        return 0
    header = ("ID", "DATE", "PRESET", "ALGORITHM", "FUSION", "DATA", "STATUS", "EPOCHS",
              "DURATION", "METRICS")
    rows = [(r.id, _date(r), r.preset or "-", r.algorithm or "-", r.fusion or "-",
             _short(r.data, 24) or "-", r.status, _epochs(r), format_duration(r.seconds),
             _headline(r)) for r in runs]
    print(_table(header, rows))
    return 0


def run_show(args) -> int:
    from ..core.errors import WorkbenchError
    from ..core.runs.store import load_run, read_metrics

    try:
        info = load_run(args.run_id, base=args.dir)
    except WorkbenchError as exc:
        return fail(exc)
    epochs = read_metrics(info)
    if args.json:
        print(json.dumps({**info.to_dict(), "per_epoch": epochs}, ensure_ascii=False))
        return 0
    print(format_run(info, epochs))
    return 0


def attention_text(stats: dict) -> str:
    """The last attention snapshot's figures in one line (``runs show``)."""
    names = (("t2i_entropy", "words → patches normalised entropy {:.3f}"),
             ("t2i_specificity", "word specificity {:.4f} nats"),
             ("t2i_foreground_gain", "foreground gain {:+.2f}"),
             ("t2i_null_share", "null-key share {:.2f}"),
             ("i2t_entropy", "patches → words entropy {:.3f}"),
             ("modality_entropy", "modality weights entropy {:.3f}"),
             ("graph_entropy", "neighbour weights entropy {:.3f}"))
    parts = [text.format(stats[k]) for k, text in names if isinstance(stats.get(k), float)]
    return ", ".join(parts) + f" (epoch {stats.get('epoch')}, {stats.get('probes')} probes)"


def format_run(info, epochs: list[dict]) -> str:
    s = info.summary
    size = (f" ({s['train_size']} training / {s['val_size']} validation pairs)"
            if isinstance(s.get("train_size"), int) and isinstance(s.get("val_size"), int)
            else "")
    lines = [("Run", info.id), ("Folder", str(info.path)),
             ("Status", info.status + (f": {info.reason.splitlines()[0]}" if info.reason else "")),
             ("Created", _date(info, seconds=True)), ("Preset", info.preset or "-"),
             ("Method", f"{info.algorithm or '?'} + {info.fusion or '?'} fusion"),
             ("Data", (info.data or "?") + size),
             ("Epochs", f"{_epochs(info)}" + (f", {info.steps} steps" if info.steps else "")
              + (f", {format_duration(info.seconds)}" if info.seconds else "")
              + (f" on {info.device}" if info.device else ""))]
    kept, train = s.get("epoch_pairs"), s.get("train_size")
    if isinstance(kept, int) and isinstance(train, int) and epoch_note(train, kept):
        lines.append(("Note", epoch_note(train, kept)))
    if info.parameters:
        lines.append(("Parameters", f"{info.parameters:,}"))
    attention = s.get("attention_stats")
    if isinstance(attention, dict) and attention:
        lines.append(("Attention", attention_text(attention)))
    sweep = s.get("sweep")
    if isinstance(sweep, dict) and "study" in sweep:
        lines.append(("Sweep", f"study {sweep.get('study')!r}, trial {sweep.get('trial')}, "
                               f"seed {sweep.get('seed')}"
                      + (f" ({sweep['storage']})" if sweep.get("storage") else "")))
    if info.continued_from:
        c = s.get("continuation", {})
        lines.append(("Continued", f"from {info.continued_from} at epoch {c.get('epoch')}"))
    lines.append(("Checkpoint", str(info.checkpoint) if info.checkpoint else "none"))
    if info.description:
        lines.append(("Description", info.description))
    out = [f"{k:<12} {v}" for k, v in lines]
    if info.metrics or info.test_metrics:
        best = s.get("best_epoch")
        out += ["", "Final metrics" + (f" (the best epoch's model: epoch {best})"
                                       if isinstance(best, int) else "")]
        out.append(_final_table(info))
    health = s.get("health")
    if isinstance(health, dict) and health:
        out += ["", "Validation vectors (collapse: effective rank < 2 or centred cosine > 0.9)"]
        out += [f"  {name:<8} effective rank {h.get('effective_rank', float('nan')):.2f}, "
                f"centred cosine {h.get('centred_cosine', float('nan')):.3f}"
                for name, h in health.items() if isinstance(h, dict)]
    notes = s.get("data_notes")
    if isinstance(notes, list) and notes:
        out += ["", "Data"] + [f"  - {n}" for n in notes if isinstance(n, str)]
    if info.warnings:
        out += ["", "Warnings"] + [f"  - {w}" for w in info.warnings]
    if epochs:
        out += ["", "Per epoch", _epoch_table(epochs)]
    return "\n".join(out)


def _epoch_table(epochs: list[dict]) -> str:
    val_keys = list(dict.fromkeys(k for e in epochs for k in (e.get("val") or {})
                                  if k != "loss"))
    header = ("EPOCH", "STEP", "TIME", "LR", "TRAIN LOSS", "VAL LOSS", *[k.upper() for k in val_keys])
    rows = []
    for e in epochs:
        train, val = e.get("train") or {}, e.get("val") or {}
        rows.append((str(e.get("epoch", "?")), str(e.get("step", "?")),
                     format_duration(e.get("seconds")), _num(e.get("lr"), "g"),
                     _num(train.get("loss")), _num(val.get("loss")),
                     *[_metric(k, val.get(k)) for k in val_keys]))
    return _table(header, rows, indent="  ", right=True)


# ---------------------------------------------------------------- export, delete

def run_export(args) -> int:
    from ..core.errors import WorkbenchError
    from ..core.runs.store import export_run, load_run

    try:
        out = export_run(load_run(args.run_id, base=args.dir), args.dest)
    except WorkbenchError as exc:
        return fail(exc)
    print(f"exported to {out}", file=sys.stderr)
    return 0


def run_delete(args) -> int:
    from ..core.errors import WorkbenchError
    from ..core.runs.store import check_run_folder, delete_run, load_run

    try:
        info = load_run(args.run_id, base=args.dir)
        check_run_folder(info.path)  # refuse before asking
        if not args.yes:
            if not sys.stdin.isatty():
                print(f"error: not deleting {info.id} without --yes (no terminal to ask on)",
                      file=sys.stderr)
                return 1
            answer = input(f"Delete run {info.id} ({info.path})? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted", file=sys.stderr)
                return 1
        delete_run(info)
    except WorkbenchError as exc:
        return fail(exc)
    print(f"deleted {info.path}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- continue

def run_continue(args) -> int:
    from ..core import config as C
    from ..core.data import load_dataset
    from ..core.errors import WorkbenchError
    from ..core.runs.continuation import continue_run
    from ..core.runs.store import load_run
    from ..core.runs.writer import RunWriter
    from ..core.training import Trainer
    from .common import StopOnInterrupt
    from .train import ProgressPrinter

    try:
        info = load_run(args.run_id, base=args.dir)
        plan = continue_run(info, args.epochs, in_place=args.in_place)
        cfg = plan.config
        if args.device:
            cfg = C.apply_overrides(cfg, [f"device={args.device}"])
        dataset = load_dataset(cfg, progress=StageProgress())
        run_dir = plan.prepare()  # only once the data loaded: a failure leaves nothing behind
    except WorkbenchError as exc:
        return fail(exc)
    print(f"continuing {info.id} from epoch {plan.from_epoch} (step {plan.from_step}) to "
          f"epoch {plan.epochs}, in {'its own folder' if plan.in_place else run_dir}",
          file=sys.stderr)
    trainer = Trainer(cfg, dataset, callbacks=[RunWriter(run_dir, cfg, preset=info.preset),
                                               ProgressPrinter()],
                      run_dir=run_dir, resume_from=plan.checkpoint)
    with StopOnInterrupt(trainer):
        end = trainer.fit()
    if args.json:
        print(json.dumps({"id": run_dir.name, "run_dir": str(run_dir),
                          "continued_from": info.id, "from_epoch": plan.from_epoch,
                          "epochs": end.epoch, "steps": end.step, "status": end.status,
                          "seconds": round(end.seconds, 3), "metrics": end.metrics}))
    if end.status == "failed":
        print(f"error: {end.reason}", file=sys.stderr)
        return 1
    print(f"{end.status}: {end.reason}; run folder: {run_dir}", file=sys.stderr)
    return 0 if end.status == "finished" else 130


# ---------------------------------------------------------------- formatting

def _date(info, seconds: bool = False) -> str:
    if info.created is None:
        return "-"
    return info.created.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def _epochs(info) -> str:
    done, planned = info.epochs_done, info.epochs
    if done is None and planned is None:
        return "-"
    if done is None:
        return f"?/{planned}"
    return f"{done}/{planned}" if planned is not None and planned != done else str(done)


def _headline(info, n: int = 2) -> str:
    """The primary metric, validation and test; else the first ``n`` of HEADLINE."""
    metrics, primary = info.metrics, info.primary
    if primary in metrics:
        test = info.test_metrics.get(primary)
        tail = f" (test {test:.3f})" if test is not None else (
            " (no test split)" if info.test_size == 0 else "")
        return f"{primary} {metrics[primary]:.3f}{tail}"
    keys = [k for k in HEADLINE if k in metrics][:n]
    return "  ".join(f"{k} {metrics[k]:.3f}" for k in keys)


def _final_table(info) -> str:
    """Each metric on validation and test with its chance level; the primary one marked."""
    scores = info.scores
    chance = {**scores.get("test", {}).get("chance", {}), **scores.get("val", {}).get("chance", {})}
    no_test = info.test_size == 0
    rows = []
    for key in dict.fromkeys([*info.metrics, *info.test_metrics]):
        mark = " *" if key == info.primary else ""
        test = "no test split" if no_test else _metric(key, info.test_metrics.get(key))
        rows.append((key + mark, _metric(key, info.metrics.get(key)), test,
                     _metric(key, chance.get(key)) if key in chance else ""))
    table = _table(("METRIC", "VALIDATION", "TEST", "CHANCE"), rows, indent="  ")
    if info.primary:
        table += f"\n  * primary metric (ranks runs of {info.algorithm})"
    return table


def _metric(key: str, value) -> str:
    # ranks (expected ranks under ties) need no four decimals
    return _num(value, ".4g" if key.endswith("median_rank") else ".4f")


def _num(value, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _table(header, rows, *, indent: str = "", right: bool = False) -> str:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(cells):
        parts = [str(c).rjust(w) if right else str(c).ljust(w) for c, w in zip(cells, widths)]
        return (indent + "  ".join(parts)).rstrip()
    return "\n".join([line(header), *map(line, rows)])
