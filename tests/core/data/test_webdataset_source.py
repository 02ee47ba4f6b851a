"""WebDataset shards (issue 18): tar files written with webdataset's TarWriter, read into
memory as the other sources are, and every bad input in both modes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from data_helpers import CAPTIONS, LABELS, SIZE, encoded
from fixtures import make_image_folder, tiny_config
from workbench.core import config as C
from workbench.core.config import DataConfig
from workbench.core.data import DataError, detect, load_pairs
from workbench.core.data import images as images_module
from workbench.core.data.cache import ImageCache
from workbench.core.data.sources import SHARDED

wds = pytest.importorskip("webdataset")

MODES = pytest.mark.parametrize("mode", ["fail", "skip"])


def write_tar(path: Path, samples: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wds.TarWriter(str(path)) as sink:
        for sample in samples:
            sink.write(sample)
    return path


@pytest.fixture(scope="module")
def shards(pictures, tmp_path_factory) -> Path:
    """Two shards of three samples: captions in .txt in the first and in a .json in the
    second, labels as .cls class names."""
    folder = tmp_path_factory.mktemp("shards")
    images = encoded(pictures)
    for s in range(2):
        samples = []
        for i in range(3 * s, 3 * s + 3):
            sample = {"__key__": f"{i:06d}", "png": images[i], "cls": LABELS[i]}
            if s == 0:
                sample["txt"] = CAPTIONS[i]
            else:
                sample["json"] = {"caption": CAPTIONS[i], "width": 12}
            samples.append(sample)
        write_tar(folder / f"data-{s:06d}.tar", samples)
    return folder


def load(source, mode="fail", **kw):
    return load_pairs(DataConfig(source=str(source), on_error=mode, **kw), SIZE)


def test_shards_load_as_their_csv_twin(pictures, shards):
    table = load(shards)
    twin = load(pictures / "pairs.csv")
    assert table.kind == "webdataset" and len(table) == 6 and table.skipped == []
    assert table.captions == CAPTIONS
    assert table.label_column == "cls" and table.label_names == ["cool", "warm"]
    assert [table.label_names[k] for k in table.labels] == LABELS
    np.testing.assert_array_equal(table.images, twin.images)  # decoded as files are
    assert table.original_sizes.tolist() == twin.original_sizes.tolist()
    assert table.extras["sample"][3] == "data-000001.tar, key 000003"
    src = SHARDED["webdataset"](DataConfig(source=str(shards)))
    assert [src.count(s) for s in src.shards] == [3, 3] and src.total() == 6  # headers only
    first = next(src.samples(src.shards[0], lambda where, reason: None))
    assert (first.key, first.caption, first.label) == ("000000", CAPTIONS[0], LABELS[0])
    assert first.image == encoded(pictures)[0]


def test_a_brace_pattern_and_detection(shards, tmp_path):
    pattern = str(shards / "data-{000000..000001}.tar")
    assert detect(pattern) == "webdataset"
    assert detect(str(shards)) == "webdataset"
    assert detect(str(shards / "data-000000.tar")) == "webdataset"
    assert load(pattern).captions == CAPTIONS
    assert load(shards / "data-000001.tar").captions == CAPTIONS[3:]
    nothing = str(tmp_path / "none-{000000..000009}.tar")
    for mode in ("fail", "skip"):
        with pytest.raises(DataError, match=r"the pattern matches no shard \(none of its 10"):
            load(nothing, mode)
    with pytest.raises(DataError, match="only shards on this machine"):
        load("https://example.org/data-{000000..000001}.tar")


@MODES
def test_a_pattern_naming_a_missing_shard(shards, mode):
    pattern = str(shards / "data-{000000..000002}.tar")
    if mode == "fail":
        with pytest.raises(DataError, match="data-000002.tar: shard not found"):
            load(pattern, mode)
    else:
        table = load(pattern, mode)
        assert len(table) == 6 and [str(p) for p in table.skipped] == [
            "data-000002.tar: shard not found (named by the pattern)"]


def test_labels_are_optional_and_column_overrides(pictures, tmp_path):
    images = encoded(pictures)
    write_tar(tmp_path / "a.tar", [{"__key__": f"k{i}", "webp": images[i], "jpg": images[i],
                                    "txt": "ignored", "alt": CAPTIONS[i]} for i in range(3)])
    table = load(tmp_path / "a.tar", image_column="jpg", text_column="alt")
    assert table.captions == CAPTIONS[:3] and table.labels is None
    write_tar(tmp_path / "b.tar", [{"__key__": f"k{i}", "png": images[i], "txt": CAPTIONS[i],
                                    **({"cls": 1} if i else {})} for i in range(3)])
    table = load(tmp_path / "b.tar", "skip")
    assert [str(p) for p in table.skipped] == ["b.tar, key k0: no label in column 'cls'"]
    assert load(tmp_path / "b.tar", label_column="none").labels is None


def test_class_indices_named_by_classnames_txt(pictures, tmp_path):
    """clip_benchmark's layout: ``.cls`` holds an index into ``classnames.txt``."""
    images = encoded(pictures)
    write_tar(tmp_path / "s" / "data-0.tar", [
        {"__key__": f"k{i}", "png": images[i], "txt": CAPTIONS[i], "cls": i % 3}
        for i in range(4)] + [{"__key__": "k9", "png": images[4], "txt": "x", "cls": 7}])
    (tmp_path / "s" / "classnames.txt").write_text("cat\ndog\nbird\n")
    table = load(tmp_path / "s", "skip")
    assert [table.label_names[k] for k in table.labels] == ["cat", "dog", "bird", "cat"]
    assert [str(p) for p in table.skipped] == [
        "data-0.tar, key k9: its .cls '7' is not a class index of classnames.txt (3 names)"]


