"""Image augmentation for training batches: random horizontal flips and small shifts.

Done on the batch tensor (vectorised, on the training device), so it costs next to nothing
and never touches the stored uint8 images. Validation and test batches are never augmented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def augment_images(images: Tensor, generator: torch.Generator, *, max_shift: int | None = None
                   ) -> Tensor:
    """Flip each image left-right with probability 1/2 and shift it by up to ``max_shift``
    pixels (default: 1/16 of its size) each way, filling with white."""
    b, _, s, _ = images.shape
    flip = torch.rand(b, generator=generator) < 0.5
    images = torch.where(flip.to(images.device)[:, None, None, None], images.flip(-1), images)
    shift = max(1, s // 16) if max_shift is None else max_shift
    if shift <= 0:
        return images
    padded = F.pad(images, (shift, shift, shift, shift), value=1.0)
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=generator).to(images.device)
    ar = torch.arange(s, device=images.device)
    rows = (dy[:, None] + ar)[:, :, None]  # (B, S, 1)
    cols = (dx[:, None] + ar)[:, None, :]  # (B, 1, S)
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()
