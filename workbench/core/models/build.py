"""Choosing the encoder for each modality from what the data holds."""

from __future__ import annotations

import math

from torch import nn

from ..config import ModelConfig
from ..data.info import DataInfo
from .encoders import FeatureEncoder, ImageEncoder, PretrainedEncoder, TextEncoder


def text_encoder(model: ModelConfig, info: DataInfo, *, tokens: bool = True) -> nn.Module:
    """``tokens``: whether the fusion reads the caption's token sequence (a pretrained
    model's word pieces or patches cost a projection each: made only then)."""
    if info.text_is_tokens:
        return TextEncoder(info.vocab_size, info.max_tokens, model.embed_dim, model.hidden_dim,
                           self_attention=model.text_self_attention, dropout=model.dropout)
    if info.text_states:
        return PretrainedEncoder("text", info.text_dim, model.embed_dim, model.hidden_dim,
                                 self_attention=model.text_self_attention,
                                 dropout=model.dropout, states=tokens)
    return FeatureEncoder("text", info.text_dim, model.embed_dim, model.hidden_dim,
                          dropout=model.dropout)


def image_encoder(model: ModelConfig, info: DataInfo, *, tokens: bool = True) -> nn.Module:
    if info.image_states:
        return PretrainedEncoder("image", info.image_dim, model.embed_dim, model.hidden_dim,
                                 state_dim=info.image_state_dim, dropout=model.dropout,
                                 states=tokens, grid=math.isqrt(info.image_states))
    if info.image_is_pixels:
        return ImageEncoder(info.image_size, model.embed_dim, model.hidden_dim,
                            kind=model.image_encoder, patch_size=model.patch_size,
                            dropout=model.dropout)
    return FeatureEncoder("image", info.image_dim, model.embed_dim, model.hidden_dim,
                          dropout=model.dropout)
