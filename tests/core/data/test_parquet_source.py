"""Parquet and Arrow sources (issue 18): Hugging Face files written by ``datasets`` and by
pyarrow, read into memory as the other sources are, and every bad input in both modes."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from data_helpers import CAPTIONS, COLORS, LABELS, SIZE, encoded, save_image
from fixtures import make_image_folder, tiny_config
from workbench.core.config import DataConfig
from workbench.core.data import DataError, detect, load_dataset, load_pairs
from workbench.core.data.cache import ImageCache
from workbench.core.data.quick_look import quick_look
from workbench.core.data.sources import SHARDED

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

MODES = pytest.mark.parametrize("mode", ["fail", "skip"])
NAMES = ["cool", "warm"]  # the ClassLabel's names: LABELS as integers index them


def hf_datasets():
    """The ``datasets`` library (the test extra has it; only the tests of its own files
    skip without it)."""
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    return datasets


def hf_dataset(pictures: Path):
    """The pairs as a Hugging Face dataset: an Image column, text, a ClassLabel."""
    datasets = hf_datasets()
    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=NAMES)})
    return datasets.Dataset.from_dict(
        {"image": [{"bytes": b, "path": None} for b in encoded(pictures)], "text": CAPTIONS,
         "label": [NAMES.index(lab) for lab in LABELS]}, features=features)


@pytest.fixture(scope="module")
def hf_parquet(pictures, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hf") / "train.parquet"
    hf_dataset(pictures).to_parquet(str(path))
    return path


def write_shards(folder: Path, columns: dict, *, sizes=(4, 2), names=("part-9", "part-10"),
                 metadata=None) -> Path:
    """``columns`` split over Parquet shards written by pyarrow (rows in shard order)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    start = 0
    for name, n in zip(names, sizes):
        pq.write_table(table.slice(start, n), folder / f"{name}.parquet")
        start += n
    return folder


def load(source, mode="fail", **kw):
    return load_pairs(DataConfig(source=str(source), on_error=mode, **kw), SIZE)


def test_a_hugging_face_parquet_file_loads_as_its_csv_twin(pictures, hf_parquet):
    table = load(hf_parquet)
    twin = load(pictures / "pairs.csv")
    assert table.kind == "parquet" and len(table) == 6 and table.skipped == []
    assert table.captions == CAPTIONS
    assert table.label_column == "label" and table.label_names == NAMES  # ClassLabel names
    assert [table.label_names[k] for k in table.labels] == LABELS
    np.testing.assert_array_equal(table.images, twin.images)  # decoded as files are
    assert table.original_sizes.tolist() == twin.original_sizes.tolist()
    assert table.image_paths is None and table.rows == [1, 2, 3, 4, 5, 6]
    assert table.extras["sample"][4] == "train.parquet, row 5"
    src = SHARDED["parquet"](DataConfig(source=str(hf_parquet)))
    assert src.count(hf_parquet) == 6 and src.total() == 6  # from the footer
    samples = list(src.samples(hf_parquet, report=lambda where, reason: None))
    assert samples[0].caption == CAPTIONS[0] and samples[0].label == LABELS[0]
    assert samples[0].image == encoded(pictures)[0] and samples[0].key == "train:1"


def test_a_folder_of_pyarrow_shards_in_number_order(pictures, tmp_path):
    """Raw binary images, string labels, an explicit key column; part-9 before part-10."""
    folder = write_shards(tmp_path / "shards", {
        "__key__": [f"k{i}" for i in range(6)], "jpg": encoded(pictures),
        "caption": CAPTIONS, "category": LABELS})
    table = load(folder)
    assert table.captions == CAPTIONS and table.label_column == "category"
    assert table.label_names == ["cool", "warm"]
    np.testing.assert_array_equal(table.images, load(pictures / "pairs.csv").images)
    assert table.extras["sample"][4] == "part-10.parquet, row 1"
    src = SHARDED["parquet"](DataConfig(source=str(folder)))
    assert [p.name for p in src.shards] == ["part-9.parquet", "part-10.parquet"]
    assert [src.count(s) for s in src.shards] == [4, 2]
    assert next(src.samples(src.shards[1], lambda w, r: None)).key == "k4"


def test_a_save_to_disk_folder_and_a_dataset_dict(pictures, tmp_path):
    ds = hf_dataset(pictures)
    ds.save_to_disk(str(tmp_path / "saved"))
    datasets = hf_datasets()
    table = load(tmp_path / "saved")
    assert detect(str(tmp_path / "saved")) == "parquet"
    assert table.captions == CAPTIONS and table.label_names == NAMES
    assert [table.label_names[k] for k in table.labels] == LABELS
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(DataError, match="give one split's folder") as info:
        load(tmp_path / "dict")
    assert str(tmp_path / "dict" / "train") in str(info.value)
    assert len(load(tmp_path / "dict" / "train")) == 6


