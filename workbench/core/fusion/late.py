"""Late fusion: one decision per modality, combined at the decision level [document 2.3].

"Each modality learns on its own, fused at the decision layer, e.g. by vote or weighted
average." Each modality has a Linear head on its hidden vector giving ``out_dim`` logits; the
heads are combined over the modalities present in each sample by ``params.combine``:

- ``mean``: the mean of the logits;
- ``learned``: a weighted mean, the weights a softmax over one learned score per modality;
- ``vote``: a soft vote, the mean of the per-modality softmax probabilities. It is returned
  as log-probabilities, so that cross-entropy on ``z`` (which applies log-softmax, a no-op on
  log-probabilities) still trains the heads; ``z.exp()`` gives the voted probabilities.

``z`` is a decision (class logits or log-probabilities), not a representation, hence
``decision_level``. ``modality_weights`` (B, M) are reported for ``learned`` only: for mean
and vote they are fixed (uniform over the present modalities) and would say nothing.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..models.features import ModalityDims, ModalityFeatures
from .attention import masked_softmax
from .base import Fusion, FusionOutput, presence_matrix
from .params import LateParams


class LateFusion(Fusion):
    """A Linear head per modality; decisions combined by mean, learned weights or soft vote."""

    decision_level = True

    def __init__(self, params: LateParams, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__(params, dims, out_dim)
        if params.combine not in ("mean", "learned", "vote"):
            raise ValueError(f"unknown combine {params.combine!r}: expected mean, learned or vote")
        self.heads = nn.ModuleList(nn.Linear(d.vector, out_dim) for d in self.dims)
        # Created only when used, so that every parameter of the module gets a gradient.
        self.modality_scores = (nn.Parameter(torch.zeros(len(self.dims)))
                                if params.combine == "learned" else None)

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:
        present = presence_matrix(mods) > 0  # (B, M)
        logits = torch.stack([h(m.vector) for h, m in zip(self.heads, mods)], dim=1)
        logits = torch.where(present.unsqueeze(-1), logits, 0.0)  # (B, M, C)
        if self.modality_scores is not None:
            weights = masked_softmax(self.modality_scores.expand_as(present), present)
        else:
            weights = present.to(logits.dtype) / present.sum(1, keepdim=True).clamp(min=1)
        shown = {"modality_weights": weights} if self.modality_scores is not None else {}
        if self.params.combine != "vote":
            return FusionOutput((weights.unsqueeze(-1) * logits).sum(1), shown)
        # Soft vote in log space: log sum_m w_m softmax(l_m) = logsumexp_m(log w_m + log_softmax).
        # A sample with no modality votes uniformly; its weights are made finite first so that
        # the discarded branch has no -inf to send NaN through backward.
        nobody = ~present.any(1, keepdim=True)
        safe = torch.where(nobody, 1.0 / present.shape[1], weights)
        z = torch.logsumexp(safe.log().unsqueeze(-1) + logits.log_softmax(-1), dim=1)
        z = torch.where(nobody, -math.log(self.out_dim), z)
        return FusionOutput(z, shown)
