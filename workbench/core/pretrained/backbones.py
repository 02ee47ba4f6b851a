"""Pretrained models as trainable modules (``model.pretrained_mode = finetune``): the model
runs at every step and its last ``model.finetune_layers`` layers learn, at
``optimizer.pretrained_lr_scale`` times the learning rate.

- :class:`TextBackbone`: word-piece ids and their mask -> the sentence vector (pooled as the
  frozen features are) and the word-piece states;
- :class:`VisionBackbone`: images in [0, 1] at the model's own side -> its vector and its
  patch grid (as :meth:`.image.ImageModel.encode_states`);
- :func:`train_last_layers`: freeze everything but the last layers of the model's layer stack
  (and what comes after it: final norms, poolers, projections).

At the start of training both give exactly the frozen features, so the statistics the
encoders standardise with (from the cached frozen vectors) fit them.
"""

from __future__ import annotations

import torch
from torch import nn

from .image import ImageModel, model_side, patch_grid, vision_forward
from .locate import PretrainedError
from .text import TextModel, pool


class TextBackbone(nn.Module):
    def __init__(self, name: str, *, allow_download: bool = False):
        super().__init__()
        text = TextModel(name, allow_download=allow_download)
        self.name = text.located.name
        self.model = text.model
        self.pooling, self.normalize = text.pooling, text.normalize
        self.dim = text.dim
        self.model.train()

    def forward(self, ids: torch.Tensor, mask: torch.Tensor):
        hidden = self.model(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        return pool(hidden, mask, self.pooling, self.normalize), hidden


class VisionBackbone(nn.Module):
    """A two-tower model (CLIP) keeps its vision tower only: the text tower would be dead
    weight in every checkpoint."""

    def __init__(self, name: str, *, grid: int, allow_download: bool = False):
        super().__init__()
        image = ImageModel(name, allow_download=allow_download)
        self.name = image.located.name
        self.two_tower = image.two_tower
        if self.two_tower:
            self.vision_model = image.model.vision_model
            self.visual_projection = getattr(image.model, "visual_projection", None)
        else:
            self.model = image.model
        processor = image.processor
        mean = list(getattr(processor, "image_mean", None) or (0.0, 0.0, 0.0))
        std = list(getattr(processor, "image_std", None) or (1.0, 1.0, 1.0))
        if not getattr(processor, "do_normalize", True):
            mean, std = [0.0] * 3, [1.0] * 3
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1),
                             persistent=False)
        self.side = model_side(processor)
        self.grid = grid
        self.train()

    def forward(self, images: torch.Tensor):
        pixels = (images - self.pixel_mean) / self.pixel_std
        vectors, hidden = vision_forward(self if self.two_tower else self.model,
                                         self.two_tower, pixels)
        return vectors, patch_grid(hidden, self.grid)


def layer_stack(module: nn.Module) -> tuple[str, nn.ModuleList]:
    """The model's stack of layers: its outermost ``ModuleList`` (BERT's ``encoder.layer``,
    CLIP's ``encoder.layers``, a ResNet's ``encoder.stages``, not the blocks inside one
    stage), the longest of equally deep ones."""
    stacks = [(name, m) for name, m in module.named_modules()
              if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not stacks:
        raise PretrainedError(f"{type(module).__name__}: no stack of layers found to "
                              "fine-tune; use model.pretrained_mode = frozen")
    return min(stacks, key=lambda item: (item[0].count("."), -len(item[1])))


def train_last_layers(module: nn.Module, n: int) -> int:
    """Freeze ``module`` but the last ``n`` layers of its stack and every parameter
    registered after the stack; returns the number of parameters left to train."""
    prefix, stack = layer_stack(module)
    if n > len(stack):
        raise PretrainedError(f"model.finetune_layers = {n}, and {type(module).__name__} has "
                              f"{len(stack)} layers; give at most {len(stack)}")
    first = len(stack) - n
    seen_stack = False
    trained = 0
    for name, param in module.named_parameters():
        inside = name.startswith(prefix + ".")
        if inside:
            seen_stack = True
            index = int(name[len(prefix) + 1:].split(".")[0])
            param.requires_grad_(index >= first)
        else:
            param.requires_grad_(seen_stack)  # after the stack: norms, poolers, projections
        trained += param.numel() if param.requires_grad else 0
    return trained


__all__ = ["TextBackbone", "VisionBackbone", "train_last_layers"]
