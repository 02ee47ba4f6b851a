"""Augmentation of training batches: images get random horizontal flips and small shifts,
and can be shrunk to a random size and place; captions can lose random words or have them
read as unknown.

Done on the batch tensors (vectorised, on the training device), so it costs next to nothing
and never touches the stored data. Validation and test batches are never augmented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .text import OOV


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


def shrink_images(images: Tensor, generator: torch.Generator, smallest: float) -> Tensor:
    """Shrink each image by a random factor between ``smallest`` and 1 (uniform in its side)
    and place it at a random spot, on white: the same drawing at other sizes and places,
    so a model also knows a small one off-centre. Bilinear, so a shrunk drawing keeps its
    colours."""
    b = len(images)
    if smallest >= 1.0 or b == 0:
        return images
    scale = smallest + (1.0 - smallest) * torch.rand(b, generator=generator)
    # Where the shrunk image's centre goes, in the output's [-1, 1] coordinates: anywhere it
    # stays whole.
    centre = (torch.rand(b, 2, generator=generator) * 2.0 - 1.0) * (1.0 - scale)[:, None]
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / scale
    theta[:, :, 2] = -centre / scale[:, None]
    theta = theta.to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # grid_sample fills outside the input with 0: sample the ink (1 - image) so the fill
    # is white.
    ink = F.grid_sample(1.0 - images, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return 1.0 - ink


def tint_images(images: Tensor, generator: torch.Generator, strength: float) -> Tensor:
    """Multiply each image's three channels by its own random factors in [1 - strength, 1]:
    white becomes a random light colour, black stays black. Every pixel of an image is
    tinted alike (no pixel is told apart from another), so blank background is no longer
    the same in every image: attention parked on it changes with the image."""
    if strength <= 0 or len(images) == 0:
        return images
    factors = 1.0 - strength * torch.rand(len(images), 3, 1, 1, generator=generator)
    return images * factors.to(images.device, images.dtype)


def unknown_words(tokens: Tensor, mask: Tensor, p: float, generator: torch.Generator
                  ) -> Tensor:
    """Each real token replaced by the unknown-word token (OOV) with probability ``p``.

    The vocabulary is the training captions' words, so training never shows the model an
    unknown word while validation and test captions hold many (on the built-in emoji about
    one word in four); the OOV embedding then stays as initialised, and what it
    makes of one, where it looks included, is noise. Word dropout to OOV (as in Iyyer et
    al. 2015, Bowman et al. 2016) teaches it to read "some word I do not know"."""
    if p <= 0:
        return tokens
    hit = (torch.rand(tokens.shape, generator=generator).to(tokens.device) < p) & mask
    return tokens.masked_fill(hit, OOV)


def drop_words(tokens: Tensor, mask: Tensor, p: float, generator: torch.Generator
               ) -> tuple[Tensor, Tensor]:
    """Drop each real token with probability ``p``, keeping at least one per caption, and
    move the kept ones to the front (their order kept), so a caption of several words is
    also seen as its parts. A model trained on whole captions only has never seen a short
    query such as "cat", and ranks images for it little better than chance; one trained with
    dropped words maps a single keyword near the images whose captions hold it.
    Returns the new (tokens, mask); PAD is 0."""
    if p <= 0:
        return tokens, mask
    keep = (torch.rand(tokens.shape, generator=generator).to(tokens.device) >= p) & mask
    # A caption that lost every word keeps one of them, chosen at random.
    empty = ~keep.any(dim=1) & mask.any(dim=1)
    if empty.any():
        scores = torch.rand(tokens.shape, generator=generator).to(tokens.device)
        pick = scores.masked_fill(~mask, -1.0).argmax(dim=1)
        keep[empty, pick[empty]] = True
    # A stable sort on "not kept" moves the kept tokens to the front in their order.
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    kept = torch.gather(keep, 1, order)
    return torch.gather(tokens, 1, order).masked_fill(~kept, 0), kept
