"""Loss functions shared by the algorithms, each small enough to check by hand."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def negative_cosine(a: Tensor, b: Tensor) -> Tensor:
    """The document's correlation loss: ``-mean(cos(a_k, b_k))`` over the batch."""
    return -F.cosine_similarity(a, b, dim=-1).mean()


def positives(image_ids: Tensor | None, n: int, device) -> Tensor:
    """(B, B) targets: caption k matches image j when they show the same image; each row
    sums to 1. Without ids, the diagonal (each caption its own image)."""
    if image_ids is None:
        return torch.eye(n, device=device)
    same = (image_ids[:, None] == image_ids[None, :]).float()
    return same / same.sum(1, keepdim=True)


def info_nce(text: Tensor, image: Tensor, scale: Tensor | float,
             image_ids: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Symmetric InfoNCE (CLIP): cross-entropy of the scaled cosine similarities, caption ->
    image and image -> caption. Returns the two directions' losses."""
    t = F.normalize(text, dim=-1)
    i = F.normalize(image, dim=-1)
    return info_nce_logits(scale * (t @ i.T), image_ids)


def info_nce_logits(logits: Tensor, image_ids: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Symmetric InfoNCE of a (B, B) caption x image score matrix whose diagonal holds the
    pairs (any score: cosines, or the word-patch alignment of :mod:`.grounding`)."""
    target = positives(image_ids, len(logits), logits.device)
    t2i = -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
    i2t = -(target.T * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return t2i, i2t


SOFT_CCA_EPS = 1e-5  # added to each dimension's standard deviation


def soft_cca(a: Tensor, b: Tensor, *, decorrelation: float = 0.1,
             eps: float = SOFT_CCA_EPS) -> Tensor:
    """Soft-CCA (Chang et al., 2018): squared distance between the batch-standardised views
    plus a penalty on the off-diagonal covariance of each view (decorrelated features)."""
    def standardise(x: Tensor) -> Tensor:
        return (x - x.mean(0)) / (x.std(0, unbiased=False) + eps)

    za, zb = standardise(a), standardise(b)
    distance = (za - zb).pow(2).sum(1).mean() / a.shape[1]

    def off_diagonal(z: Tensor) -> Tensor:
        cov = z.T @ z / max(len(z) - 1, 1)
        return (cov - torch.diag(torch.diag(cov))).abs().mean()

    return distance + decorrelation * (off_diagonal(za) + off_diagonal(zb))


def balanced_bce(logits: Tensor, target: Tensor, counts: Tensor | None = None) -> Tensor:
    """Binary cross-entropy for sparse 0/1 targets (bag-of-words), with the present words
    weighted as much as all the absent ones: plain BCE over a vocabulary of thousands is
    minimised by predicting "no word" everywhere. ``counts`` = (present, all entries) to
    weight by instead of this batch's (multi-process training passes the global batch's)."""
    if counts is None:
        counts = torch.stack([target.sum(), target.new_tensor(float(target.numel()))])
    pos = counts[0].clamp(min=1.0)
    neg = (counts[1] - pos).clamp(min=1.0)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=neg / pos)


def modality_dropout(batch_size: int, p: float, generator: torch.Generator | None = None,
                     device=None) -> tuple[Tensor, Tensor]:
    """Presence masks (text, image): with probability ``p`` a sample keeps one modality only
    (which one is a coin flip); never both dropped."""
    drop = torch.rand(batch_size, generator=generator) < p
    which = torch.rand(batch_size, generator=generator) < 0.5
    text = ~(drop & which)
    image = ~(drop & ~which)
    return text.to(device), image.to(device)
