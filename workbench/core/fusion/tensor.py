"""Tensor fusion (Zadeh et al., 2017, "Tensor Fusion Network for Multimodal Sentiment
Analysis"); beyond the document, see DESIGN.md "Fusion strategies".

Each modality vector is projected to ``rank_dim`` and extended with a constant 1; the outer
product of these (M-way for M modalities) holds every product of features across modalities
(the bimodal interactions) and, thanks to the 1s, each modality's own features (the unimodal
terms) too. It is flattened and a small network maps it to ``out_dim``. The size grows as
(rank_dim + 1)^M, which is why the vectors are projected down first.

An absent modality's projected part is zeroed while its 1 stays: only the other modalities'
unimodal terms survive, as if it had never been seen.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..models.features import ModalityDims, ModalityFeatures
from .base import Fusion, FusionOutput, presence_matrix
from .params import TensorParams


class TensorFusion(Fusion):
    """Outer product of [projection; 1] across the modalities, then an MLP to out_dim."""

    def __init__(self, params: TensorParams, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__(params, dims, out_dim)
        r = params.rank_dim
        self.proj = nn.ModuleList(nn.Linear(d.vector, r) for d in self.dims)
        self.product_dim = (r + 1) ** len(self.dims)
        self.post = nn.Sequential(nn.Linear(self.product_dim, out_dim), nn.ReLU(),
                                  nn.Linear(out_dim, out_dim))

    def product(self, mods: Sequence[ModalityFeatures]) -> Tensor:
        """The flattened outer product, (B, product_dim)."""
        present = presence_matrix(mods) > 0
        out = present.new_ones(present.shape[0], 1, dtype=mods[0].vector.dtype)
        for i, (p, m) in enumerate(zip(self.proj, mods)):
            x = torch.where(present[:, i:i + 1], p(m.vector), 0.0)
            x = torch.cat([x, torch.ones_like(x[:, :1])], dim=-1)  # (B, r + 1)
            out = (out.unsqueeze(-1) * x.unsqueeze(1)).flatten(1)
        return out

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:
        return FusionOutput(self.post(self.product(mods)))
