"""Intermediate fusion by attention over modalities [document 2.3, 2.4].

Each modality's hidden vector is projected to a common size and scored by one shared small
network; a softmax over the modalities turns the scores into per-sample weights, and the fused
vector is the weighted sum. The weights are what the GUI draws as the samples x modalities
heatmap, so they are reported as ``modality_weights``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..models.features import ModalityDims, ModalityFeatures
from .base import Fusion, FusionOutput, presence_matrix
from .params import AttentionParams


def masked_softmax(scores: Tensor, present: Tensor, dim: int = -1) -> Tensor:
    """Softmax of ``scores`` over ``dim`` where ``present`` (bool, broadcastable) is True.

    Absent entries get exactly 0. A row with nothing present comes back all zeros: it is left
    unmasked for the softmax (a softmax of only -inf is NaN, in backward too) and zeroed after.
    """
    present = present.expand_as(scores)
    any_present = present.any(dim, keepdim=True)
    keep = present | ~any_present
    weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim)
    return weights * any_present.to(weights.dtype)


class AttentionFusion(Fusion):
    """Softmax-weighted sum of the projected modality vectors (weights rows sum to 1)."""

    def __init__(self, params: AttentionParams, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__(params, dims, out_dim)
        self.proj = nn.ModuleList(nn.Linear(d.vector, out_dim) for d in self.dims)
        # The last layer has no bias: a constant added to every modality's score cancels in
        # the softmax, so a bias there could never learn anything.
        self.score = nn.Sequential(nn.Linear(out_dim, out_dim), nn.Tanh(),
                                   nn.Linear(out_dim, 1, bias=False))

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:
        present = presence_matrix(mods) > 0  # (B, M)
        h = torch.stack([p(m.vector) for p, m in zip(self.proj, mods)], dim=1)  # (B, M, D)
        scores = self.score(h).squeeze(-1) / self.params.temperature
        weights = masked_softmax(scores, present)
        # where, not a product: an absent modality's values must not reach z, even non-finite.
        h = torch.where(present.unsqueeze(-1), h, 0.0)
        z = (weights.unsqueeze(-1) * h).sum(1)
        return FusionOutput(z, {"modality_weights": weights})
