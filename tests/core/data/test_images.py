"""Image decoding (every Pillow mode to RGB uint8, letterboxed), size limits, the on-disk
cache and parallel decoding."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.config import DataConfig
from workbench.core.data import cache as cache_module
from workbench.core.data import images, load_pairs
from workbench.core.data.cache import ImageCache
from workbench.core.data.images import ImageProblem, decode_image, decode_many

S = 16
WHITE = (255, 255, 255)


def px(pixels: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in pixels[:, y, x])


def near(a, b, tol=3) -> bool:
    return all(abs(int(u) - int(v)) <= tol for u, v in zip(a, b))


def decode(path: Path, size: int = S):
    d = decode_image(path, size)
    assert d.pixels.shape == (3, size, size) and d.pixels.dtype == np.uint8
    return d


# ---------------------------------------------------------------- modes

def test_grayscale(tmp_path: Path):
    Image.new("L", (S, S), 100).save(tmp_path / "g.png")
    d = decode(tmp_path / "g.png")
    assert (d.pixels == 100).all()
    assert d.original_size == (S, S)


def test_one_bit(tmp_path: Path):
    im = Image.new("1", (S, S), 0)
    im.paste(1, (0, 0, S // 2, S))
    im.save(tmp_path / "b.png")
    d = decode(tmp_path / "b.png")
    assert px(d.pixels, 0, 0) == WHITE and px(d.pixels, S - 1, 0) == (0, 0, 0)


def test_rgba_transparent_becomes_white(tmp_path: Path):
    im = Image.new("RGBA", (S, S), (0, 0, 255, 0))  # fully transparent *blue*
    im.paste((200, 10, 10, 255), (0, 0, S // 2, S // 2))  # opaque red quarter
    im.paste((0, 0, 0, 128), (S // 2, S // 2, S, S))  # half-transparent black quarter
    im.save(tmp_path / "rgba.png")
    d = decode(tmp_path / "rgba.png")
    assert px(d.pixels, 1, 1) == (200, 10, 10)
    assert px(d.pixels, S - 1, 0) == WHITE  # not blue, not black
    assert px(d.pixels, 0, S - 1) == WHITE
    assert near(px(d.pixels, S - 1, S - 1), (127, 127, 127), tol=2)


def test_la_transparent_becomes_white(tmp_path: Path):
    im = Image.new("LA", (S, S), (0, 0))
    im.paste((50, 255), (0, 0, S // 2, S))
    im.save(tmp_path / "la.png")
    d = decode(tmp_path / "la.png")
    assert px(d.pixels, 0, 0) == (50, 50, 50) and px(d.pixels, S - 1, 0) == WHITE


def palette_image() -> Image.Image:
    im = Image.new("P", (S, S), 0)
    im.putpalette([200, 10, 10, 10, 200, 10, 10, 10, 200] + [0, 0, 0] * 253)
    im.paste(1, (S // 2, 0, S, S // 2))
    im.paste(2, (0, S // 2, S // 2, S))
    return im


def test_palette_without_transparency(tmp_path: Path):
    palette_image().save(tmp_path / "p.png")
    with Image.open(tmp_path / "p.png") as check:
        assert check.mode == "P" and "transparency" not in check.info
    d = decode(tmp_path / "p.png")
    assert px(d.pixels, 0, 0) == (200, 10, 10)
    assert px(d.pixels, S - 1, 0) == (10, 200, 10)
    assert px(d.pixels, 0, S - 1) == (10, 10, 200)
    assert px(d.pixels, S - 1, S - 1) == (200, 10, 10)


def test_palette_with_transparent_index(tmp_path: Path):
    palette_image().save(tmp_path / "pt.png", transparency=1)
    d = decode(tmp_path / "pt.png")
    assert px(d.pixels, 0, 0) == (200, 10, 10)
    assert px(d.pixels, S - 1, 0) == WHITE  # index 1 is transparent: white, not green
    assert px(d.pixels, 0, S - 1) == (10, 10, 200)


def test_palette_with_alpha_per_index(tmp_path: Path):
    palette_image().save(tmp_path / "pa.png", transparency=bytes([255, 0, 128]))
    d = decode(tmp_path / "pa.png")
    assert px(d.pixels, 0, 0) == (200, 10, 10)
    assert px(d.pixels, S - 1, 0) == WHITE
    assert near(px(d.pixels, 0, S - 1), (132, 132, 227), tol=2)  # blue at alpha 128 on white


def test_palette_gif_with_transparency(tmp_path: Path):
    palette_image().save(tmp_path / "p.gif", transparency=2)
    d = decode(tmp_path / "p.gif")
    assert px(d.pixels, 0, 0) == (200, 10, 10) and px(d.pixels, 0, S - 1) == WHITE


def test_sixteen_bit_grayscale(tmp_path: Path):
    ramp = np.linspace(1000, 60000, S * S).reshape(S, S).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as check:
        assert check.mode.startswith("I")
    d = decode(tmp_path / "deep.png")
    grey = d.pixels[0].astype(int)
    assert (d.pixels[0] == d.pixels[1]).all() and (d.pixels[0] == d.pixels[2]).all()
    # The image's own range spread over 0..255, order kept: not all white, not all black.
    assert grey.min() == 0 and grey.max() == 255
    assert (np.diff(grey.ravel()) >= 0).all()
    assert 100 < grey.mean() < 155


def test_sixteen_bit_small_values_are_not_black(tmp_path: Path):
    # A 12-bit sensor image stored in 16 bits: values 0..4095.
    ramp = np.linspace(0, 4095, S * S).reshape(S, S).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "twelve.png")
    d = decode(tmp_path / "twelve.png")
    assert d.pixels.max() == 255 and d.pixels.min() == 0


def test_cmyk_jpeg(tmp_path: Path):
    Image.new("CMYK", (S, S), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    d = decode(tmp_path / "c.jpg")
    r, g, b = px(d.pixels, S // 2, S // 2)
    assert r > 200 and g < 60 and b < 60


def test_exif_orientation_is_applied(tmp_path: Path):
    im = Image.new("RGB", (20, 10), (20, 20, 220))
    im.paste((220, 20, 20), (0, 0, 10, 10))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    d = decode(tmp_path / "rot.jpg", 20)
    assert d.original_size == (20, 10)  # as stored
    # Shown upright: 10 wide, 20 tall, the red half on top, white margins left and right.
    assert near(px(d.pixels, 10, 3), (220, 20, 20), tol=20)
    assert near(px(d.pixels, 10, 16), (20, 20, 220), tol=20)
    assert px(d.pixels, 1, 10) == WHITE and px(d.pixels, 18, 10) == WHITE


# ---------------------------------------------------------------- shapes

def test_one_by_one(tmp_path: Path):
    Image.new("RGB", (1, 1), (10, 120, 230)).save(tmp_path / "dot.png")
    d = decode(tmp_path / "dot.png")
    assert d.original_size == (1, 1)
    assert (d.pixels.reshape(3, -1).T == (10, 120, 230)).all()


@pytest.mark.parametrize("size", [(10000, 10), (10, 10000)])
def test_extreme_aspect_ratio(tmp_path: Path, size):
    Image.new("RGB", size, (0, 0, 0)).save(tmp_path / "strip.png")
    d = decode(tmp_path / "strip.png")
    assert d.original_size == size
    dark = d.pixels.max(axis=0) < 50
    # One line of the strip across the middle of a white square.
    assert dark.sum() == S
    if size[0] > size[1]:
        assert dark[S // 2 - 1].all() or dark[S // 2].all()
    else:
        assert dark[:, S // 2 - 1].all() or dark[:, S // 2].all()
    assert (d.pixels[:, 0, 0] == 255).all() and (d.pixels[:, -1, -1] == 255).all()


def test_wide_image_letterboxed_keeps_aspect(tmp_path: Path):
    Image.new("RGB", (32, 16), (200, 10, 10)).save(tmp_path / "wide.png")
    d = decode(tmp_path / "wide.png")
    red = (d.pixels[0] > 150) & (d.pixels[1] < 60)
    rows = np.flatnonzero(red.any(axis=1))
    assert red.sum() == S * S // 2 and rows.tolist() == list(range(4, 12))


def test_downscale_and_upscale(tmp_path: Path):
    Image.new("RGB", (300, 300), (30, 60, 90)).save(tmp_path / "big.jpg", quality=95)
    d = decode(tmp_path / "big.jpg")
    assert near(px(d.pixels, S // 2, S // 2), (30, 60, 90), tol=4)
    assert d.original_size == (300, 300)  # the JPEG draft mode must not change it


# ---------------------------------------------------------------- size limits

def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` (1-bit) but carries almost no pixel data:
    enough for Pillow to read the header, an error if anything tried to decode it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def test_png_header_only_is_readable_but_undecodable(tmp_path: Path):
    (tmp_path / "small.png").write_bytes(png_header_only(300, 300))
    with Image.open(tmp_path / "small.png") as im:
        assert im.size == (300, 300)
    with pytest.raises(ImageProblem, match="truncated"):
        decode_image(tmp_path / "small.png", S)


@pytest.mark.parametrize("width, height", [(9000, 9000), (20000, 20000), (100000, 100000)])
def test_huge_declared_size_refused_before_decoding(tmp_path: Path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(width, height))
    with pytest.raises(ImageProblem) as info:
        decode_image(path, S)
    msg = str(info.value)
    assert "64,000,000" in msg and "decompression bomb" in msg
    assert "truncated" not in msg and "corrupt" not in msg  # refused, not half-decoded
    if width * height < Image.MAX_IMAGE_PIXELS:
        assert f"{width}x{height}" in msg


def test_max_pixels_is_the_limit(tmp_path: Path, monkeypatch):
    Image.new("RGB", (40, 40), (1, 2, 3)).save(tmp_path / "a.png")
    Image.new("RGB", (20, 20), (1, 2, 3)).save(tmp_path / "b.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ImageProblem, match="image is 40x40 pixels, more than the 1,000 allowed"):
        decode_image(tmp_path / "a.png", S)
    assert decode_image(tmp_path / "b.png", S).original_size == (20, 20)


def test_huge_image_in_a_dataset_is_a_row_problem(tmp_path: Path):
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "ok.png")
    (tmp_path / "bomb.png").write_bytes(png_header_only(20000, 20000))
    (tmp_path / "pairs.csv").write_text("image,caption\nok.png,fine\nbomb.png,too big\n")
    table = load_pairs(DataConfig(source=str(tmp_path / "pairs.csv"), on_error="skip"), S)
    assert len(table) == 1 and table.skipped[0].row == 3
    assert "bomb.png" in table.skipped[0].reason and "64,000,000" in table.skipped[0].reason


# ---------------------------------------------------------------- the cache

COLORS = [(220, 20, 20), (20, 200, 20), (20, 20, 220), (200, 200, 20), (200, 20, 200),
          (20, 200, 200)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "pics"
    root.mkdir()
    for i, color in enumerate(COLORS):
        Image.new("RGB", (12 + i, 10), color).save(root / f"{i}.png")
    return root


def paths_of(folder: Path) -> list[Path]:
    return [folder / f"{i}.png" for i in range(len(COLORS))]


@pytest.fixture
def decoded_paths(monkeypatch) -> list[Path]:
    """The files the cache actually hands to the decoder."""
    seen: list[Path] = []
    real = cache_module.decode_many

    def spy(paths, size, **kw):
        seen.extend(Path(p) for p in paths)
        return real(paths, size, **kw)

    monkeypatch.setattr(cache_module, "decode_many", spy)
    return seen


def bump_mtime(path: Path, seconds: float = 5.0) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + int(seconds * 1e9)))


def test_second_decode_comes_from_the_cache(tmp_path: Path, folder: Path, decoded_paths):
    cache = ImageCache(root=tmp_path / "cache")
    first = cache.decode(paths_of(folder), S, source=folder)
    assert first.hits == 0 and first.problems == {}
    assert cache.file_for(folder, S).is_file()
    assert len(decoded_paths) == len(COLORS)
    decoded_paths.clear()

    second = ImageCache(root=tmp_path / "cache").decode(paths_of(folder), S, source=folder)
    assert second.hits == len(COLORS) and decoded_paths == []
    np.testing.assert_array_equal(second.pixels, first.pixels)
    np.testing.assert_array_equal(second.sizes, first.sizes)
    assert second.sizes[:, 0].tolist() == [12, 13, 14, 15, 16, 17]

    # Another image size is another cache file: nothing to reuse.
    other = cache.decode(paths_of(folder), 8, source=folder)
    assert other.hits == 0 and other.pixels.shape == (6, 3, 8, 8)
    # A subset, reordered, is still served from the cache.
    part = cache.decode(paths_of(folder)[::-2], S, source=folder)
    assert part.hits == 3
    np.testing.assert_array_equal(part.pixels, first.pixels[::-2])


def test_changed_file_is_decoded_again_alone(tmp_path: Path, folder: Path, decoded_paths):
    cache = ImageCache(root=tmp_path / "cache")
    first = cache.decode(paths_of(folder), S, source=folder)
    Image.new("RGB", (12, 10), (5, 5, 5)).save(folder / "2.png")  # new bytes
    bump_mtime(folder / "2.png")  # and a new time, even on a coarse file system
    decoded_paths.clear()
    again = cache.decode(paths_of(folder), S, source=folder)
    assert again.hits == len(COLORS) - 1
    assert decoded_paths == [folder / "2.png"]
    assert px(again.pixels[2], S // 2, S // 2) == (5, 5, 5)
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(again.pixels[keep], first.pixels[keep])
    assert again.sizes[2].tolist() == [12, 10]
    # ... and the new version is what is cached now.
    decoded_paths.clear()
    third = cache.decode(paths_of(folder), S, source=folder)
    assert third.hits == len(COLORS) and decoded_paths == []
    assert px(third.pixels[2], S // 2, S // 2) == (5, 5, 5)


def test_touched_file_is_decoded_again(tmp_path: Path, folder: Path, decoded_paths):
    cache = ImageCache(root=tmp_path / "cache")
    cache.decode(paths_of(folder), S, source=folder)
    bump_mtime(folder / "4.png")
    decoded_paths.clear()
    again = cache.decode(paths_of(folder), S, source=folder)
    assert again.hits == len(COLORS) - 1 and decoded_paths == [folder / "4.png"]


def pixel_file(cache: ImageCache, source: Path) -> Path:
    """The one pixel file beside the cache's index for ``source``."""
    index = cache.file_for(source, S)
    found = list(index.parent.glob(f"{index.stem}.*.npy"))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-shape",
                                    "pixels-missing", "pixels-truncated", "pixels-garbage",
                                    "names-another-file", "old-format"])
