"""A data set's captions and images as feature vectors, written as the ``.npz`` the workbench
reads (``text``, ``image``, ``label``, ``caption``): the inputs of the document's section 5,
for any algorithm and fusion (``workbench features extract``).

Each side is one of:

- text: ``bow``, the counts of each word of the training split's vocabulary (the split and
  vocabulary a run of the same config would make; words it lacks count as one
  out-of-vocabulary column), or a pretrained text model (:class:`.text.TextModel`);
- image: ``pixels``, the image at ``preprocess.image_size`` flattened to [0, 1], or a
  pretrained image model (:class:`.image.ImageModel`), which reads the image at its own input
  size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import ExperimentConfig
from ..errors import DataError

Progress = Callable[[str, int, int], None]
BOW, PIXELS = "bow", "pixels"


@dataclass
class Extracted:
    """The arrays written, and what made them (``about``: each side's model and the seconds
    it took)."""

    arrays: dict[str, np.ndarray]
    about: dict = field(default_factory=dict)


def extract(cfg: ExperimentConfig, *, text_model: str = BOW, image_model: str = PIXELS,
            device: str = "cpu", batch_size: int = 64,
            progress: Progress | None = None) -> Extracted:
    """Features of the pairs ``cfg.data`` names (see the module for each side)."""
    from ..data import dataset_for, load_pairs

    image = None if image_model == PIXELS else _image_model(image_model, device)
    size = cfg.preprocess.image_size if image is None else image.input_size
    table = load_pairs(cfg.data, size, progress=progress)
    if table.tokens is None or table.images is None:
        raise DataError(f"{cfg.data.source}: its pairs are already feature vectors (an .npz); "
                        "features are extracted from captions and images")
    about: dict = {"pairs": len(table), "source": cfg.data.source}
    t0 = time.perf_counter()
    if text_model == BOW:
        text = _bag_of_words(dataset_for(cfg, table))
        about["text"] = {"model": BOW, "dim": int(text.shape[1])}
    else:
        from .text import TextModel
        model = TextModel(text_model, device)
        text = model.encode(table.captions, batch_size=batch_size, progress=progress)
        about["text"] = {"model": model.located.name, "from": model.located.source,
                         "dim": model.dim}
    about["text"]["seconds"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    if image is None:
        pixels = table.images.reshape(len(table.images), -1).astype(np.float32) / 255.0
        vectors = pixels
        about["image"] = {"model": PIXELS, "size": size}
    else:
        vectors = image.encode(table.images, batch_size=max(1, batch_size // 2),
                               progress=progress)
        about["image"] = {"model": image.located.name, "from": image.located.source,
                          "size": size}
    about["image"].update(dim=int(vectors.shape[1]),
                          seconds=round(time.perf_counter() - t0, 3))
    arrays = {"text": text, "image": vectors[table.image_index],
              "caption": np.array(table.captions, dtype=str)}
    if table.labels is not None:
        arrays["label"] = np.array([table.label_names[c] for c in table.labels], dtype=str)
    return Extracted(arrays, about)


def write(path: str | Path, extracted: Extracted) -> Path:
    """The arrays as an ``.npz`` (written atomically)."""
    from ..atomic import atomic_write

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **extracted.arrays)
    return atomic_write(Path(path), save)


def _image_model(name: str, device: str):
    from .image import ImageModel
    return ImageModel(name, device)


def _bag_of_words(dataset) -> np.ndarray:
    """(N, V) word counts over the dataset's vocabulary (built on its training split); the
    padding column is dropped."""
    vocab = dataset.vocab
    counts = np.zeros((len(dataset), len(vocab)), dtype=np.float32)
    for row, words in enumerate(dataset.table.tokens):
        np.add.at(counts[row], vocab.encode(words), 1.0)
    return counts[:, 1:]  # column 0 is padding, never a word
