"""Training-time image augmentation: flips, shifts and shrinking, reproducible, white fill."""

from __future__ import annotations

import torch

from workbench.core.data.augment import augment_images, shrink_images


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


def test_shrink_places_a_whole_smaller_image_on_white():
    black = torch.zeros(400, 3, 32, 32)
    out = shrink_images(black, torch.Generator().manual_seed(0), 0.5)
    assert out.shape == black.shape
    ink = 1.0 - out[:, 0]  # (N, 32, 32)
    share = ink.mean((1, 2))
    # Each side shrinks by s ~ U(0.5, 1): the ink covers s^2 of the image, E[s^2] = 7/12.
    assert float(share.min()) > 0.25 - 0.03 and float(share.max()) <= 1.0
    assert abs(float(share.mean()) - 7 / 12) < 0.02
    for k in range(20):  # one solid block, never cut by the border: its rows and columns
        dark = ink[k] > 0.99
        rows, cols = dark.any(1).nonzero().flatten(), dark.any(0).nonzero().flatten()
        assert dark[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    corners = ink[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert float((corners < 0.01).float().mean()) > 0.5  # the corners mostly white
    again = shrink_images(black, torch.Generator().manual_seed(0), 0.5)
    assert torch.equal(out, again)
    assert torch.equal(shrink_images(black, torch.Generator(), 1.0), black)


def test_a_shrunk_image_keeps_its_colours():
    image = torch.ones(1, 3, 32, 32)
    image[:, 0, 8:24, 8:24] = 0.0  # a cyan square on white
    out = shrink_images(image.expand(50, -1, -1, -1), torch.Generator().manual_seed(1), 0.6)
    # Green and blue stay white everywhere; red only darkens, where the square went.
    assert torch.allclose(out[:, 1:], torch.ones_like(out[:, 1:]), atol=1e-5)
    assert float(out[:, 0].min()) < 0.01


def test_tint_multiplies_each_images_channels_alike_everywhere():
    from workbench.core.data.augment import tint_images
    g = torch.Generator().manual_seed(3)
    images = torch.ones(64, 3, 4, 4)
    images[:, :, :2] = 0.0  # top half black, bottom half white
    images[:, 0, 2, 0] = 0.5
    out = tint_images(images, g, 0.4)
    white = out[:, :, 3, 3]  # (64, 3): each image's factors
    assert float(white.min()) >= 0.6 - 1e-6 and float(white.max()) <= 1.0
    assert float(white.std(0).min()) > 0.05  # images differ, and so do channels
    assert (out[:, :, :2] == 0).all()  # black stays black
    torch.testing.assert_close(out[:, :, 2:], images[:, :, 2:] * white[:, :, None, None])
    assert tint_images(images, g, 0.0) is images


def test_drop_words_keeps_order_at_least_one_word_and_pads_the_rest():
    from workbench.core.data.augment import drop_words
    g = torch.Generator().manual_seed(0)
    tokens = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    mask = tokens > 0
    for _ in range(50):
        out, kept = drop_words(tokens, mask, 0.7, g)
        assert torch.equal(kept, out > 0)  # the mask follows the tokens
        assert kept[0].any() and kept[1].sum() == 1 and not kept[2].any()
        n = int(kept[0].sum())
        assert kept[0, :n].all() and not kept[0, n:].any()  # kept words at the front
        words = out[0, :n].tolist()
        assert words == sorted(words) and set(words) <= {5, 6, 7, 8}  # in caption order


def test_drop_words_rate_and_off():
    from workbench.core.data.augment import drop_words
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(1, 50, (2000, 8))
    mask = torch.ones_like(tokens, dtype=torch.bool)
    _, kept = drop_words(tokens, mask, 0.3, g)
    assert abs(kept.float().mean().item() - 0.7) < 0.02
    same, same_mask = drop_words(tokens, mask, 0.0, g)
    assert same is tokens and same_mask is mask


def test_unknown_words_replace_real_words_only_at_the_rate():
    from workbench.core.data.augment import unknown_words
    from workbench.core.data.text import OOV, PAD
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(2, 50, (2000, 8))
    tokens[:, 6:] = PAD
    mask = tokens != PAD
    out = unknown_words(tokens, mask, 0.2, g)
    hit = out != tokens
    assert (out[hit] == OOV).all() and not hit[~mask].any()  # padding stays padding
    assert abs(hit[mask].float().mean().item() - 0.2) < 0.02
    assert unknown_words(tokens, mask, 0.0, g) is tokens
    assert (unknown_words(tokens, mask, 1.0, g)[mask] == OOV).all()


def _train_watching_batches(folder, setting: str, look):
    """Train the tiny contrastive model with ``setting``; ``look(batch)`` for each training
    batch the model steps on. Returns the trainer and the looks."""
    from fixtures import tiny_config
    from workbench.core.data import load_dataset
    from workbench.core.training import Trainer
    from workbench.core.training.callbacks import Callback

    cfg = tiny_config(folder, setting, "algorithm.name=contrastive", "fusion.name=mean")
    seen = []

    class Spy(Callback):
        def on_fit_start(self, trainer, event):
            original = trainer.model.training_step

            def step(batch, optim):
                seen.append(look(batch))
                return original(batch, optim)
            trainer.model.training_step = step
    trainer = Trainer(cfg, load_dataset(cfg), callbacks=[Spy()])
    assert trainer.fit().status == "finished"
    return trainer, seen


def test_trainer_drops_words_of_training_batches_only(folder):
    trainer, seen = _train_watching_batches(folder, "training.drop_words=0.5",
                                            lambda b: b.mask.sum(1).float().mean().item())
    full = trainer.dataset.batch(trainer.dataset.split.train).mask.sum(1).float().mean().item()
    assert seen and sum(seen) / len(seen) < 0.85 * full


def test_trainer_shows_unknown_words_in_training_batches_only(folder):
    """The training batches hold the unknown word (and their bag of words with it); the
    stored captions, which validation reads, keep theirs."""
    from workbench.core.data.text import OOV
    trainer, seen = _train_watching_batches(
        folder, "training.unknown_words=0.5",
        lambda b: ((b.tokens[b.mask] == OOV).float().mean().item(),
                   bool((b.bow[:, OOV] > 0).any())))
    rate = sum(r for r, _ in seen) / len(seen)
    assert 0.35 < rate < 0.65 and all(bow for _, bow in seen)
    from workbench.core.data import load_dataset
    assert torch.equal(trainer.dataset.tokens, load_dataset(trainer.cfg).tokens)
