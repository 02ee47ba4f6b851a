"""Contrastive joint embedding [document 2.1]: two towers into one space, symmetric InfoNCE
with a learnable temperature (as CLIP). Retrieval is the headline metric."""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..training import distributed
from .base import Algorithm, pair_outputs
from .losses import info_nce

MAX_SCALE = 100.0  # CLIP's cap on 1 / temperature, against instability


class Contrastive(Algorithm):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.build_encoders()
        h = cfg.model.hidden_dim
        self.text_proj = nn.Linear(h, h)
        self.image_proj = nn.Linear(h, h)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / self.params.init_temperature)),
                                      requires_grad=self.params.learn_temperature)
        self.fusion = self.build_fusion(h)

    def modalities(self, batch, *, keep_weights: bool = False):
        text, image = self.encode(batch, keep_weights=keep_weights)
        t = F.normalize(self.text_proj(text.vector), dim=-1)
        i = F.normalize(self.image_proj(image.vector), dim=-1)
        return dataclasses.replace(text, vector=t), dataclasses.replace(image, vector=i)

    def forward_step(self, batch):
        text, image = self.modalities(batch)
        scale = self.log_scale.exp().clamp(max=MAX_SCALE)
        t, i, ids = text.vector, image.vector, batch.image_ids
        if self.training:
            # Under torchrun every process scores the global batch, so each caption has the
            # one-process run's negatives (no-op in one process).
            t, i, ids = distributed.gather_rows(t, i, ids)
        t2i, i2t = info_nce(t, i, scale, ids)
        fused = self.fusion([text, image])
        losses = {"loss": (t2i + i2t) / 2, "infonce_t2i": t2i, "infonce_i2t": i2t,
                  "temperature": (1.0 / scale).detach()}
        return losses, pair_outputs(batch, text.vector, image.vector, fused)
