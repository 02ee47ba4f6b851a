"""Parameters of each fusion strategy (no torch here: presets are validated without it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param


@dataclass
class NoParams:
    """For strategies with nothing to set."""


@dataclass
class EarlyParams:
    layers: int = param(2, "Layers of the network on top of the concatenated inputs.", min=1, max=6,
                        search=(1, 4))


@dataclass
class LateParams:
    combine: str = param("mean", "How the per-modality decisions are combined: their mean, "
                         "learned softmax weights, or a (soft) vote.",
                         choices=("mean", "learned", "vote"))


@dataclass
class AttentionParams:
    temperature: float = param(1.0, "Softmax temperature of the modality weights (lower is "
                               "sharper).", min=0.05, max=10.0, log=True,
                               search=(0.1, 10.0), search_log=True)


@dataclass
class CoAttentionParams:
    heads: int = param(4, "Attention heads of each cross-attention (must divide the embedding "
                       "size).", min=1, max=16)
    layers: int = param(1, "Stacked co-attention blocks (text->image and image->text each).",
                        min=1, max=4,
                        search=(1, 3))
    null_key: bool = param(False, "A learned key (and value) beside the other side's tokens "
                           "that a query with nothing to find there may attend to, as "
                           "ViT registers: without one, such a query's attention has to land "
                           "somewhere, often on blank background. The drawn maps show the "
                           "tokens' share; the rest went to the null key.")


@dataclass
class TensorParams:
    rank_dim: int = param(16, "Each modality is projected to this size before the outer "
                          "product, whose size is (rank_dim+1)^2.", min=2, max=64,
                          search=(4, 64), search_log=True)
