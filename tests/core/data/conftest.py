"""Fixtures shared by the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_helpers import CAPTIONS, COLORS, LABELS, save_image, write_csv, write_jsonl


@pytest.fixture
def folder_jsonl(tmp_path: Path) -> Path:
    root = tmp_path / "squares"
    for i, caption in enumerate(CAPTIONS):
        save_image(root / f"{i}.png", COLORS[i])
    write_jsonl(root / "metadata.jsonl", [
        {"file_name": f"{i}.png", "text": c, "label": lab}
        for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    return root


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> Path:
    """The six-colour squares as PNG files, and a CSV naming them (the reference load of the
    sharded sources' tests)."""
    root = tmp_path_factory.mktemp("pictures")
    for i in range(len(CAPTIONS)):
        save_image(root / f"{i}.png", COLORS[i])
    write_csv(root / "pairs.csv", ["image", "text", "label"],
              [[f"{i}.png", c, lab] for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    return root

