"""Tests of the committed built-in emoji asset (assets/emoji/) and its reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.core.data import emoji_asset
from workbench.core.data.emoji_asset import EmojiAsset, load_emoji_asset


@pytest.fixture(scope="module")
def asset() -> EmojiAsset:
    return load_emoji_asset()


def test_loads_with_expected_size(asset: EmojiAsset) -> None:
    assert 1800 <= len(asset.rows) <= 1900
    assert asset.images.shape == (len(asset.rows), 3, 64, 64)
    assert asset.images.dtype == np.uint8
    assert asset.images.flags["C_CONTIGUOUS"]
    assert len(asset) == len(asset.rows)


def test_nine_groups(asset: EmojiAsset) -> None:
    groups = {row["group"] for row in asset.rows}
    assert len(groups) == 9
    assert "Component" not in groups
    assert {"Smileys & Emotion", "Flags"} <= groups


def test_rows_have_all_keys(asset: EmojiAsset) -> None:
    for row in asset.rows:
        assert set(emoji_asset.METADATA_KEYS) <= row.keys()
        assert isinstance(row["keywords"], list)
        assert row["emoji"] == "".join(chr(int(c, 16)) for c in row["codepoints"].split())


def test_no_skin_tone_variants(asset: EmojiAsset) -> None:
    tones = {chr(c) for c in range(0x1F3FB, 0x1F400)}
    assert not any(tones & set(row["emoji"]) for row in asset.rows)


def test_captions_start_with_name(asset: EmojiAsset) -> None:
    for row in asset.rows:
        assert row["caption"] and row["caption"].startswith(row["name"])
        expected = f"{row['name']}: {', '.join(row['keywords'])}" if row["keywords"] else row["name"]
        assert row["caption"] == expected
        assert row["name"].casefold() not in {k.casefold() for k in row["keywords"]}


def test_grinning_face_caption(asset: EmojiAsset) -> None:
    row = next(r for r in asset.rows if r["name"] == "grinning face")
    assert row["caption"] == "grinning face: face, grin"
    assert row["emoji"] == "\U0001F600"
    assert row["group"] == "Smileys & Emotion"


def test_images_on_white_and_not_blank(asset: EmojiAsset) -> None:
    imgs = asset.images
    corners = np.stack([imgs[:, :, 0, 0], imgs[:, :, 0, -1], imgs[:, :, -1, 0], imgs[:, :, -1, -1]], 1)
    white_corners = (corners >= 245).all(axis=(1, 2))
    assert white_corners.mean() > 0.85
    # every image has ink, and most have colour (not just grey)
    assert (imgs.reshape(len(imgs), -1).min(axis=1) < 200).all()
    spread = imgs.max(axis=1).astype(int) - imgs.min(axis=1)
    assert ((spread > 40).mean(axis=(1, 2)) > 0.05).mean() > 0.8


@pytest.mark.parametrize(
    "name, channel",  # the dominant colour channel of the emoji's ink
    [("grinning face", 0), ("red heart", 0), ("green apple", 1), ("blue heart", 2)],
)
def test_images_align_with_rows(asset: EmojiAsset, name: str, channel: int) -> None:
    index = next(i for i, r in enumerate(asset.rows) if r["name"] == name)
    pixels = asset.images[index].reshape(3, -1).astype(int)
    ink = pixels[:, pixels.min(axis=0) < 240]
    assert ink.mean(axis=1).argmax() == channel


def test_missing_files_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=emoji_asset.IMAGES_FILE):
        load_emoji_asset(tmp_path)


def test_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(emoji_asset.ASSETS_ENV_VAR, str(tmp_path))
    assert emoji_asset.emoji_asset_dir() == tmp_path / "emoji"
    with pytest.raises(FileNotFoundError, match="workbench.tools.build_emoji_assets"):
        load_emoji_asset()