def test_image_paths_relative_to_the_file_and_column_overrides(pictures, tmp_path):
    """Images kept as files (a path string, or Hugging Face's struct holding only a path);
    columns named by the data.*_column settings; several captions of one image share it."""
    write_shards(tmp_path / "data", {
        "picture": [f"../pictures/{i}.png" for i in range(2)],
        "blurb": [[CAPTIONS[0], "another red one"], [CAPTIONS[1]]]}, sizes=(2,),
        names=("paths",))
    with pytest.raises(DataError, match="leaves the dataset folder"):
        load(tmp_path / "data", image_column="picture", text_column="blurb")
    for i in range(2):
        save_image(tmp_path / "data" / "img" / f"{i}.png", COLORS[i])
    write_shards(tmp_path / "data", {
        "picture": [{"bytes": None, "path": f"img/{i}.png"} for i in range(2)],
        "blurb": [[CAPTIONS[0], "another red one"], [CAPTIONS[1]]],
        "label": ["a", "b"]}, sizes=(2,), names=("paths",))
    table = load(tmp_path / "data", image_column="picture", text_column="blurb",
                 label_column="none")
    assert table.captions == [CAPTIONS[0], "another red one", CAPTIONS[1]]
    assert table.image_index.tolist() == [0, 0, 1] and table.labels is None
    assert table.extras["sample"][1] == "paths.parquet, row 1, caption 2"


def test_detection(tmp_path, hf_parquet):
    assert detect(str(hf_parquet)) == "parquet"
    assert detect(str(hf_parquet.parent)) == "parquet"  # a folder of .parquet files
    (tmp_path / "hub" / "data").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), tmp_path / "hub" / "data" / "train-0.parquet")
    assert detect(str(tmp_path / "hub")) == "parquet"  # the Hub's layout
    make_image_folder(tmp_path / "imgs", n_per_class=1)
    pq.write_table(pa.table({"x": [1]}), tmp_path / "imgs" / "extra.parquet")
    assert detect(str(tmp_path / "imgs")) == "imagefolder"  # metadata.jsonl decides


@MODES
def test_captions_and_images_missing_and_undecodable(pictures, tmp_path, mode):
    images = encoded(pictures)
    folder = write_shards(tmp_path / "holes", {
        "image": [images[0], images[1], None, b"not an image", images[4], None],
        "text": [CAPTIONS[0], None, CAPTIONS[2], CAPTIONS[3], CAPTIONS[4], None]},
        sizes=(3, 3), names=("a", "b"))
    expected = ["a.parquet, row 2: an image but no caption (null in column 'text')",
                "a.parquet, row 3: a caption but no image (null in column 'image')",
                "b.parquet, row 1: not an image Pillow can read (empty, corrupt or another "
                "kind of file)",
                "b.parquet, row 3: no image (column 'image') and no caption (column 'text')"]
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(folder, mode)
        assert "4 bad rows" in str(info.value)
        assert [str(p) for p in info.value.problems] == expected
    else:
        table = load(folder, mode)
        assert table.captions == [CAPTIONS[0], CAPTIONS[4]]
        assert [str(p) for p in table.skipped] == expected


