"""Gated fusion: a Gated Multimodal Unit (Arevalo et al., 2017, "Gated Multimodal Units for
Information Fusion"); beyond the document, see DESIGN.md "Fusion strategies".

Each modality m gives h_m = tanh(W_m v_m); a gate computed from all the vectors decides, feature
by feature, how much of each to take. For two modalities, as in the paper,
g = sigmoid(W_g [v_1; v_2]) and z = g * h_1 + (1 - g) * h_2; for more, the gate is a softmax
over the modalities per feature. Unlike attention fusion, the mix can differ per feature.

An absent modality gets gate 0 (the others share all of it) and its vector is zeroed before
the gate sees it, so z does not depend on it.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..models.features import ModalityDims, ModalityFeatures
from .attention import masked_softmax
from .base import Fusion, FusionOutput, presence_matrix


class GatedFusion(Fusion):
    """GMU: per-feature gate mixing tanh projections of the modality vectors."""

    def __init__(self, params, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__(params, dims, out_dim)
        self.proj = nn.ModuleList(nn.Linear(d.vector, out_dim) for d in self.dims)
        m = len(self.dims)
        # Two modalities need one sigmoid gate (the paper's GMU); more need one per modality.
        self.gate = nn.Linear(sum(d.vector for d in self.dims), out_dim if m == 2 else m * out_dim)

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:
        present = presence_matrix(mods) > 0  # (B, M)
        vectors = [torch.where(present[:, i:i + 1], m.vector, 0.0) for i, m in enumerate(mods)]
        h = torch.stack([torch.tanh(p(v)) for p, v in zip(self.proj, vectors)], dim=1)
        h = torch.where(present.unsqueeze(-1), h, 0.0)  # (B, M, D)
        logits = self.gate(torch.cat(vectors, dim=-1))
        if len(mods) == 2:
            g = torch.sigmoid(logits)
            # Forced: 1 when only the first is present, 0 when the first is absent.
            g = torch.where(present[:, 1:], g, 1.0)
            g = torch.where(present[:, :1], g, 0.0)
            z = g * h[:, 0] + (1 - g) * h[:, 1]
            # With neither present both h are zero, so z is zero whatever g says; the
            # reported weights are zero too rather than all on the second modality.
            weights = torch.stack([g.mean(-1), (1 - g).mean(-1)], dim=1)
            weights = weights * present.any(1, keepdim=True).to(weights.dtype)
            return FusionOutput(z, {"gate": g, "modality_weights": weights})
        gates = masked_softmax(logits.view(-1, len(mods), self.out_dim), present.unsqueeze(-1),
                               dim=1)  # (B, M, D)
        z = (gates * h).sum(1)
        return FusionOutput(z, {"gate": gates, "modality_weights": gates.mean(-1)})
