"""``workbench data inspect SOURCE``: what a data source holds, and what is wrong with it."""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter

from .common import StageProgress, fail, skipped_lines


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="inspect a data source or convert it to shards",
                       description="Inspect a data source, or convert it to shards.")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    ins = dsub.add_parser("inspect", help="pairs, labels, vocabulary, image sizes, bad rows",
                          description="Load SOURCE as training would and report what it holds: "
                          "pairs, labels with counts, vocabulary size, image sizes and skipped "
                          "rows. SOURCE is builtin:emoji, an image folder (metadata.jsonl or "
                          "metadata.csv), a CSV, a COCO captions JSON, an .npz of features, "
                          "Parquet or Arrow files (a .parquet, a folder of them, a Hugging "
                          "Face save_to_disk folder) or WebDataset shards (a .tar, a folder "
                          "of them, or a pattern like 'data-{000000..000009}.tar').")
    ins.add_argument("source", metavar="SOURCE")
    ins.add_argument("--images", metavar="DIR", default="",
                     help="image folder (COCO captions; or where a CSV's paths start)")
    ins.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                     help="fail (default): stop and list bad rows; skip: leave them out")
    ins.add_argument("--format", default="auto",
                     choices=("auto", "builtin", "imagefolder", "csv", "coco", "npz",
                              "parquet", "webdataset"))
    ins.add_argument("--text-column", default="", metavar="NAME")
    ins.add_argument("--image-column", default="", metavar="NAME")
    ins.add_argument("--label-column", default="", metavar="NAME",
                     help="label column, or 'none' for no labels")
    ins.add_argument("--allow-outside-paths", action="store_true",
                     help="let the dataset name images outside its folder (../.., absolute "
                     "paths)")
    ins.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="any other config setting, e.g. preprocess.vocab_size=2000")
    ins.add_argument("--full", action="store_true",
                     help="load every pair even of a large Parquet or WebDataset source "
                     "(by default one of more than 20,000 pairs is looked at: counts from "
                     "its metadata, the rest from its first 1,000 samples)")
    ins.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ins.set_defaults(run=run_inspect)
    add_convert_parser(dsub)


def source_config(args):
    """The config the data subcommands' source options describe (checked like any other)."""
    from ..core.config import ExperimentConfig, apply_overrides
    return apply_overrides(ExperimentConfig(), [
        f"data.source={args.source}", f"data.images={args.images}",
        f"data.on_error={args.on_error}", f"data.format={args.format}",
        f"data.text_column={args.text_column}", f"data.image_column={args.image_column}",
        f"data.label_column={args.label_column}",
        f"data.allow_outside_paths={str(args.allow_outside_paths).lower()}", *args.set])


def run_inspect(args) -> int:
    from ..core.data import dataset_for, load_pairs
    from ..core.data.quick_look import quick_look
    from ..core.errors import WorkbenchError

    try:
        cfg = source_config(args)
        # A large sharded source is looked at (its metadata and first samples), not loaded.
        look = None if args.full else quick_look(cfg.data, cfg.preprocess.image_size)
        table = look.table if look else load_pairs(cfg.data, cfg.preprocess.image_size,
                                                   progress=StageProgress())
        ds = dataset_for(cfg, table)
    except (WorkbenchError, OSError) as exc:
        return fail(exc)
    report = summarize(table, ds)
    if look:
        report.update(looked_at(look, cfg))
    else:
        report.update(training_checks(cfg, ds))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