@MODES
def test_a_corrupt_or_truncated_shard(pictures, tmp_path, mode):
    folder = write_shards(tmp_path / "shards", {"image": encoded(pictures),
                                                "text": CAPTIONS}, sizes=(3, 3),
                          names=("good", "torn"))
    data = (folder / "torn.parquet").read_bytes()
    (folder / "torn.parquet").write_bytes(data[: len(data) // 2])
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(folder, mode)
        assert "torn.parquet: corrupt or truncated shard" in str(info.value)
    else:
        table = load(folder, mode)
        assert table.captions == CAPTIONS[:3]
        assert [p.file for p in table.skipped] == ["torn.parquet"]
    (folder / "good.parquet").unlink()
    with pytest.raises(DataError, match="none of its 1 shards can be read"):
        load(folder, mode)  # nothing readable at all: an error in both modes


@MODES
def test_no_usable_image_column_is_a_whole_source_error(tmp_path, mode):
    write_shards(tmp_path / "a", {"text": CAPTIONS, "n": list(range(6))}, sizes=(6,),
                 names=("x",))
    with pytest.raises(DataError) as info:
        load(tmp_path / "a" / "x.parquet", mode)
    assert "no usable image column" in str(info.value) and "'n' (int64)" in str(info.value)
    write_shards(tmp_path / "b", {"text": CAPTIONS, "image": list(range(6))}, sizes=(6,),
                 names=("x",))
    with pytest.raises(DataError, match="column 'image' holds int64, not images"):
        load(tmp_path / "b" / "x.parquet", mode, image_column="image")


@MODES
def test_a_shard_without_the_first_shards_columns(pictures, tmp_path, mode):
    write_shards(tmp_path / "s", {"image": encoded(pictures), "text": CAPTIONS},
                 sizes=(6,), names=("a",))
    pq.write_table(pa.table({"image": encoded(pictures)[:1], "title": ["x"]}),
                   tmp_path / "s" / "b.parquet")
    if mode == "fail":
        with pytest.raises(DataError, match="b.parquet: no column 'text'"):
            load(tmp_path / "s", mode)
    else:
        assert len(load(tmp_path / "s", mode)) == 6


def test_a_class_label_out_of_range_and_hugging_faces_no_label(pictures, tmp_path):
    meta = {b"huggingface": json.dumps({"info": {"features": {
        "label": {"names": NAMES, "_type": "ClassLabel"}}}}).encode()}
    write_shards(tmp_path / "s", {"image": encoded(pictures), "text": CAPTIONS,
                                  "label": [0, 1, 5, -1, 0, 1]}, sizes=(6,), names=("a",),
                 metadata=meta)
    table = load(tmp_path / "s", "skip")
    assert [str(p) for p in table.skipped] == [
        "a.parquet, row 3: label 5 is not one of the 2 classes of column 'label'",
        "a.parquet, row 4: no label in column 'label'"]
    assert [table.label_names[k] for k in table.labels] == ["cool", "warm", "cool", "warm"]


def test_without_pyarrow_the_error_says_what_to_install(hf_parquet, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    with pytest.raises(DataError) as info:
        load(hf_parquet)
    assert 'pip install "multimodal-workbench[formats]"' in str(info.value)
    assert "pyarrow" in str(info.value)


def test_memory_checks_and_the_image_cache(hf_parquet, tmp_path):
    with pytest.raises(DataError, match="of encoded images, all held in memory"):
        load(hf_parquet, max_memory_gb=1e-7)  # 107 bytes
    cache = ImageCache(tmp_path / "cache")
    cfg = DataConfig(source=str(hf_parquet))
    first = load_pairs(cfg, SIZE, cache=cache)
    second = load_pairs(cfg, SIZE, cache=cache)
    assert (first.cache_hits, second.cache_hits) == (0, 6)
    np.testing.assert_array_equal(first.images, second.images)


def test_inspect_and_train(hf_parquet, tmp_path, capsys):
    """``workbench data inspect`` reports the pairs and ClassLabel names; a tiny classifier
    trains on the file through the Trainer."""
    from workbench.cli import main
    from workbench.core.training import Trainer
    assert main(["data", "inspect", str(hf_parquet), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "parquet" and report["pairs"] == 6
    assert report["labels"] == {"cool": 3, "warm": 3}
    assert main(["data", "inspect", str(tmp_path / "none-{0..2}.parquet")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    shapes = make_image_folder(tmp_path / "shapes", n_per_class=3)
    rows = [json.loads(line) for line in (shapes / "metadata.jsonl").read_text().splitlines()]
    pq.write_table(pa.table({"image": [(shapes / r["file_name"]).read_bytes() for r in rows],
                             "text": [r["text"] for r in rows],
                             "label": [r["label"] for r in rows]}),
                   tmp_path / "shapes.parquet")
    cfg = tiny_config(tmp_path / "shapes.parquet", "algorithm.name=classifier",
                      "fusion.name=late")
    end = Trainer(cfg, load_dataset(cfg)).fit()
    assert end.status == "finished" and end.step > 0


# ---------------------------------------------------------------- found by the fuzz
# (test_fuzz_shards.py): inputs that raised something other than a DataError, named in
# each docstring.

@MODES
@pytest.mark.parametrize("column, other, held", [
    ("image", ["0.png"] * 2, "string"),  # TypeError: a bytes-like object is required
    ("text", [1, 2], "int64"),  # AttributeError: 'int' object has no attribute 'isascii'
    ("label", [{"a": 1}] * 2, "struct<a: int64>")])  # TypeError: unhashable type: 'dict'
def test_a_shard_whose_column_holds_another_type(pictures, tmp_path, mode, column, other,
                                                 held):
    """A later shard's column of another type than the first shard's was read as if it
    were the first one's."""
    columns = {"image": encoded(pictures)[:2], "text": CAPTIONS[:2], "label": LABELS[:2]}
    write_shards(tmp_path / "s", columns, sizes=(2,), names=("a",))
    write_shards(tmp_path / "s", {**columns, column: other}, sizes=(2,), names=("b",))
    message = rf"b.parquet: column '{column}' holds {re.escape(held)}, not what the first"
    if mode == "fail":
        with pytest.raises(DataError, match=message):
            load(tmp_path / "s", mode)
    else:
        table = load(tmp_path / "s", mode)
        assert len(table) == 2 and [p.file for p in table.skipped] == ["b.parquet"]
    look = quick_look(DataConfig(source=str(tmp_path / "s")), SIZE, above=0, sample=5)
    assert look.table.captions == CAPTIONS[:2]


@MODES
def test_a_label_column_of_structs_is_a_whole_source_error(pictures, tmp_path, mode):
    """TypeError: unhashable type: 'dict' (each label a dict)."""
    write_shards(tmp_path / "s", {"image": encoded(pictures)[:2], "text": CAPTIONS[:2],
                                  "label": [{"a": 1}] * 2}, sizes=(2,), names=("a",))
    with pytest.raises(DataError, match=r"a.parquet: column 'label' holds struct<a: int64>, "
                                        r"not labels \(expected integers or strings\)"):
        load(tmp_path / "s", mode)
    assert len(load(tmp_path / "s", mode, label_column="none")) == 2


def test_a_label_column_missing_from_a_shard_in_the_quick_look(pictures, tmp_path):
    """IndexError: index out of bounds (the label counts read a shard without the column)."""
    write_shards(tmp_path / "s", {"image": encoded(pictures)[:2], "text": CAPTIONS[:2],
                                  "label": LABELS[:2]}, sizes=(2,), names=("a",))
    write_shards(tmp_path / "s", {"image": encoded(pictures)[:2], "text": CAPTIONS[:2]},
                 sizes=(2,), names=("b",))
    look = quick_look(DataConfig(source=str(tmp_path / "s")), SIZE, above=0, sample=5)
    assert look.label_counts == {"warm": 1, "cool": 1}


@pytest.mark.parametrize("features", [{"image": 3, "label": 3}, [], "x"])
def test_hugging_face_features_that_are_not_objects_name_nothing(pictures, tmp_path,
                                                                  features):
    """AttributeError: 'int' object has no attribute 'get' (a feature that is no object)."""
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    write_shards(tmp_path / "s", {"image": encoded(pictures)[:2], "text": CAPTIONS[:2],
                                  "label": [0, 1]}, sizes=(2,), names=("a",), metadata=meta)
    table = load(tmp_path / "s")
    assert table.captions == CAPTIONS[:2] and table.label_names == ["0", "1"]


@MODES
def test_a_footer_whose_column_names_are_not_utf8(pictures, tmp_path, mode):
    """UnicodeDecodeError: 'utf-8' codec can't decode byte (pyarrow reading the schema)."""
    write_shards(tmp_path / "s", {"image": encoded(pictures)[:2], "text": CAPTIONS[:2]},
                 sizes=(2,), names=("a",))
    path = tmp_path / "s" / "a.parquet"
    data = path.read_bytes()
    footer = data.index(b"text", data.index(b"schema"))  # the footer schema's column name
    path.write_bytes(data[:footer] + b"\x80ext" + data[footer + 4:])
    with pytest.raises(DataError, match=r"none of its 1 shards can be read as Parquet or "
                                        r"Arrow \(first: a.parquet: "):
        load(path, mode)


def test_a_shards_column_of_nulls_alone_reads_as_gaps(pictures, tmp_path):
    """Not a bug the fuzz found; the check of each shard's column types above must let
    pyarrow's type of a column written as [None, None] through: it reads as gaps, row by
    row, not as a shard whose column holds another type."""
    columns = {"image": [{"bytes": b, "path": None} for b in encoded(pictures)[:2]],
               "text": CAPTIONS[:2], "label": LABELS[:2]}
    write_shards(tmp_path / "s", columns, sizes=(2,), names=("a",))
    write_shards(tmp_path / "s", {**columns, "label": [None, None]}, sizes=(2,), names=("b",))
    write_shards(tmp_path / "s", {**columns, "image": [None, None]}, sizes=(2,), names=("c",))
    table = load(tmp_path / "s", "skip")
    assert table.captions == CAPTIONS[:2]  # unlabelled rows are left out, reported
    assert [str(p) for p in table.skipped] == [
        "b.parquet, row 1: no label in column 'label'",
        "b.parquet, row 2: no label in column 'label'",
        "c.parquet, row 1: a caption but no image (null in column 'image')",
        "c.parquet, row 2: a caption but no image (null in column 'image')"]
