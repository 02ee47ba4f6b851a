"""Reader for the built-in emoji data set (``builtin:emoji``).

The asset is built by ``workbench/tools/build_emoji_assets.py`` and committed under
``assets/emoji/``: ``images.png`` is a sprite atlas of 64x64 RGB cells on white,
in row-major order, and ``metadata.jsonl`` has one JSON object per image, in the
same order. Only numpy, Pillow and the standard library are used here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Format constants, shared with the build script (it loads this file by path).
IMAGE_SIZE = 64
IMAGES_FILE = "images.png"
METADATA_FILE = "metadata.jsonl"
METADATA_KEYS = ("emoji", "codepoints", "name", "keywords", "caption", "group", "subgroup")
BUILD_COMMAND = "python -m workbench.tools.build_emoji_assets"

# In a source checkout (or an editable install) assets/ sits at the top of the repository,
# next to the package; a wheel carries it inside the package as workbench/assets (pyproject
# maps it there). WORKBENCH_ASSETS points anywhere else (a frozen app, a relocated folder).
ASSETS_ENV_VAR = "WORKBENCH_ASSETS"
_PACKAGE = Path(__file__).resolve().parents[2]


def emoji_asset_dir() -> Path:
    """The folder holding the emoji asset (``emoji/`` inside the assets folder)."""
    override = os.environ.get(ASSETS_ENV_VAR)
    if override:
        return Path(override).expanduser() / "emoji"
    inside = _PACKAGE / "assets"
    return (inside if inside.is_dir() else _PACKAGE.parent / "assets") / "emoji"


@dataclass(frozen=True)
class EmojiAsset:
    """Emoji images (uint8, shape (N, 3, 64, 64), C-contiguous) and their metadata rows."""

    images: np.ndarray
    rows: list[dict]
    root: Path

    def __len__(self) -> int:
        return len(self.rows)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"emoji asset file is missing: {path}. Rebuild it with `{BUILD_COMMAND}` "
            f"(needs the Debian packages fonts-noto-color-emoji, unicode-data, unicode-cldr-core) "
            f"or set {ASSETS_ENV_VAR} to a folder that contains emoji/{IMAGES_FILE} and "
            f"emoji/{METADATA_FILE}."
        )
    return path


def load_emoji_asset(root: Path | None = None) -> EmojiAsset:
    """Load all emoji images and metadata from ``root`` (default: :func:`emoji_asset_dir`)."""
    root = Path(root) if root is not None else emoji_asset_dir()
    images_path = _require(root / IMAGES_FILE)
    meta_path = _require(root / METADATA_FILE)

    with meta_path.open("r", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    for i, row in enumerate(rows):
        missing = [k for k in METADATA_KEYS if k not in row]
        if missing:
            raise ValueError(f"{meta_path}: row {i} lacks {missing}")

    with Image.open(images_path) as im:
        atlas = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    s, n = IMAGE_SIZE, len(rows)
    height, width = atlas.shape[:2]
    if width % s or height % s or (width // s) * (height // s) < n:
        raise ValueError(
            f"{images_path}: atlas of {width}x{height} pixels cannot hold {n} cells of {s}x{s}"
        )
    cols = width // s
    # (rows, s, cols, s, 3) -> (cells, 3, s, s); copying only the first n cells.
    cells = atlas.reshape(height // s, s, cols, s, 3).transpose(0, 2, 4, 1, 3)
    images = np.empty((n, 3, s, s), dtype=np.uint8)
    full, rest = divmod(n, cols)
    images[: full * cols] = cells[:full].reshape(full * cols, 3, s, s)
    if rest:
        images[full * cols :] = cells[full, :rest]
    return EmojiAsset(images=images, rows=rows, root=root)
