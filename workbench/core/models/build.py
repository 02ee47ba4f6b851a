"""Choosing the encoder for each modality from what the data holds."""

from __future__ import annotations

import math

from torch import nn

from ..config import ModelConfig
from ..data.info import DataInfo
from .encoders import (FeatureEncoder, FinetunedEncoder, ImageEncoder, PretrainedEncoder,
                       TextEncoder)


def text_encoder(model: ModelConfig, info: DataInfo, *, tokens: bool = True) -> nn.Module:
    """``tokens``: whether the fusion reads the caption's token sequence (a pretrained
    model's word pieces or patches cost a projection each: made only then)."""
    if info.text_is_tokens:
        return TextEncoder(info.vocab_size, info.max_tokens, model.embed_dim, model.hidden_dim,
                           self_attention=model.text_self_attention, dropout=model.dropout)
    if info.text_states:
        args = ("text", info.text_dim, model.embed_dim, model.hidden_dim)
        kwargs = dict(self_attention=model.text_self_attention, dropout=model.dropout,
                      states=tokens)
        if _finetuned(model, model.text_encoder):
            from ..pretrained.backbones import TextBackbone
            backbone = _opened(TextBackbone(model.text_model), model)
            return FinetunedEncoder(args[0], backbone, *args[1:], **kwargs)
        return PretrainedEncoder(*args, **kwargs)
    return FeatureEncoder("text", info.text_dim, model.embed_dim, model.hidden_dim,
                          dropout=model.dropout)


def image_encoder(model: ModelConfig, info: DataInfo, *, tokens: bool = True) -> nn.Module:
    if info.image_states:
        grid = math.isqrt(info.image_states)
        args = ("image", info.image_dim, model.embed_dim, model.hidden_dim)
        kwargs = dict(state_dim=info.image_state_dim, dropout=model.dropout, states=tokens,
                      grid=grid)
        if _finetuned(model, model.image_encoder):
            from ..pretrained.backbones import VisionBackbone
            backbone = _opened(VisionBackbone(model.image_model, grid=grid), model)
            return FinetunedEncoder(args[0], backbone, *args[1:], **kwargs)
        return PretrainedEncoder(*args, **kwargs)
    if info.image_is_pixels:
        return ImageEncoder(info.image_size, model.embed_dim, model.hidden_dim,
                            kind=model.image_encoder, patch_size=model.patch_size,
                            patch_layers=model.patch_layers, dropout=model.dropout)
    return FeatureEncoder("image", info.image_dim, model.embed_dim, model.hidden_dim,
                          dropout=model.dropout)


def _finetuned(model: ModelConfig, kind: str) -> bool:
    return kind == "pretrained" and model.pretrained_mode == "finetune"


def _opened(backbone: nn.Module, model: ModelConfig) -> nn.Module:
    """``backbone`` frozen but its last ``model.finetune_layers`` layers; its trainable
    parameters are marked so the optimiser gives them ``optimizer.pretrained_lr_scale``."""
    from ..pretrained.backbones import train_last_layers
    train_last_layers(backbone, model.finetune_layers)
    for param in backbone.parameters():
        param.pretrained = True
    return backbone
