"""Evaluation metrics: classification, cross-modal retrieval, reconstruction.

Retrieval ranks are 1-based (rank 1 = the true match scored highest). When several captions
share one image (COCO), text -> image looks for that image among the distinct images, and
image -> text counts the best-ranked of the image's captions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

RECALL_AT = (1, 5, 10)


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
    """Ranks of the true match, text -> image and image -> text, by cosine similarity.

    ``text`` (N, D) and ``image`` (N, D) are per pair; ``image_ids`` (N,) says which distinct
    image each pair shows (pairs with the same id share one image).
    """
    unique, first = _first_occurrence(image_ids)
    t = F.normalize(text.float(), dim=-1)
    g = F.normalize(image[first].float(), dim=-1)  # one row per distinct image
    sim = t @ g.T  # (N, M)
    target = torch.searchsorted(unique, image_ids)  # column of each pair's image
    true = sim.gather(1, target[:, None])
    # rank = 1 + number of images scored strictly higher than the true one
    t2i = 1 + (sim > true).sum(1)
    # image -> text: for each distinct image, the best rank among its captions
    sim_t = sim.T  # (M, N)
    n_images = len(unique)
    best_true = torch.full((n_images,), -float("inf"), device=sim.device)
    best_true = best_true.scatter_reduce(0, target, true.squeeze(1), reduce="amax")
    i2t = 1 + (sim_t > best_true[:, None]).sum(1)
    return t2i, i2t


def _first_occurrence(ids: Tensor) -> tuple[Tensor, Tensor]:
    unique, inverse = torch.unique(ids, sorted=True, return_inverse=True)
    order = torch.arange(len(ids), device=ids.device)
    first = torch.full((len(unique),), len(ids), dtype=torch.long, device=ids.device)
    first = first.scatter_reduce(0, inverse, order, reduce="amin")
    return unique, first


def retrieval_metrics(text: Tensor, image: Tensor, image_ids: Tensor) -> dict[str, float]:
    """R@1/5/10 (as fractions) both ways and the median rank over both directions."""
    if len(text) == 0:
        return {}
    t2i, i2t = retrieval_ranks(text, image, image_ids)
    out = {}
    for name, ranks in (("t2i", t2i), ("i2t", i2t)):
        for k in RECALL_AT:
            out[f"{name}_r{k}"] = float((ranks <= k).float().mean())
    out["median_rank"] = float(torch.quantile(torch.cat([t2i, i2t]).float(), 0.5))
    return out


def reconstruction_error(pred: Tensor, target: Tensor) -> float:
    """Mean squared error per element."""
    return float(F.mse_loss(pred.float(), target.float()))
