"""Helpers shared by the data-source tests: tiny images, CSV/JSON-lines writers, checks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.core.config import DataConfig, ExperimentConfig, PreprocessConfig

SIZE = 16

# Distinct, easy-to-recognise colours: a decoded image's centre pixel says which file it was.
COLORS = [(220, 20, 20), (20, 200, 20), (20, 20, 220), (200, 200, 20), (200, 20, 200),
          (20, 200, 200), (120, 60, 10), (10, 60, 120), (90, 90, 90), (250, 140, 0),
          (0, 140, 250), (140, 0, 250)]


def save_image(path: Path, color, size=(12, 10), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def centre(pixels: np.ndarray) -> tuple[int, ...]:
    """The RGB value at the middle of a (3, S, S) image."""
    return tuple(int(v) for v in pixels[:, SIZE // 2, SIZE // 2])


def near(a, b, tol=6) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a, b))


def write_csv(path: Path, header, rows, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = kwargs.pop("encoding", "utf-8")
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, **kwargs)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def experiment(source: str, **data) -> ExperimentConfig:
    return ExperimentConfig(data=DataConfig(source=source, **data),
                            preprocess=PreprocessConfig(image_size=SIZE))


CAPTIONS = ["a red square", "a green square", "a blue square", "a yellow square",
            "a magenta square", "a cyan square"]
LABELS = ["warm", "cool", "cool", "warm", "warm", "cool"]


def check_image_pairs(table, n=len(CAPTIONS), labels=True):
    """The common expectations on a table loaded from the six-colour fixtures below."""
    assert len(table) == n
    assert table.skipped == []
    assert table.captions == CAPTIONS[:n]
    assert table.tokens[0] == ["a", "red", "square"]
    assert table.images.shape == (n, 3, SIZE, SIZE) and table.images.dtype == np.uint8
    assert table.image_index.tolist() == list(range(n))
    for i in range(n):
        assert near(centre(table.images[table.image_index[i]]), COLORS[i])
    assert table.original_sizes.tolist() == [[12, 10]] * n
    assert table.text_features is None and table.image_features is None
    if labels:
        assert table.label_names == ["cool", "warm"]
        assert [table.label_names[k] for k in table.labels] == LABELS[:n]
        assert table.label_counts() == {"cool": 3, "warm": 3}
    else:
        assert table.labels is None and table.label_names == [] and not table.has_labels


def check_dataset(ds, n=len(CAPTIONS), classes=2):
    assert len(ds) == n
    sizes = ds.split.sizes()
    assert sum(sizes.values()) == n and sizes["train"] >= 1
    assert ds.num_classes == classes
    assert ds.image_size == SIZE
    assert ds.vocab is not None and ds.vocab.words[:2] == ["<pad>", "<unk>"]
    batch = next(ds.batches("train", 4))
    assert batch.images.shape[1:] == (3, SIZE, SIZE)


def encoded(pictures: Path) -> list[bytes]:
    """The ``pictures`` fixture's PNG files, as bytes (what shards store)."""
    return [(pictures / f"{i}.png").read_bytes() for i in range(len(CAPTIONS))]
