"""Training-time image augmentation: flips and shifts, reproducible, white fill."""

from __future__ import annotations

import torch

from workbench.core.data.augment import augment_images


def test_flip_only_gives_the_image_or_its_mirror():
    images = torch.rand(64, 3, 8, 8)
    out = augment_images(images, torch.Generator().manual_seed(0), max_shift=0)
    same = (out == images).flatten(1).all(1)
    mirrored = (out == images.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all()
    assert 10 < int(mirrored.sum()) < 54  # about half are flipped


def test_shift_fills_with_white_and_keeps_the_content():
    image = torch.zeros(1, 3, 16, 16)
    image[:, :, 6:10, 6:10] = 0.5  # a grey square on black
    seen = set()
    for seed in range(20):
        out = augment_images(image, torch.Generator().manual_seed(seed), max_shift=2)
        assert out.shape == image.shape
        grey = (out[0, 0] == 0.5).nonzero()
        assert len(grey) == 16  # the square is intact, only moved
        seen.add(tuple(grey.min(0).values.tolist()))
        assert set(out.unique().tolist()) <= {0.0, 0.5, 1.0}  # white enters only at edges
    assert len(seen) > 3


def test_same_generator_state_same_augmentation():
    images = torch.rand(8, 3, 12, 12)
    a = augment_images(images, torch.Generator().manual_seed(5))
    b = augment_images(images, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