def test_corrupt_cache_file_is_ignored_and_rebuilt(tmp_path: Path, folder: Path, damage):
    cache = ImageCache(root=tmp_path / "cache")
    first = cache.decode(paths_of(folder), S, source=folder)
    file = cache.file_for(folder, S)
    pixels = pixel_file(cache, folder)
    data = file.read_bytes()
    if damage == "garbage":
        file.write_bytes(b"this is not an npz file at all" * 10)
    elif damage == "truncated":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        file.write_bytes(b"")
    elif damage == "other-shape":
        np.save(pixels, np.zeros((6, 3, 8, 8), np.uint8))
    elif damage == "pixels-missing":
        pixels.unlink()
    elif damage == "pixels-truncated":
        pixels.write_bytes(pixels.read_bytes()[:200])
    elif damage == "pixels-garbage":
        pixels.write_bytes(b"not numpy" * 100)
    elif damage == "names-another-file":
        with np.load(file) as z:
            fields = dict(z)
        fields["pixels"] = np.array("../elsewhere.npy")
        np.savez(file, **fields)
    else:  # the format before pixels moved to their own file
        np.savez(file, format=np.int64(1), pixels=np.asarray(first.pixels),
                 sizes=first.sizes, keys=np.array([str(p) for p in paths_of(folder)]),
                 stats=np.zeros((6, 2), np.int64))
    again = cache.decode(paths_of(folder), S, source=folder)
    assert again.hits == 0 and again.problems == {}
    np.testing.assert_array_equal(again.pixels, first.pixels)
    rebuilt = cache.decode(paths_of(folder), S, source=folder)
    assert rebuilt.hits == len(COLORS)
    np.testing.assert_array_equal(rebuilt.pixels, first.pixels)


