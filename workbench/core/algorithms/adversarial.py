"""Multimodal adversarial learning [document 3.2, 4.2].

A discriminator D and a generator G play the min-max game of 4.2,

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))],

trained in alternating steps exactly as 3.2.2: D with G fixed (``params.d_steps`` times),
then G with D fixed. Each side has its own optimiser (groups ``"d"`` and ``"g"``), so a step
of one never changes the other's parameters. Two modes (``params.mode``):

- ``generate`` (:mod:`.adversarial_generate`): G turns noise into a text/image pair; a
  matching-aware pair discriminator (GAN-CLS) also sees real images with wrong real captions
  as fake, so it must judge the pairing, not just each modality.
- ``align`` (:mod:`.adversarial_align`): adversarial cross-modal alignment (ACMR); a modality
  discriminator tells text vectors from image vectors, the encoders learn to fool it while a
  pairing loss keeps each caption next to its image. "Real"/"fake" there are the two
  modalities.

:class:`Adversarial` is the one registry entry: it builds the mode's model and hands every
call to it. The helpers below are shared by both modes.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Algorithm


def bce(logits: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of ``logits`` against one constant target (an empty batch
    gives 0, not NaN)."""
    if logits.numel() == 0:
        return logits.sum()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def mismatch_index(image_ids: Tensor | None, n: int) -> tuple[Tensor, Tensor]:
    """A wrong caption for each row: the batch rolled by one, skipping rows that show the same
    image (several captions of one COCO image). Returns ``(index, valid)``; ``valid`` is False
    for a row whose batch shows nothing else (it has no wrong caption)."""
    rows = torch.arange(n, device=image_ids.device if image_ids is not None else None)
    if n < 2:
        return rows, torch.zeros(n, dtype=torch.bool, device=rows.device)
    ids = rows if image_ids is None else image_ids
    candidates = (rows[:, None] + torch.arange(1, n, device=rows.device)) % n  # (n, n - 1)
    differs = ids[candidates] != ids[:, None]
    first = differs.int().argmax(1)  # the first True, i.e. the nearest following other image
    return candidates[rows, first], differs.any(1)


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No gradients for ``module``'s parameters inside: the other player's step back-propagates
    through it without computing (or touching) its gradients."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class Adversarial(Algorithm):
    """The registry entry: builds the mode's model (``params.mode``) and delegates to it."""

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        if self.params.mode == "align":
            from .adversarial_align import AdversarialAlign as Mode
        else:
            from .adversarial_generate import AdversarialGenerate as Mode
        self.game: Algorithm = Mode(cfg, info)

    @property
    def joint_space(self) -> bool:  # generate: D's text and image vectors share no space
        return self.game.joint_space

    def prepare(self, dataset):
        self.game.prepare(dataset)

    def forward_step(self, batch):
        return self.game.forward_step(batch)

    def training_step(self, batch, optim):
        return self.game.training_step(batch, optim)

    def optimizer_groups(self):
        return self.game.optimizer_groups()

    def modality_parameters(self):
        return self.game.modality_parameters()

    def metrics(self, outputs):
        return self.game.metrics(outputs)

    def embed(self, batch):
        return self.game.embed(batch)

    def attention(self, batch):
        return self.game.attention(batch)

    def generate(self, n, generator=None):
        return self.game.generate(n, generator)
