"""What an encoder hands to a fusion: one modality's features in three forms."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ModalityFeatures:
    """One modality of a batch, as every fusion may want it.

    ``vector`` (B, H) is the pooled representation; ``tokens`` (B, L, E) with ``mask``
    (B, L, True = real) the sequence (caption words or image patches; a feature vector is one
    "token"); ``raw`` (B, D) the flattened input for early fusion. ``present`` (B,) is False
    where modality dropout removed this modality from a sample; None means all present.
    """

    name: str
    vector: Tensor
    tokens: Tensor
    mask: Tensor
    raw: Tensor
    present: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.vector.shape[0]

    def presence(self) -> Tensor:
        """(B,) float: 1 where present."""
        if self.present is None:
            return torch.ones(self.batch_size, device=self.vector.device)
        return self.present.to(self.vector.dtype)

    def select(self, index: Tensor) -> "ModalityFeatures":
        """The samples at ``index``, every form of them (mismatched or re-ranked pairs)."""
        present = None if self.present is None else self.present[index]
        return ModalityFeatures(self.name, self.vector[index], self.tokens[index],
                                self.mask[index], self.raw[index], present)

    def with_presence(self, present: Tensor | None) -> "ModalityFeatures":
        return ModalityFeatures(self.name, self.vector, self.tokens, self.mask, self.raw,
                                present)


@dataclass(frozen=True)
class ModalityDims:
    """Sizes a fusion is built for: pooled vector, token features, flattened raw input."""

    name: str
    vector: int
    token: int
    raw: int