def test_added_and_removed_files_are_noticed(tmp_path: Path, folder: Path, decoded_paths):
    cache = ImageCache(root=tmp_path / "cache")
    first = cache.decode(paths_of(folder), S, source=folder)
    Image.new("RGB", (9, 9), (1, 2, 3)).save(folder / "new.png")
    decoded_paths.clear()
    grown = cache.decode(paths_of(folder) + [folder / "new.png"], S, source=folder)
    assert grown.hits == len(COLORS) and decoded_paths == [folder / "new.png"]
    assert px(grown.pixels[-1], S // 2, S // 2) == (1, 2, 3)
    np.testing.assert_array_equal(grown.pixels[:-1], first.pixels)

    (folder / "3.png").unlink()
    decoded_paths.clear()
    shrunk = cache.decode(paths_of(folder) + [folder / "new.png"], S, source=folder)
    assert list(shrunk.problems) == [3] and "not found" in shrunk.problems[3]
    assert shrunk.hits == len(COLORS) and decoded_paths == [folder / "3.png"]
    # A file that comes back with other bytes under the old name is decoded, not reused.
    Image.new("RGB", (12, 10), (9, 9, 9)).save(folder / "3.png")
    bump_mtime(folder / "3.png")
    back = cache.decode(paths_of(folder), S, source=folder)
    assert back.hits == len(COLORS) - 1 and px(back.pixels[3], S // 2, S // 2) == (9, 9, 9)


def test_cached_pixels_are_a_private_memory_map(tmp_path: Path, folder: Path):
    """A full, in-order hit hands out the cache file's mapping (no copy in memory); writing
    into it works as on any array and never reaches the file or the next load."""
    cache = ImageCache(root=tmp_path / "cache")
    first = cache.decode(paths_of(folder), S, source=folder)
    second = cache.decode(paths_of(folder), S, source=folder)
    assert second.hits == len(COLORS)
    assert type(second.pixels) is np.ndarray and not second.pixels.flags.owndata
    assert second.pixels.flags.writeable
    base = second.pixels
    while getattr(base, "base", None) is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)
    second.pixels[:] = 7
    third = cache.decode(paths_of(folder), S, source=folder)
    np.testing.assert_array_equal(third.pixels, first.pixels)
    # A partial or reordered hit gathers into an ordinary array.
    part = cache.decode(paths_of(folder)[::-1], S, source=folder)
    assert part.pixels.flags.owndata
    np.testing.assert_array_equal(part.pixels, first.pixels[::-1])


def test_rewriting_the_cache_leaves_a_mapped_array_whole(tmp_path: Path, folder: Path):
    cache = ImageCache(root=tmp_path / "cache")
    first = cache.decode(paths_of(folder), S, source=folder)
    mapped = cache.decode(paths_of(folder), S, source=folder).pixels
    old_file = pixel_file(cache, folder)
    Image.new("RGB", (12, 10), (5, 5, 5)).save(folder / "0.png")
    bump_mtime(folder / "0.png")
    again = cache.decode(paths_of(folder), S, source=folder)  # writes a new pixel file
    assert px(again.pixels[0], S // 2, S // 2) == (5, 5, 5)
    np.testing.assert_array_equal(mapped, first.pixels)  # the old mapping is untouched
    new_file = pixel_file(cache, folder)  # and only the new pixel file is left
    assert new_file != old_file
    reread = cache.decode(paths_of(folder), S, source=folder)
    assert reread.hits == len(COLORS) and px(reread.pixels[0], S // 2, S // 2) == (5, 5, 5)


def test_bad_images_are_not_cached(tmp_path: Path, folder: Path):
    (folder / "bad.png").write_text("not a png")
    paths = paths_of(folder) + [folder / "bad.png", folder / "missing.png"]
    cache = ImageCache(root=tmp_path / "cache")
    first = cache.decode(paths, S, source=folder)
    assert sorted(first.problems) == [6, 7]
    assert "not an image" in first.problems[6] and "not found" in first.problems[7]
    again = cache.decode(paths, S, source=folder)
    assert again.hits == len(COLORS) and again.problems == first.problems


def test_disabled_cache_writes_nothing(tmp_path: Path, folder: Path, monkeypatch):
    off = ImageCache(root=tmp_path / "off", enabled=False)
    off.decode(paths_of(folder), S, source=folder)
    assert off.decode(paths_of(folder), S, source=folder).hits == 0
    assert not (tmp_path / "off").exists()
    monkeypatch.setenv("WORKBENCH_NO_CACHE", "1")
    assert not ImageCache(root=tmp_path / "env").enabled


def test_load_pairs_uses_the_cache_under_workbench_home(folder: Path):
    import json
    with open(folder / "metadata.jsonl", "w") as fh:
        for i in range(len(COLORS)):
            fh.write(json.dumps({"file_name": f"{i}.png", "text": f"colour number {i}"}) + "\n")
    cfg = DataConfig(source=str(folder))
    first = load_pairs(cfg, S)
    assert first.cache_hits == 0
    home = Path(os.environ["WORKBENCH_HOME"])
    assert list((home / "cache" / "images").glob("*.npz"))
    second = load_pairs(cfg, S)
    assert second.cache_hits == len(COLORS)
    np.testing.assert_array_equal(second.images, first.images)
    assert second.tokens == first.tokens == [["colour", "number", str(i)]
                                             for i in range(len(COLORS))]


def test_dataset_batches_from_the_mapped_cache(folder: Path):
    """The second load's images are the cache file's mapping; the dataset gathers batches
    from it without torch's non-writable-array warning and without writing to the file."""
    import json
    import warnings

    import torch

    from workbench.core.config import PreprocessConfig
    from workbench.core.data.dataset import build_dataset
    (folder / "metadata.jsonl").write_text("".join(
        json.dumps({"file_name": f"{i}.png", "text": f"colour number {i}"}) + "\n"
        for i in range(len(COLORS))))
    cfg = DataConfig(source=str(folder))
    first = load_pairs(cfg, S)
    second = load_pairs(cfg, S)
    assert second.cache_hits == len(COLORS) and not second.images.flags.owndata
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = build_dataset(second, PreprocessConfig(image_size=S), val_fraction=0.0,
                           test_fraction=0.0, seed=0)
        batch = ds.batch(torch.tensor([4, 1, 1]))
    expected = torch.from_numpy(first.images[[4, 1, 1]]).float() / 255.0
    assert torch.equal(batch.images, expected)
    assert torch.equal(batch.image_ids, torch.tensor([4, 1, 1]))


# ---------------------------------------------------------------- parallel decoding

def test_parallel_decode_matches_serial(tmp_path: Path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(70):
        w, h = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        path = tmp_path / f"{i:03d}.{'jpg' if i % 3 == 0 else 'png'}"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    (tmp_path / "bad.png").write_bytes(b"")
    paths.insert(33, tmp_path / "bad.png")
    reports = []
    one = decode_many(paths, S, workers=1)
    two = decode_many(paths, S, workers=2, progress=lambda d, n: reports.append((d, n)))
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    assert one[2] == two[2] and list(two[2]) == [33]
    assert (one[0][33] == 0).all()
    assert reports[-1] == (71, 71)
    with Image.open(paths[0]) as im:
        assert one[1][0].tolist() == list(im.size)


def test_flat_16bit_image_keeps_its_level(tmp_path: Path):
    path = tmp_path / "flat16.png"
    Image.fromarray(np.full((6, 6), 32768, dtype=np.uint16)).save(path)
    pixels = decode_image(path, 4).pixels
    assert np.all(np.abs(pixels.astype(int) - 128) <= 1)


def test_two_sources_in_one_folder_keep_separate_caches(tmp_path: Path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    paths = []
    for i in range(4):
        p = folder / f"{i}.png"
        Image.new("RGB", (8, 8), (60 * i, 0, 0)).save(p)
        paths.append(p)
    cache = ImageCache(root=tmp_path / "cache")
    cache.decode(paths[:2], 8, source=folder / "a.csv")
    cache.decode(paths[2:], 8, source=folder / "b.csv")
    assert cache.decode(paths[:2], 8, source=folder / "a.csv").hits == 2
    assert cache.decode(paths[2:], 8, source=folder / "b.csv").hits == 2
