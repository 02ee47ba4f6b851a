"""Mean fusion: the average of the modalities' hidden vectors [document section 5].

The document's autoencoder fuses by ``torch.mean(torch.stack([text_hidden, image_hidden]),
dim=0)``: no parameters, so the shared code is forced to be what both encoders agree on. That
is kept exactly when the vector size is already ``out_dim``; otherwise one Linear follows.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..models.features import ModalityDims, ModalityFeatures
from .base import Fusion, FusionOutput, presence_matrix


class MeanFusion(Fusion):
    """Mean over the present modalities' vectors. It reports no attention: its weights are
    fixed (1/M), so they would only clutter the live views."""

    def __init__(self, params, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__(params, dims, out_dim)
        sizes = {d.vector for d in self.dims}
        # Vectors of different sizes cannot be averaged as they are: each is projected to
        # out_dim first. With one common size the mean comes first, as in the document.
        self.pre = None
        self.post: nn.Module = nn.Identity()
        if len(sizes) > 1:
            self.pre = nn.ModuleList(nn.Linear(d.vector, out_dim) for d in self.dims)
        elif sizes != {out_dim}:
            self.post = nn.Linear(sizes.pop(), out_dim)

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:
        present = presence_matrix(mods) > 0  # (B, M)
        vectors = [m.vector for m in mods]
        if self.pre is not None:
            vectors = [p(v) for p, v in zip(self.pre, vectors)]
        v = torch.stack(vectors, dim=1)  # (B, M, H)
        # A sample with no modality left gets a zero vector (0 / 1), not 0 / 0.
        count = present.sum(1, keepdim=True).clamp(min=1)
        z = torch.where(present.unsqueeze(-1), v, 0.0).sum(1) / count
        return FusionOutput(self.post(z))
