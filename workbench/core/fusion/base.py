"""The one interface every fusion strategy has (as MultiBench's ``forward(modalities)``).

A fusion takes the modalities' :class:`ModalityFeatures` and returns a :class:`FusionOutput`:
the fused representation ``z`` (B, out_dim) and the attention weights it has, by name, so the
GUI can draw whichever a strategy produces without knowing the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor, nn

from ..models.features import ModalityDims, ModalityFeatures
from . import FUSIONS


@dataclass
class FusionOutput:
    """``z``: (B, out_dim). ``attention``: named weights, e.g. ``modality_weights`` (B, M),
    ``text_to_image`` (B, L, P) and ``image_to_text`` (B, P, L) for co-attention, ``gate``
    (B, out_dim). ``states``: the token states a fusion ends with, by modality (co-attention's
    ``text`` (B, L, E) and ``image`` (B, P, E)), for objectives that predict from one token
    (masked-word prediction, :mod:`..algorithms.grounding`)."""

    z: Tensor
    attention: dict[str, Tensor] = field(default_factory=dict)
    states: dict[str, Tensor] = field(default_factory=dict)


class Fusion(nn.Module):
    """Base class. ``decision_level`` fusions (late) output decisions (e.g. class logits),
    not a representation: the algorithm then uses ``z`` as its prediction directly."""

    decision_level = False
    #: False for strategies that read only the raw inputs (early fusion): the algorithm then
    #: need not run its encoders for this fusion
    uses_encoders = True
    #: True for strategies that read the modalities' token sequences (co-attention), not
    #: only their pooled vectors: encoders that make tokens at a cost make them only then
    reads_tokens = False

    def __init__(self, params, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__()
        self.params = params
        self.dims = list(dims)
        self.out_dim = out_dim

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:  # pragma: no cover
        raise NotImplementedError

    def modality_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Parameters that read one modality only, by modality name (for strategies that
        take raw inputs, where no encoder stands between the input and the fusion)."""
        return {}


def build_fusion(name: str, params, dims: Sequence[ModalityDims], out_dim: int) -> Fusion:
    """The fusion registered as ``name``, built for ``dims`` with output size ``out_dim``."""
    cls = FUSIONS[name].load()
    return cls(params, dims, out_dim)


def presence_matrix(mods: Sequence[ModalityFeatures]) -> Tensor:
    """(B, M) float: 1 where modality m is present for sample b (dropout-aware)."""
    return torch.stack([m.presence() for m in mods], dim=1)
