"""Small building blocks shared by encoders, decoders and heads."""

from __future__ import annotations

from torch import Tensor, nn


def mlp(sizes: list[int], *, dropout: float = 0.0, final_activation: bool = False) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU (and dropout) between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(sizes) - 2
        if not last or final_activation:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def heads_for(dim: int, preferred: int = 4) -> int:
    """The largest head count <= ``preferred`` that divides ``dim``."""
    return next(h for h in range(min(preferred, dim), 0, -1) if dim % h == 0)


class SelfAttentionBlock(nn.Module):
    """Pre-norm self-attention + feed-forward (document 2.4, self-attention), keeping the
    last attention weights so they can be shown."""

    def __init__(self, dim: int, *, heads: int = 4, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads_for(dim, heads), dropout=dropout,
                                          batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(2 * dim, dim))
        self.last_weights: Tensor | None = None

    def forward(self, x: Tensor, mask: Tensor, *, keep_weights: bool = False) -> Tensor:
        h = self.norm1(x)
        out, weights = self.attn(h, h, h, key_padding_mask=~mask, need_weights=keep_weights)
        self.last_weights = weights if keep_weights else None
        x = x + out
        return x + self.ff(self.norm2(x))


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over the sequence of (B, L, E) where ``mask`` (B, L) is True."""
    w = mask.unsqueeze(-1).to(x.dtype)
    return (x * w).sum(1) / w.sum(1).clamp(min=1.0)
