"""Fixtures shared by the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_helpers import CAPTIONS, COLORS, LABELS, save_image, write_jsonl


@pytest.fixture
def folder_jsonl(tmp_path: Path) -> Path:
    root = tmp_path / "squares"
    for i, caption in enumerate(CAPTIONS):
        save_image(root / f"{i}.png", COLORS[i])
    write_jsonl(root / "metadata.jsonl", [
        {"file_name": f"{i}.png", "text": c, "label": lab}
        for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    return root