def summarize(table, ds) -> dict:
    """What ``data inspect`` reports, as plain JSON-able values."""
    out = {
        "source": table.source, "format": table.kind, "file": table.file,
        "pairs": len(table),
        "labels": table.label_counts(), "label_column": table.label_column,
        "vocab_size": ds.vocab_size,
        "split": ds.split.sizes(),
        "split_notes": ds.split_notes,
        "skipped": [p.to_dict() for p in table.skipped],
        "notes": list(table.notes),
        "seconds": round(table.seconds, 3),
    }
    if table.images is not None:
        sizes = Counter(tuple(int(v) for v in s) for s in table.original_sizes)
        (w, h), n = sizes.most_common(1)[0]
        out["images"] = {
            "distinct": int(table.images.shape[0]), "resized_to": int(table.images.shape[-1]),
            "most_common_size": [w, h], "most_common_count": n,
            "min_size": [int(v) for v in table.original_sizes.min(axis=0)],
            "max_size": [int(v) for v in table.original_sizes.max(axis=0)],
            "from_cache": table.cache_hits,
        }
    if table.image_features is not None:
        out["features"] = {"text_dim": int(table.text_features.shape[1]),
                           "image_dim": int(table.image_features.shape[1])}
    if table.tokens is not None:
        lengths = [len(t) for t in table.tokens]
        out["caption_words"] = {"min": min(lengths), "median": statistics.median(lengths),
                                "max": max(lengths)}
    return out


def looked_at(look, cfg) -> dict:
    """What a quick look at a large sharded source reports instead of a full load's
    figures: every pair counted, labels counted where the column alone tells, the split's
    sizes as a full load would cut them, and what came from the first samples only."""
    from ..core.data.split import split_counts
    val, test = split_counts(look.total, cfg.data.val_fraction, cfg.data.test_fraction)
    sampled = len(look.table)
    out = {"pairs": look.total, "sampled": sampled, "shards": look.shards,
           "split": {"train": look.total - val - test, "val": val, "test": test},
           "split_notes": [], "cannot_train": None, "warnings": []}
    if look.label_counts is not None:
        out["labels"] = dict(sorted(look.label_counts.items()))
    else:
        out["labels_sampled"] = True
    out["notes"] = [f"a quick look: {look.total:,} pairs in {look.shards:,} shards by their "
                    f"metadata; captions, images, vocabulary"
                    + ("" if look.label_counts is not None else ", labels")
                    + f" and skipped rows from the first {sampled:,} (--full loads every "
                    "pair)"]
    return out


def training_checks(cfg, ds) -> dict:
    """What training would refuse or warn about on this data with these settings (the
    classifier's warning about examples per label only when there are labels)."""
    from ..core.training import data_checks
    return {"cannot_train": data_checks.refusal(ds, cfg),
            "warnings": data_checks.warnings(ds, cfg, needs_labels=ds.labels is not None)}


def format_report(r: dict) -> str:
    lines = [f"Source       {r['source']} ({r['format']})", f"Pairs        {r['pairs']}"
             + (f" in {r['shards']:,} shards; the figures below marked * come from the "
                f"first {r['sampled']:,}" if "sampled" in r else "")]
    mark = "*" if "sampled" in r else ""  # a quick look: from the first samples only
    if "images" in r:
        im = r["images"]
        lines.append(f"Images{mark:<7}{im['distinct']} distinct; most are {im['most_common_size'][0]}"
                     f"x{im['most_common_size'][1]} ({im['most_common_count']}), smallest "
                     f"{im['min_size'][0]}x{im['min_size'][1]}, largest {im['max_size'][0]}x"
                     f"{im['max_size'][1]}; resized to {im['resized_to']}x{im['resized_to']}"
                     f"; {im['from_cache']} from the cache")
    if "features" in r:
        f = r["features"]
        lines.append(f"Features     text {f['text_dim']}-d, image {f['image_dim']}-d")
    if "caption_words" in r:
        c = r["caption_words"]
        lines.append(f"Captions{mark:<5}{c['min']} to {c['max']} words (median {c['median']:g})")
    lines.append(f"Vocabulary{mark:<3}{r['vocab_size']} (built on the training split)")
    s = r["split"]
    lines.append(f"Split        train {s['train']}, val {s['val']}, test {s['test']}")
    lines += [f"  note: {note}" for note in r.get("split_notes", [])]
    if r["labels"]:
        lines.append(f"Labels{'*' if r.get('labels_sampled') else '':<7}{len(r['labels'])} in column {r['label_column']!r}")
        width = max(len(k) for k in r["labels"])
        lines += [f"  {name:<{width}}  {count}" for name, count in r["labels"].items()]
    else:
        lines.append("Labels       none (label-free algorithms only)")
    lines.append(f"Skipped{mark:<6}{len(r['skipped'])} rows")
    lines += skipped_lines(r["skipped"])
    lines += [f"Note         {note}" for note in r.get("notes", [])]
    if r.get("cannot_train"):
        lines.append(f"Cannot train {r['cannot_train']}")
    lines += [f"Warning      {w}" for w in r.get("warnings", [])]
    lines.append(f"Loaded in    {r['seconds']:.2f} s")
    return "\n".join(lines)


