"""Tiny image models of the families the workbench reads (ViT, DINOv2, CLIP's vision tower,
ResNet), built from small configs and saved with ``save_pretrained`` as a user's folder would
be, with their image processors on the PIL backend: real loading code in tests, no download."""

from __future__ import annotations

from pathlib import Path

SIZE = 32  # the processors' input side


def tiny_vit(folder: Path) -> Path:
    from transformers import ViTConfig, ViTModel
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=37, image_size=SIZE, patch_size=8)
             ).save_pretrained(folder)
    ViTImageProcessorPil(size={"height": SIZE, "width": SIZE}).save_pretrained(folder)
    return folder


def tiny_dinov2(folder: Path) -> Path:
    """DINOv2 with registers: tokens between its CLS and its patches."""
    from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil
    Dinov2WithRegistersModel(Dinov2WithRegistersConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
        image_size=SIZE, patch_size=4, num_register_tokens=2)).save_pretrained(folder)
    BitImageProcessorPil(size={"shortest_edge": SIZE},
                         crop_size={"height": SIZE, "width": SIZE}).save_pretrained(folder)
    return folder


def tiny_clip(folder: Path) -> Path:
    """Both towers and the tokenizer (:func:`two_tower.tiny_clip`)."""
    from two_tower import tiny_clip as make
    return make(folder)


def tiny_resnet(folder: Path) -> Path:
    from transformers import ResNetConfig, ResNetModel
    from transformers.models.convnext.image_processing_pil_convnext import (
        ConvNextImageProcessorPil)
    ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                             layer_type="basic")).save_pretrained(folder)
    ConvNextImageProcessorPil(size={"shortest_edge": SIZE}, crop_pct=1.0
                              ).save_pretrained(folder)
    return folder


FAMILIES = {"vit": tiny_vit, "dinov2": tiny_dinov2, "clip": tiny_clip, "resnet": tiny_resnet}
