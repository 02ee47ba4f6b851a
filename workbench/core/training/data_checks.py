"""Data a run cannot train or validate on, refused before the model is built; data it can, but
whose numbers would say little, warned about with the figures (issue 17, item 16).

A 1-pair data set used to train to a loss of 0 (a contrastive batch of one has no negative),
and labels with one example each left every pair in training (a label's only example is
never held out), so the run trained for minutes with nothing to validate on. Both the CLI and
the GUI train through the Trainer, which calls these first.
"""

from __future__ import annotations

import numpy as np

from .. import config as C
from ..data.dataset import PairedDataset
from ..data.split import split_counts

# Fewer training pairs than this cannot train anything: a contrastive or adversarial batch
# needs a second pair to contrast with, and one pair is a constant to memorise.
MIN_TRAIN_PAIRS = 2
# A validation or test split this small moves a score in steps of 1/n (0.1 or more): its
# numbers, and keep_best's choice of epoch, are mostly noise.
SMALL_SPLIT = 10
# A classifier whose labels have a median of fewer training examples than this learns little
# beyond the frequent ones (one example each: scores at chance).
FEW_PER_LABEL = 3


def _pairs(n: int) -> str:
    return f"{n:,} pair{'' if n == 1 else 's'}"


def _sizes(ds: PairedDataset) -> str:
    s = ds.split.sizes()
    return (f"{_pairs(len(ds))} loaded: {s['train']:,} for training, {s['val']:,} for "
            f"validation, {s['test']:,} for test")


def minimum_pairs(val_fraction: float, test_fraction: float) -> int:
    """The fewest pairs that leave MIN_TRAIN_PAIRS for training and, with a validation
    fraction, one for validation (labels with repeats assumed: ``split.split_counts``)."""
    n = MIN_TRAIN_PAIRS
    while True:
        val, test = split_counts(n, val_fraction, test_fraction)
        if n - val - test >= MIN_TRAIN_PAIRS and (val or not val_fraction):
            return n
        n += 1


def refusal(ds: PairedDataset, cfg: C.ExperimentConfig) -> str | None:
    """Why this data cannot be trained or validated on with ``cfg``; None when it can."""
    sizes = ds.split.sizes()
    d = cfg.data
    if sizes["train"] < MIN_TRAIN_PAIRS:
        return (f"too little data to train: {_sizes(ds)}; training needs at least "
                f"{MIN_TRAIN_PAIRS} pairs (with data.val_fraction = {d.val_fraction:g} and "
                f"data.test_fraction = {d.test_fraction:g}, load "
                f"{minimum_pairs(d.val_fraction, d.test_fraction)} or more)")
    if sizes["val"] == 0 and d.val_fraction > 0:
        single = len(ds.split.single)
        if single and single == ds.num_classes:
            why = (f"each of the {single:,} labels has one example, and a label's only "
                   "example stays in training (a model cannot be scored on a label it never "
                   "saw); labels need 2 or more examples each to be validated: pick another "
                   "label column (data.label_column) or, for a label-free algorithm, none")
        else:
            why = (f"{_pairs(len(ds))} are too few to hold one out with data.val_fraction = "
                   f"{d.val_fraction:g}; load {minimum_pairs(d.val_fraction, d.test_fraction)}"
                   " or more, or set data.val_fraction = 0 to train without validation")
        return f"nothing to validate on: {_sizes(ds)}: {why}"
    if sizes["val"] == 0 and cfg.training.keep_best:
        return ("training.keep_best picks the epoch with the best validation score, and "
                "data.val_fraction = 0 leaves no validation split; turn one of them off")
    return None


def warnings(ds: PairedDataset, cfg: C.ExperimentConfig, *, needs_labels: bool) -> list[str]:
    """What makes this run's numbers weak, with the figures; empty when nothing does."""
    out = []
    sizes = ds.split.sizes()
    if sizes["val"] == 0 and cfg.data.val_fraction == 0:  # asked for (else: refused)
        out.append("no validation split (data.val_fraction = 0): no validation scores while "
                   "training, and nothing to stop early on")
    small = [f"{name} {sizes[key]:,}" for key, name in (("val", "validation"), ("test", "test"))
             if 0 < sizes[key] < SMALL_SPLIT]
    if small:
        smallest = min(sizes[k] for k in ("val", "test") if sizes[k])
        out.append(f"small held-out split{'s' if len(small) > 1 else ''} ({', '.join(small)} "
                   f"pairs): one pair moves a score by up to {1 / smallest:.2f}, so those "
                   "scores are mostly noise; load more data or raise data.val_fraction / "
                   "data.test_fraction")
    if needs_labels and ds.labels is not None:
        counts = np.bincount(ds.split_labels("train").numpy(), minlength=ds.num_classes)
        median = float(np.median(counts))
        if median < FEW_PER_LABEL:
            out.append(f"{ds.num_classes:,} labels over {sizes['train']:,} training pairs: a "
                       f"median of {median:g} training example{'' if median == 1 else 's'} "
                       "per label, too few for a classifier to learn most labels (expect "
                       "scores near chance); merge rare labels or load more examples of each")
    return out
