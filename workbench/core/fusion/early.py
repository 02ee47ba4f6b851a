"""Early fusion: the modalities' inputs concatenated, one network on top [document 2.3].

"Concatenate the features of the different modalities directly into one high-dimensional
vector." The inputs are the flattened raw features (bag of words, pixels or precomputed
vectors), not the encoders' outputs, so any interaction between modalities must be learned
by the network from the first layer on. Nothing here is attention.

Each modality's input is layer-normalised on its own before the concatenation: raw bag-of-words
counts and pixels have very different scales, and one LayerNorm over the concatenation would
leave the larger one dominating. An absent modality's part is zeroed after its normalisation,
so it contributes nothing (its normalised zeros would otherwise carry the LayerNorm bias).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..models.blocks import mlp
from ..models.features import ModalityDims, ModalityFeatures
from .base import Fusion, FusionOutput, presence_matrix
from .params import EarlyParams


class EarlyFusion(Fusion):
    """Per-modality LayerNorm of the raw inputs, concatenation, ``params.layers`` Linear layers."""

    uses_encoders = False

    def __init__(self, params: EarlyParams, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__(params, dims, out_dim)
        self.norms = nn.ModuleList(nn.LayerNorm(d.raw) for d in self.dims)
        self.net = mlp([sum(d.raw for d in self.dims)] + [out_dim] * params.layers)

    def modality_parameters(self) -> dict[str, list[nn.Parameter]]:
        return {d.name: list(norm.parameters()) for d, norm in zip(self.dims, self.norms)}

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:
        present = presence_matrix(mods) > 0  # (B, M)
        parts = [torch.where(present[:, i:i + 1], norm(m.raw.flatten(1)), 0.0)
                 for i, (norm, m) in enumerate(zip(self.norms, mods))]
        return FusionOutput(self.net(torch.cat(parts, dim=-1)))