def add_convert_parser(dsub) -> None:
    cv = dsub.add_parser("convert", help="write a source as Parquet or WebDataset shards",
                         description="Write every pair of SOURCE (any source data inspect "
                         "reads, except .npz features) into OUT as shards of --shard-size "
                         "samples: the images' own file bytes, captions and labels. parquet: "
                         "data-00000-of-000NN.parquet, Hugging Face datasets' layout (image, "
                         "text, label as ClassLabel, key); webdataset: data-000000.tar, ... "
                         "(KEY.png|jpg|webp, KEY.txt, KEY.cls) and classnames.txt.")
    cv.add_argument("source", metavar="SOURCE")
    cv.add_argument("--to", required=True, choices=("parquet", "webdataset"))
    cv.add_argument("out", metavar="OUT", help="a new or empty folder")
    # the default is convert.SHARD_SIZE (not imported here: --help stays fast)
    cv.add_argument("--shard-size", type=int, metavar="N",
                    help="samples per shard (default 10,000)")
    cv.add_argument("--overwrite", action="store_true",
                    help="replace an earlier conversion in OUT (a folder holding other files "
                    "is still refused)")
    cv.add_argument("--images", metavar="DIR", default="",
                    help="image folder (COCO captions; or where a CSV's paths start)")
    cv.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                    help="fail (default): stop and list bad rows; skip: leave them out")
    cv.add_argument("--format", default="auto", metavar="F", help="the source's format")
    cv.add_argument("--text-column", default="", metavar="NAME")
    cv.add_argument("--image-column", default="", metavar="NAME")
    cv.add_argument("--label-column", default="", metavar="NAME",
                    help="label column, or 'none' for no labels")
    cv.add_argument("--allow-outside-paths", action="store_true",
                    help="let the dataset name images outside its folder")
    cv.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other data setting, e.g. data.max_caption_lines=50")
    cv.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    cv.set_defaults(run=run_convert)


def run_convert(args) -> int:
    from ..core.data.convert import convert
    from ..core.errors import WorkbenchError

    try:
        cfg = source_config(args)
        sizes = {} if args.shard_size is None else {"shard_size": args.shard_size}
        result = convert(cfg.data, args.to, args.out, overwrite=args.overwrite,
                         progress=StageProgress(), **sizes)
    except (WorkbenchError, OSError) as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("\ninterrupted: the shards written so far were removed", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    lines = [f"Labels       {len(result.label_names)} from column {result.label_column!r}"
             if result.label_names else "Labels       none"]
    skipped = [p.to_dict() for p in result.skipped]
    lines.append(f"Skipped      {len(skipped)} rows")
    lines += skipped_lines(skipped, limit=20)
    lines += [f"Note         {note}" for note in result.notes]
    first, last = result.shards[0][0], result.shards[-1][0]
    files = first if first == last else f"{first} ... {last}"
    shards = len(result.shards)
    lines.append(f"Wrote {result.samples} pairs in {shards} shard{'s' if shards != 1 else ''} "
                 f"({files}), {_size(result.bytes)}, to {result.out} ({result.format}) in "
                 f"{result.seconds:.1f} s")
    print("\n".join(lines))
    return 0


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
