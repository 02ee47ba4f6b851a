"""Co-attention: text tokens attend to image patches and patches to tokens [document 2.4].

"Co-attention learns attention weights between modalities, capturing cross-modal
associations." Each block updates both sides at once from the previous block's outputs (as in
ViLBERT's co-attentional layers): text queries over image keys, image queries over text keys,
each with a residual, LayerNorm and a small feed-forward. Each side is then pooled by a masked
mean and the two are concatenated and projected to ``out_dim``.

The last block's weights, averaged over heads, are reported as ``text_to_image`` (B, L, P) and
``image_to_text`` (B, P, L): the token x patch heatmap the GUI draws over the image. With more
than one head each head's own words -> patches map is reported too, ``text_to_image_heads``
(B, H, L, P): heads that look at different places make a mean map broader than any of them
(on the emoji, four heads' own foreground gains +0.14 to +0.49, their mean's +0.30), and
the Attention tab can show each.

With ``null_key`` each cross-attention also has a learned key and value of its own
(``nn.MultiheadAttention``'s ``add_bias_kv``), the same for every sample: a query with
nothing to find among the other side's tokens can attend to it instead of parking its weight
on some token (for images, typically blank background; as the registers of Darcet et al.,
"Vision Transformers Need Registers", 2024). The reported maps keep the tokens' columns,
so a row sums to one minus its ``text_to_null`` / ``image_to_null`` share.

An absent modality (``present`` False) offers no keys and pools to zero. A softmax over keys
that are all masked is NaN, so such a sample keeps its first key unmasked as a dummy, and its
cross-attended output and weights are then zeroed: the other side sees only its own residual.
"""

from __future__ import annotations

from typing import Sequence

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.blocks import masked_mean
from ..models.features import ModalityDims, ModalityFeatures
from .base import Fusion, FusionOutput, presence_matrix
from .params import CoAttentionParams


class _CrossAttention(nn.Module):
    """One direction: queries ``x`` attend to keys ``y``; residual + LayerNorm, then FFN."""

    def __init__(self, dim: int, heads: int, null_key: bool = False):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True, add_bias_kv=null_key)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: Tensor, y: Tensor, keys: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``keys`` (B, Ly) True where a key may be attended to; returns x, each head's
        weights on ``y`` (B, H, Lx, Ly) and on the null key (B, H, Lx; zeros without one)."""
        has_keys = keys.any(1)  # (B,)
        dummy = torch.zeros_like(keys)
        dummy[:, 0] = ~has_keys
        out, weights = self.attn(x, y, y, key_padding_mask=~(keys | dummy), need_weights=True,
                                 average_attn_weights=False)
        out = torch.where(has_keys[:, None, None], out, 0.0)
        weights = torch.where(has_keys[:, None, None, None], weights, 0.0)
        # add_bias_kv appends the null key after the real ones.
        null = weights[..., y.shape[1]:].sum(-1)
        x = self.norm1(x + out)
        return self.norm2(x + self.ff(x)), weights[..., :y.shape[1]], null


class _CoAttentionBlock(nn.Module):
    def __init__(self, dim: int, heads: int, null_key: bool = False):
        super().__init__()
        self.text_from_image = _CrossAttention(dim, heads, null_key)
        self.image_from_text = _CrossAttention(dim, heads, null_key)

    def forward(self, t: Tensor, i: Tensor, t_keys: Tensor, i_keys: Tensor):
        t_new, t2i, t_null = self.text_from_image(t, i, i_keys)
        i_new, i2t, i_null = self.image_from_text(i, t, t_keys)
        maps = {"text_to_image": t2i.mean(1), "image_to_text": i2t.mean(1),
                "text_to_null": t_null.mean(1), "image_to_null": i_null.mean(1)}
        if t2i.shape[1] > 1:  # one head's map is the mean already
            maps["text_to_image_heads"], maps["text_to_null_heads"] = t2i, t_null
        return t_new, i_new, maps


class CoAttentionFusion(Fusion):
    """``params.layers`` co-attention blocks over text tokens and image patches."""

    reads_tokens = True

    def __init__(self, params: CoAttentionParams, dims: Sequence[ModalityDims], out_dim: int):
        super().__init__(params, dims, out_dim)
        names = tuple(d.name for d in self.dims)
        if names != ("text", "image"):
            raise ValueError(f"co-attention needs exactly two modalities, text then image; "
                             f"got {', '.join(names) or 'none'}")
        dim = self.dims[0].token
        if dim % params.heads:
            raise ValueError(f"co-attention heads ({params.heads}) must divide the token "
                             f"size ({dim})")
        # Attention needs one embedding size on both sides: the image side is brought to the
        # text's rather than the reverse, so the reported maps stay in word space.
        image_dim = self.dims[1].token
        self.image_in = nn.Identity() if image_dim == dim else nn.Linear(image_dim, dim)
        self.null_key = params.null_key
        self.blocks = nn.ModuleList(_CoAttentionBlock(dim, params.heads, params.null_key)
                                    for _ in range(params.layers))
        self.out = nn.Linear(2 * dim, out_dim)

    def forward(self, mods: Sequence[ModalityFeatures]) -> FusionOutput:
        text, image = mods
        present = presence_matrix(mods) > 0  # (B, 2)
        t_keys = text.mask.bool() & present[:, :1]
        i_keys = image.mask.bool() & present[:, 1:]
        t, i = text.tokens, self.image_in(image.tokens)
        for block in self.blocks:
            t, i, maps = block(t, i, t_keys, i_keys)
        if not self.null_key:
            maps = {k: v for k, v in maps.items() if "_null" not in k}
        # masked_mean of an absent side (no keys) is zero: it adds nothing to z.
        pooled = torch.cat([masked_mean(t, t_keys), masked_mean(i, i_keys)], dim=-1)
        return FusionOutput(self.out(pooled), maps, {"text": t, "image": i})

    def pair_logits(self, text: ModalityFeatures, image: ModalityFeatures) -> Tensor:
        """(Bt, Bi, H, L, P): the first block's text -> image attention logits of every
        caption against every image, per head, before the softmax over patches (-inf where
        a patch is masked). Its queries and keys are the encoders' own tokens, so caption k
        against image j is what ``forward`` would compute for that pair: with one block
        (the default), the softmax of [k, k] averaged over heads is the drawn heatmap. With
        ``null_key`` the null key's logit (the same for every image) is one more key, last:
        P + 1 keys, of which the drawn heatmap shows the first P."""
        attn = self.blocks[0].text_from_image.attn
        heads = attn.num_heads
        size = attn.embed_dim // heads
        w_q, w_k, _ = attn.in_proj_weight.chunk(3)
        b_q, b_k, _ = attn.in_proj_bias.chunk(3)
        t, i = text.tokens, self.image_in(image.tokens)
        q = F.linear(t, w_q, b_q).view(len(t), t.shape[1], heads, size) / math.sqrt(size)
        k = F.linear(i, w_k, b_k).view(len(i), i.shape[1], heads, size)
        logits = torch.einsum("tlhd,iphd->tihlp", q, k)
        masked = ~image.mask.bool()[None, :, None, None, :]
        logits = logits.masked_fill(masked, float("-inf"))
        if attn.bias_k is None:
            return logits
        null = torch.einsum("tlhd,hd->thl", q, attn.bias_k.view(heads, size))
        null = null[:, None, :, :, None].expand(-1, len(i), -1, -1, 1)
        return torch.cat([logits, null], dim=-1)