@MODES
def test_bad_samples(pictures, tmp_path, mode):
    """An image without caption and the reverse, an undecodable image, a .json that is not
    JSON or has no caption: each names its shard and key."""
    images = encoded(pictures)
    write_tar(tmp_path / "s" / "data-0.tar", [
        {"__key__": "a", "png": images[0], "txt": CAPTIONS[0]},
        {"__key__": "b", "png": images[1]},
        {"__key__": "c", "txt": CAPTIONS[2]},
        {"__key__": "d", "png": b"\x89PNG not really", "txt": CAPTIONS[3]},
        {"__key__": "e", "png": images[4], "json": b"{not json"},
        {"__key__": "f", "png": images[5], "json": {"title": "no caption here"}},
        {"__key__": "g", "png": images[5], "txt": CAPTIONS[5]}])
    expected = [
        "data-0.tar, key b: an image but no caption (.txt, or .json with a caption field); "
        "it has .png",
        "data-0.tar, key c: a caption but no image (.jpg .jpeg .png .webp); it has .txt",
        "data-0.tar, key d: not an image Pillow can read (empty, corrupt or another kind of "
        "file)",
        "data-0.tar, key e: its .json is not valid JSON",
        "data-0.tar, key f: an image but no caption (.txt, or .json with a caption field); "
        "it has .json, .png"]
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(tmp_path / "s", mode)
        assert "5 bad rows" in str(info.value)
        assert [str(p) for p in info.value.problems] == expected
    else:
        table = load(tmp_path / "s", mode)
        assert table.captions == [CAPTIONS[0], CAPTIONS[5]]
        assert [str(p) for p in table.skipped] == expected


