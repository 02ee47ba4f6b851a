"""Evaluation metrics: classification, cross-modal retrieval, reconstruction.

Retrieval ranks are 1-based (rank 1 = the true match scored highest) and count ties as
random tie-breaking would (:mod:`.ranking`). When several captions share one image (COCO),
text -> image looks for that image among the distinct images, and image -> text counts the
best-ranked of the image's captions. Each direction has its own median rank: text -> image
has one query per caption, image -> text one per image, and pooling the two would weigh
them by how many of each there happen to be.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .names import DIRECTIONS, MEAN_RECALL, RECALL_AT, RECALL_KEYS  # noqa: F401
from .ranking import RankCounts, expected_rank, recall_at, retrieval_counts


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(-1) == labels).float().mean()) if len(labels) else float("nan")


def confusion_matrix(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """(C, C) counts; row = true class, column = predicted class."""
    idx = labels * num_classes + pred
    return torch.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def macro_f1(pred: Tensor, labels: Tensor, num_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``labels`` or ``pred``."""
    cm = confusion_matrix(pred, labels, num_classes).double()
    tp = cm.diag()
    support, predicted = cm.sum(1), cm.sum(0)
    denom = support + predicted
    present = denom > 0
    if not present.any():
        return float("nan")
    f1 = torch.where(present, 2 * tp / denom.clamp(min=1), torch.zeros_like(tp))
    return float(f1[present].mean())


def classification_metrics(logits: Tensor, labels: Tensor, num_classes: int) -> dict[str, float]:
    pred = logits.argmax(-1)
    return {"accuracy": accuracy(logits, labels),
            "macro_f1": macro_f1(pred, labels, num_classes)}


def retrieval_ranks(text: Tensor, image: Tensor, image_ids: Tensor) -> tuple[Tensor, Tensor]:
    """Expected ranks of the true match under random tie-breaking (float64), text -> image
    (one per pair) and image -> text (one per distinct image: the best of its captions)."""
    t2i, i2t = retrieval_counts(text, image, image_ids)
    return expected_rank(t2i), expected_rank(i2t)


def recall_metrics(t2i: RankCounts, i2t: RankCounts) -> dict[str, float]:
    """``t2i_r1`` ... ``i2t_r10`` (fractions, ties in expectation), ``t2i_median_rank``,
    ``i2t_median_rank`` and ``mean_recall`` from the two directions' rank counts."""
    out: dict[str, float] = {}
    for name, counts in zip(DIRECTIONS, (t2i, i2t)):
        for k in RECALL_AT:
            out[f"{name}_r{k}"] = float(recall_at(counts, k).mean())
        out[f"{name}_median_rank"] = median(expected_rank(counts))
    out[MEAN_RECALL] = sum(out[k] for k in RECALL_KEYS) / len(RECALL_KEYS)
    return out


def retrieval_metrics(text: Tensor, image: Tensor, image_ids: Tensor) -> dict[str, float]:
    """:func:`recall_metrics` of the split's vectors (empty for an empty split)."""
    if len(text) == 0:
        return {}
    return recall_metrics(*retrieval_counts(text, image, image_ids))


def median(values: Tensor) -> float:
    """The median (the mean of the middle two for an even count)."""
    return float(torch.quantile(values.double(), 0.5))


def reconstruction_error(pred: Tensor, target: Tensor) -> float:
    """Mean squared error per element."""
    return float(F.mse_loss(pred.float(), target.float()))
