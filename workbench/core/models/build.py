"""Choosing the encoder for each modality from what the data holds."""

from __future__ import annotations

from torch import nn

from ..config import ModelConfig
from ..data.info import DataInfo
from .encoders import FeatureEncoder, ImageEncoder, PretrainedTextEncoder, TextEncoder


def text_encoder(model: ModelConfig, info: DataInfo, *, tokens: bool = True) -> nn.Module:
    """``tokens``: whether the fusion reads the caption's token sequence (a pretrained text
    model's word pieces cost a projection per piece: made only then)."""
    if info.text_is_tokens:
        return TextEncoder(info.vocab_size, info.max_tokens, model.embed_dim, model.hidden_dim,
                           self_attention=model.text_self_attention, dropout=model.dropout)
    if info.text_states:
        return PretrainedTextEncoder(info.text_dim, model.embed_dim, model.hidden_dim,
                                     self_attention=model.text_self_attention,
                                     dropout=model.dropout, word_pieces=tokens)
    return FeatureEncoder("text", info.text_dim, model.embed_dim, model.hidden_dim,
                          dropout=model.dropout)


def image_encoder(model: ModelConfig, info: DataInfo) -> nn.Module:
    if info.image_is_pixels:
        return ImageEncoder(info.image_size, model.embed_dim, model.hidden_dim,
                            kind=model.image_encoder, patch_size=model.patch_size,
                            dropout=model.dropout)
    return FeatureEncoder("image", info.image_dim, model.embed_dim, model.hidden_dim,
                          dropout=model.dropout)
