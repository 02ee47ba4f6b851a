"""Tiny datasets made the way a user would make them, for engine and GUI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from workbench.core import config as C

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220),
           "yellow": (230, 210, 30)}
SHAPES = ("square", "circle")


def make_image_folder(root: Path, n_per_class: int = 6, size: int = 16) -> Path:
    """An image folder with metadata.jsonl: coloured shapes captioned with their colour and
    shape, labelled by colour."""
    import json
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for colour, rgb in COLOURS.items():
        for i in range(n_per_class):
            shape = SHAPES[i % 2]
            im = Image.new("RGB", (size, size), (255, 255, 255))
            px = np.asarray(im).copy()
            yy, xx = np.mgrid[:size, :size]
            c = size / 2 + rng.uniform(-1, 1)
            r = size / 3
            mask = (np.abs(yy - c) < r) & (np.abs(xx - c) < r) if shape == "square" else \
                (yy - c) ** 2 + (xx - c) ** 2 < r * r
            px[mask] = rgb
            name = f"{colour}_{shape}_{i}.png"
            Image.fromarray(px).save(root / name)
            lines.append({"file_name": name, "text": f"a {colour} {shape} number {i}",
                          "label": colour})
    (root / "metadata.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return root


def make_colour_shape_folder(root: Path, n_per_class: int = 6, size: int = 16) -> Path:
    """:func:`make_image_folder` captioned "<colour> <shape>" only: two pairs of other
    colours and shapes then share no word (what the pointing game's composites need)."""
    import json
    make_image_folder(root, n_per_class, size)
    meta = root / "metadata.jsonl"
    lines = [json.loads(x) for x in meta.read_text().splitlines()]
    for line in lines:
        line["text"] = " ".join(line["text"].split()[1:3])
    meta.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return root


def make_npz(path: Path, n: int = 40, labels: bool = True) -> Path:
    rng = np.random.default_rng(1)
    y = np.arange(n) % 2
    text = rng.normal(size=(n, 12)) + y[:, None]
    image = rng.normal(size=(n, 9)) - y[:, None]
    arrays = {"text": text, "image": image}
    if labels:
        arrays["label"] = y
    np.savez(path, **arrays)
    return path


def tiny_config(source: str | Path, *overrides: str) -> C.ExperimentConfig:
    """Small, fast settings for a tiny dataset."""
    return C.apply_overrides(C.ExperimentConfig(), [
        f"data.source={source}", "preprocess.image_size=16", "model.embed_dim=16",
        "model.hidden_dim=16", "training.batch_size=8", "training.epochs=1",
        "data.val_fraction=0.25", "data.test_fraction=0.0", *overrides])


def planted_index(index):
    """A copy of a RetrievalIndex whose vectors are random unit vectors, for tests to plant
    exact matches in (so a ranking can only come out one way)."""
    import torch
    import torch.nn.functional as F

    planted = type(index).__new__(type(index))
    planted.__dict__.update(index.__dict__)
    g = torch.Generator().manual_seed(0)
    planted.image_vectors = F.normalize(torch.randn(index.image_vectors.shape, generator=g),
                                        dim=-1)
    planted.text_vectors = F.normalize(torch.randn(index.text_vectors.shape, generator=g), dim=-1)
    return planted


def resave_checkpoint(src: str | Path, dest: Path, alter_model=None, **changes) -> Path:
    """A copy of the checkpoint ``src`` at ``dest`` with its model state passed through
    ``alter_model`` (edited in place) and any other saved field replaced by ``changes``."""
    from workbench.core.training.checkpoint import load_checkpoint, save_checkpoint
    payload = load_checkpoint(src)
    if alter_model is not None:
        alter_model(payload["model"])
    fields = {"model_state": payload["model"], "optim_state": payload["optim"],
              "epoch": payload["epoch"], "step": payload["step"], "config": payload["config"],
              "info": payload["info"], "vocab": payload["vocab"], "rng": payload["rng"]}
    return save_checkpoint(dest, **{**fields, **changes})
