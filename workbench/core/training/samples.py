"""What a generator's samples look like to a person: an image, its words, or, in feature
space (an .npz's vectors, a pretrained model's features), the nearest real example.

A generated text feature vector is no sentence; the training caption whose feature vector is
closest to it by cosine says what it means. A generated image feature vector is shown as the
training image closest to it, marked as such (``GeneratedSamples.nearest``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .events import GeneratedSamples

TOP_WORDS = 4


def describe(generated: dict, dataset, epoch: int, step: int) -> GeneratedSamples:
    """The event for the generator's output ``generated`` (``images``/``bow`` or
    ``text_features``/``image_features``) over ``dataset``'s training split."""
    images = generated.get("images")
    words: list[list[str]] = []
    captions: list[str] = []
    nearest = False
    bow = generated.get("bow")
    if bow is not None and dataset.vocab is not None:
        top = bow.topk(min(TOP_WORDS, dataset.vocab_size), dim=-1).indices
        words = [[dataset.vocab.words[i] for i in row.tolist()] for row in top]
    train = dataset.indices("train")
    text = generated.get("text_features")
    if text is not None and dataset.text_features is not None and len(train):
        rows = train[_closest(text, dataset.text_features[train])]
        captions = [dataset.table.caption(int(r)) for r in rows]
    image = generated.get("image_features")
    if images is None and image is not None and dataset.images is not None and len(train):
        rows = train[_closest(image, dataset.image_features[train])]
        images = dataset.images[dataset.image_index[rows]].float() / 255.0
        nearest = True
    return GeneratedSamples(
        epoch=epoch, step=step,
        images=None if images is None else
        (images.clamp(0, 1) * 255).round().byte().cpu().numpy(),
        words=words, captions=captions, nearest=nearest)


def _closest(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """For each generated vector, the row of ``real`` with the highest cosine."""
    scores = F.normalize(generated.float().cpu(), dim=-1) @ F.normalize(real.float(), dim=-1).T
    return scores.argmax(dim=1)
