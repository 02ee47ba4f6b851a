"""Encoders: each turns one modality of a :class:`Batch` into :class:`ModalityFeatures`.

Text tokens -> token features (+ optional self-attention) and a pooled vector; image pixels ->
a grid of patch features (small CNN or patch embedding) and a pooled vector; precomputed
feature vectors (from an .npz) -> an MLP, with the vector as a single "token"; a frozen
pretrained model's features -> an MLP over its vector and its token states (word pieces,
image patches) projected to tokens.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..data.dataset import Batch
from .blocks import SelfAttentionBlock, masked_mean, mlp
from .features import ModalityDims, ModalityFeatures


class TextEncoder(nn.Module):
    """Word embeddings and positions, optional self-attention, masked-mean pooling."""

    def __init__(self, vocab_size: int, max_tokens: int, embed_dim: int, hidden_dim: int, *,
                 self_attention: bool = True, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        # Small initial vectors (as BERT/GPT): with the default N(0, 1) a word seen once in
        # training keeps a large random vector that swamps the mean of a short caption
        # (measured on emoji: 0.79 -> 0.83 text-only accuracy).
        nn.init.normal_(self.embed.weight, std=0.02)
        with torch.no_grad():
            self.embed.weight[0].zero_()
        self.pos = nn.Parameter(torch.randn(max_tokens, embed_dim) * 0.02)
        self.drop = nn.Dropout(dropout)
        self.block = SelfAttentionBlock(embed_dim, dropout=dropout) if self_attention else None
        self.pool = nn.Linear(embed_dim, hidden_dim)
        self.dims = ModalityDims("text", hidden_dim, embed_dim, vocab_size)

    def forward(self, batch: Batch, *, keep_weights: bool = False,
                hidden: tuple[Tensor, Tensor] | None = None) -> ModalityFeatures:
        """``hidden`` = (where (B, L) bool, vector (E,)): the words at ``where`` are read as
        ``vector`` instead of their embeddings (masked-word prediction hides them so); their
        positions stay."""
        tokens, mask = batch.tokens, batch.mask
        words = self.embed(tokens)
        if hidden is not None:
            where, vector = hidden
            words = torch.where(where[..., None], vector.to(words.dtype), words)
        x = self.drop(words + self.pos[: tokens.shape[1]])
        if self.block is not None:
            x = self.block(x, mask, keep_weights=keep_weights)
        vector = self.pool(masked_mean(x, mask))
        return ModalityFeatures("text", vector, x, mask, batch.bow)


class ImageEncoder(nn.Module):
    """A small CNN (pooling until the grid is at most 8x8) or a ViT-style patch embedding.

    The CNN's 3x3 convolutions widen what each grid cell sees (15 of 32 pixels at the
    default size): a blank cell beside a drawing knows the drawing. A patch embedding's
    cells see only their own patch, however many ``patch_layers`` (per-patch GELU + linear
    layers, as 1x1 convolutions) it has."""

    def __init__(self, image_size: int, embed_dim: int, hidden_dim: int, *, kind: str = "cnn",
                 patch_size: int = 8, patch_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        if kind == "cnn":
            # Strided convolutions (no pooling, no per-layer norm): on a laptop CPU this is
            # about 3x faster than conv + max-pool + GroupNorm at the same grid size, and a
            # LayerNorm on the patch features keeps training stable.
            stages = max(1, math.ceil(math.log2(image_size / 8)))
            chans = [3] + [min(32 * 2 ** i, 128) for i in range(stages)]
            layers: list[nn.Module] = []
            for a, b in zip(chans[:-1], chans[1:]):
                layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU()]
            layers += [nn.Conv2d(chans[-1], embed_dim, 3, padding=1)]
            self.features = nn.Sequential(*layers)
            self.grid = _strided_size(image_size, stages)
        else:
            if image_size % patch_size:
                raise ValueError(f"patch_size {patch_size} must divide image_size {image_size}")
            layers = [nn.Conv2d(3, embed_dim, patch_size, stride=patch_size)]
            for _ in range(patch_layers - 1):
                layers += [nn.GELU(), nn.Conv2d(embed_dim, embed_dim, 1)]
            self.features = layers[0] if len(layers) == 1 else nn.Sequential(*layers)
            self.grid = image_size // patch_size
        self.pos = nn.Parameter(torch.randn(self.grid * self.grid, embed_dim) * 0.02)
        self.norm = nn.LayerNorm(embed_dim)
        self.drop = nn.Dropout(dropout)
        self.pool = nn.Linear(embed_dim, hidden_dim)
        self.dims = ModalityDims("image", hidden_dim, embed_dim, 3 * image_size * image_size)

    def forward(self, batch: Batch) -> ModalityFeatures:
        images = batch.images
        # Centre the pixels: images arrive in [0, 1], mostly white for emoji.
        grid = self.features(images * 2.0 - 1.0)  # (B, E, g, g)
        x = self.drop(self.norm(grid.flatten(2).transpose(1, 2) + self.pos))  # (B, P, E)
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return ModalityFeatures("image", self.pool(x.mean(1)), x, mask, images.flatten(1))


def _strided_size(size: int, stages: int) -> int:
    for _ in range(stages):  # a 3x3 convolution, stride 2, padding 1
        size = (size - 1) // 2 + 1
    return size


class FeatureEncoder(nn.Module):
    """An MLP over precomputed feature vectors, standardised with training-split statistics."""

    def __init__(self, name: str, in_dim: int, embed_dim: int, hidden_dim: int, *,
                 dropout: float = 0.0):
        super().__init__()
        self.name = name
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.net = mlp([in_dim, hidden_dim, hidden_dim], dropout=dropout)
        self.token = nn.Linear(in_dim, embed_dim)
        self.dims = ModalityDims(name, hidden_dim, embed_dim, in_dim)

    def set_stats(self, features: Tensor) -> None:
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0, unbiased=False).clamp(min=1e-6))

    def forward(self, batch: Batch) -> ModalityFeatures:
        raw = batch.text_features if self.name == "text" else batch.image_features
        x = (raw - self.mean) / self.std
        mask = torch.ones(x.shape[0], 1, dtype=torch.bool, device=x.device)
        return ModalityFeatures(self.name, self.net(x), self.token(x).unsqueeze(1), mask, x)


class PretrainedEncoder(nn.Module):
    """A frozen pretrained model's features under trained layers, for either modality: its
    vector (a caption's sentence vector, an image's embedding; standardised with
    training-split statistics, as :class:`FeatureEncoder`) through an MLP gives the pooled
    vector. With ``states`` (a fusion that reads tokens: co-attention) its token states
    (word pieces; patches, ``grid`` x ``grid``), layer-normalised, projected to ``embed_dim``
    and, for text, through optional self-attention, are the tokens; without, they are
    neither read nor given layers that nothing would train (the tokens are then an empty
    sequence)."""

    def __init__(self, name: str, in_dim: int, embed_dim: int, hidden_dim: int, *,
                 state_dim: int | None = None, self_attention: bool = False,
                 dropout: float = 0.0, states: bool = True, grid: int = 0):
        super().__init__()
        self.name = name
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.net = mlp([in_dim, hidden_dim, hidden_dim], dropout=dropout)
        self.makes_tokens = states
        self.reads_states = states  # whether batches must carry the cached states
        self.embed_dim = embed_dim
        self.grid = grid if states else 0  # the Attention tab's patch grid (images)
        self.block = None
        if states:
            state_dim = state_dim or in_dim
            self.state_norm = nn.LayerNorm(state_dim)
            self.piece = nn.Linear(state_dim, embed_dim)
            self.drop = nn.Dropout(dropout)
            if self_attention:
                self.block = SelfAttentionBlock(embed_dim, dropout=dropout)
        self.dims = ModalityDims(name, hidden_dim, embed_dim, in_dim)

    def set_stats(self, features: Tensor) -> None:
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0, unbiased=False).clamp(min=1e-6))

    def forward(self, batch: Batch, *, keep_weights: bool = False) -> ModalityFeatures:
        text = self.name == "text"
        vector = batch.text_features if text else batch.image_features
        states = None
        if self.makes_tokens:
            states = batch.text_states if text else batch.image_states
        return self._head(vector, states, batch.mask if text else None, keep_weights)

    def _head(self, vector: Tensor, states: Tensor | None, mask: Tensor | None,
              keep_weights: bool) -> ModalityFeatures:
        """The trained layers over a vector (B, in_dim) and, when tokens are made, its
        states (B, L, state_dim) with their ``mask`` (None: all real)."""
        x = (vector - self.mean) / self.std
        if not self.makes_tokens:
            tokens = x.new_zeros(x.shape[0], 0, self.embed_dim)
            mask = torch.zeros(x.shape[0], 0, dtype=torch.bool, device=x.device)
            return ModalityFeatures(self.name, self.net(x), tokens, mask, x)
        if mask is None:
            mask = torch.ones(states.shape[:2], dtype=torch.bool, device=x.device)
        tokens = self.drop(self.piece(self.state_norm(states)))
        if self.block is not None:
            tokens = self.block(tokens, mask, keep_weights=keep_weights)
        return ModalityFeatures(self.name, self.net(x), tokens, mask, x)


class FinetunedEncoder(PretrainedEncoder):
    """:class:`PretrainedEncoder` over a pretrained model that trains
    (``model.pretrained_mode = finetune``): its vector and states come from ``backbone``
    (:mod:`..pretrained.backbones`) at every step, from the caption's word pieces or the
    image's pixels, instead of from the cache. The standardising statistics are the frozen
    vectors', which the backbone gives exactly before it has trained."""

    def __init__(self, name: str, backbone: nn.Module, in_dim: int, embed_dim: int,
                 hidden_dim: int, **kwargs):
        super().__init__(name, in_dim, embed_dim, hidden_dim, **kwargs)
        self.backbone = backbone
        self.reads_states = False  # made here, not read from the cache

    def forward(self, batch: Batch, *, keep_weights: bool = False) -> ModalityFeatures:
        if self.name == "text":
            vector, states = self.backbone(batch.piece_ids, batch.mask)
            return self._head(vector, states, batch.mask, keep_weights)
        vector, states = self.backbone(batch.images)
        return self._head(vector, states, None, keep_weights)
