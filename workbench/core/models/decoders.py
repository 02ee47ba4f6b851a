"""Decoders from a code vector back to a modality (autoencoder reconstruction, adversarial
generator). Text: bag-of-words logits (or feature vectors); images: pixels in [0, 1]."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.info import DataInfo
from .blocks import mlp


class ImageDecoder(nn.Module):
    """A code -> a small grid -> transposed convolutions doubling it up to ``image_size``."""

    def __init__(self, code_dim: int, image_size: int, *, channels: int = 64):
        super().__init__()
        self.size = image_size
        ups = 0
        while image_size % (2 ** (ups + 1)) == 0 and image_size // 2 ** (ups + 1) >= 4 \
                and ups < 3:
            ups += 1
        self.grid = image_size // 2 ** ups
        self.channels = channels
        self.fc = nn.Sequential(nn.Linear(code_dim, channels * self.grid ** 2), nn.ReLU())
        layers: list[nn.Module] = []
        c = channels
        for _ in range(ups):
            layers += [nn.ConvTranspose2d(c, max(c // 2, 16), 4, stride=2, padding=1), nn.ReLU()]
            c = max(c // 2, 16)
        layers.append(nn.Conv2d(c, 3, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, code: Tensor) -> Tensor:
        x = self.fc(code).view(-1, self.channels, self.grid, self.grid)
        logits = self.net(x)
        if logits.shape[-1] != self.size:
            logits = F.interpolate(logits, size=(self.size, self.size), mode="bilinear",
                                   align_corners=False)
        return logits  # pixel logits; sigmoid gives [0, 1]


def text_decoder(code_dim: int, info: DataInfo, hidden: int) -> nn.Module:
    """Bag-of-words logits (vocabulary-sized) or a feature vector."""
    out = info.vocab_size if info.text_is_tokens else info.text_dim
    return mlp([code_dim, hidden, out])


def image_decoder(code_dim: int, info: DataInfo, hidden: int) -> nn.Module:
    if info.image_is_pixels:
        return ImageDecoder(code_dim, info.image_size)
    return mlp([code_dim, hidden, info.image_dim])