@MODES
def test_truncated_and_corrupt_shards(pictures, tmp_path, mode):
    images = encoded(pictures)
    write_tar(tmp_path / "s" / "data-0.tar", [
        {"__key__": f"{i}", "png": images[i], "txt": CAPTIONS[i]} for i in range(3)])
    torn = write_tar(tmp_path / "s" / "data-1.tar", [
        {"__key__": f"{i}", "png": images[i] * 30, "txt": CAPTIONS[i]} for i in range(3, 6)])
    data = torn.read_bytes()
    torn.write_bytes(data[: len(data) // 2])
    (tmp_path / "s" / "data-2.tar").write_bytes(b"this is not a tar file " * 40)
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(tmp_path / "s", mode)
        problems = [str(p) for p in info.value.problems]
    else:
        table = load(tmp_path / "s", mode)
        assert table.captions[:3] == CAPTIONS[:3] and 3 <= len(table) < 6
        problems = [str(p) for p in table.skipped]
    assert len(problems) == 2
    assert problems[0].startswith("data-1.tar: corrupt or truncated shard, cannot be read "
                                  "after ")
    assert problems[1].startswith("data-2.tar: corrupt or truncated shard, cannot be read (")


def test_without_webdataset_the_error_says_what_to_install(shards, monkeypatch):
    monkeypatch.setitem(sys.modules, "webdataset.tariterators", None)
    with pytest.raises(DataError) as info:
        load(shards)
    assert 'pip install "multimodal-workbench[formats]"' in str(info.value)
    assert "webdataset" in str(info.value)


def test_encoded_images_decode_in_processes_and_from_the_cache(shards, tmp_path,
                                                               monkeypatch):
    """Many small images decode in worker processes: bytes reach them through a shared
    file. A second load takes them from the cache, keyed by shard and key."""
    expected = load(shards)
    from workbench.core.data import decode_processes
    used = []
    real = decode_processes.decode_in_processes
    monkeypatch.setattr(decode_processes, "decode_in_processes",
                        lambda *a, **k: used.append(a[0]) or real(*a, **k))
    monkeypatch.setattr(images_module, "PROCESSES_MIN_IMAGES", 2)
    monkeypatch.setattr(images_module, "default_workers", lambda: 2)
    cache = ImageCache(tmp_path / "cache")
    cfg = DataConfig(source=str(shards))
    first = load_pairs(cfg, SIZE, cache=cache)
    assert len(used) == 1 and isinstance(used[0][0], bytes)
    np.testing.assert_array_equal(first.images, expected.images)
    second = load_pairs(cfg, SIZE, cache=cache)
    assert (first.cache_hits, second.cache_hits) == (0, 6) and len(used) == 1
    np.testing.assert_array_equal(second.images, expected.images)


def test_inspect_and_train(tmp_path, capsys):
    """The shapes folder as WebDataset shards: ``workbench data inspect`` reports it and
    ``workbench train`` trains a tiny contrastive model on it."""
    from workbench.cli import main
    shapes = make_image_folder(tmp_path / "shapes", n_per_class=3)
    rows = [json.loads(line) for line in (shapes / "metadata.jsonl").read_text().splitlines()]
    for s in range(2):
        write_tar(tmp_path / "shards" / f"shapes-{s}.tar", [
            {"__key__": f"{i:04d}", "png": (shapes / r["file_name"]).read_bytes(),
             "txt": r["text"], "cls": r["label"]}
            for i, r in enumerate(rows) if i % 2 == s])
    assert main(["data", "inspect", str(tmp_path / "shards"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "webdataset" and report["pairs"] == 12
    assert report["labels"] == {"blue": 3, "green": 3, "red": 3, "yellow": 3}
    preset = C.save(tiny_config(str(tmp_path / "shards" / "shapes-{0..1}.tar")),
                    tmp_path / "tiny.toml")
    code = main(["train", str(preset), "--out", str(tmp_path / "run"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "mean_recall" in json.loads(captured.out)["metrics"]


# ---------------------------------------------------------------- found by the fuzz
# (test_fuzz_shards.py)

@pytest.mark.parametrize("cls", ["\u00b2", "1" * 5000])
def test_a_class_index_int_cannot_read_is_a_bad_sample(pictures, tmp_path, cls):
    """A .cls that str.isdigit() accepts and int() refuses (a superscript two; thousands of
    digits) raised ValueError inside the shard's reading: the whole shard was reported as
    corrupt and the samples after it were lost."""
    images = encoded(pictures)
    write_tar(tmp_path / "s" / "data-0.tar", [
        {"__key__": "k0", "png": images[0], "txt": CAPTIONS[0], "cls": cls},
        {"__key__": "k1", "png": images[1], "txt": CAPTIONS[1], "cls": "1"}])
    (tmp_path / "s" / "classnames.txt").write_text("cat\ndog\n")
    table = load(tmp_path / "s", "skip")
    assert table.captions == [CAPTIONS[1]]
    assert [str(p) for p in table.skipped] == [
        f"data-0.tar, key k0: its .cls {cls!r} is not a class index of classnames.txt "
        "(2 names)"]


def test_counting_from_plain_headers_agrees_with_tarfile(tmp_path):
    """Shards with plain ustar headers are counted by reading the headers directly; any
    other shard (PAX headers here: long names, fractional times) by tarfile. Both count the
    same samples, and a cut shard is not counted by the fast reader."""
    import io
    import tarfile
    from workbench.core.config import DataConfig
    from workbench.core.data.sources import webdataset as W

    def write(path: Path, fmt: int, mtime: float) -> None:
        with tarfile.open(path, "w", format=fmt) as tar:
            for i in range(7):
                for ext, data in (("png", b"\x89PNG" * 40), ("txt", f"caption {i}".encode())):
                    info = tarfile.TarInfo(f"{'sub/' * 30 if fmt == tarfile.PAX_FORMAT else ''}"
                                           f"{i:04d}.{ext}")
                    info.size, info.mtime = len(data), mtime
                    tar.addfile(info, io.BytesIO(data))

    plain, pax = tmp_path / "plain.tar", tmp_path / "pax.tar"
    write(plain, tarfile.USTAR_FORMAT, 1_700_000_000)
    write(pax, tarfile.PAX_FORMAT, 1_700_000_000.5)
    assert W._plain_member_names(plain) == [f"{i:04d}.{e}" for i in range(7) for e in ("png", "txt")]
    assert W._plain_member_names(pax) is None  # tarfile's to read
    for shard in (plain, pax):
        source = W.WebDatasetSource(DataConfig(source=str(shard)))
        assert source.count(shard) == 7
    cut = tmp_path / "cut.tar"
    cut.write_bytes(plain.read_bytes()[:2000])
    assert W._plain_member_names(cut) is None
