"""Every data source loads a small fixture made the way a user would make one.

Each source is loaded twice: ``load_pairs`` (read, check, decode) and ``load_dataset`` (the
same plus vocabulary and split), the two entry points the rest of the workbench uses.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.config import DataConfig, ExperimentConfig, PreprocessConfig
from workbench.core.data import DataError, detect, load_dataset, load_pairs
from workbench.core.data.dataset import build_dataset

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


# ---------------------------------------------------------------- image folder

@pytest.fixture
def folder_jsonl(tmp_path: Path) -> Path:
    root = tmp_path / "squares"
    for i, caption in enumerate(CAPTIONS):
        save_image(root / f"{i}.png", COLORS[i])
    write_jsonl(root / "metadata.jsonl", [
        {"file_name": f"{i}.png", "text": c, "label": lab}
        for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    return root


def test_imagefolder_jsonl(folder_jsonl: Path):
    table = load_pairs(DataConfig(source=str(folder_jsonl)), SIZE)
    assert table.kind == "imagefolder"
    assert Path(table.file) == folder_jsonl / "metadata.jsonl"
    assert table.rows == [1, 2, 3, 4, 5, 6]  # JSON lines numbered as an editor shows them
    assert table.label_column == "label"
    check_image_pairs(table)
    assert [Path(p).name for p in table.image_paths] == [f"{i}.png" for i in range(6)]
    check_dataset(load_dataset(experiment(str(folder_jsonl))))


def test_imagefolder_metadata_file_given_directly(folder_jsonl: Path):
    table = load_pairs(DataConfig(source=str(folder_jsonl / "metadata.jsonl")), SIZE)
    check_image_pairs(table)


def test_imagefolder_csv(tmp_path: Path):
    root = tmp_path / "squares"
    for i in range(len(CAPTIONS)):
        save_image(root / f"{i}.jpg", COLORS[i], fmt="JPEG")
    write_csv(root / "metadata.csv", ["file_name", "text", "label"],
              [[f"{i}.jpg", c, lab] for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    table = load_pairs(DataConfig(source=str(root)), SIZE)
    assert table.kind == "imagefolder" and Path(table.file).name == "metadata.csv"
    assert table.rows == [2, 3, 4, 5, 6, 7]  # line 1 is the header
    check_image_pairs(table)
    check_dataset(load_dataset(experiment(str(root))))


def test_imagefolder_with_both_metadata_files_is_refused(folder_jsonl: Path):
    write_csv(folder_jsonl / "metadata.csv", ["file_name", "text"], [["0.png", "x"]])
    with pytest.raises(DataError, match="both metadata.jsonl and metadata.csv"):
        load_pairs(DataConfig(source=str(folder_jsonl)), SIZE)


def test_imagefolder_without_metadata_says_what_it_needs(tmp_path: Path):
    save_image(tmp_path / "pics" / "a.png", COLORS[0])
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source=str(tmp_path / "pics")), SIZE)
    assert "pics" in str(info.value) and "metadata.jsonl" in str(info.value)


def test_imagefolder_labels_from_class_subfolders(tmp_path: Path):
    root = tmp_path / "animals"
    records = []
    for i, (cls, color) in enumerate([("cats", COLORS[0]), ("dogs", COLORS[1]),
                                      ("cats", COLORS[2]), ("birds", COLORS[3]),
                                      ("dogs", COLORS[4]), ("birds", COLORS[5])]):
        save_image(root / cls / f"{i}.png", color)
        records.append({"file_name": f"{cls}/{i}.png", "text": f"photo number {i} of {cls}"})
    write_jsonl(root / "metadata.jsonl", records)
    table = load_pairs(DataConfig(source=str(root)), SIZE)
    assert table.label_column == "folder"
    assert table.label_names == ["birds", "cats", "dogs"]
    assert [table.label_names[k] for k in table.labels] == \
        ["cats", "dogs", "cats", "birds", "dogs", "birds"]
    for i in range(6):
        assert near(centre(table.images[i]), COLORS[i])
    ds = load_dataset(experiment(str(root)))
    assert ds.num_classes == 3 and ds.label_names == ["birds", "cats", "dogs"]

    # label_column = "none" turns the folder labels off too.
    assert load_pairs(DataConfig(source=str(root), label_column="none"), SIZE).labels is None


def test_imagefolder_subfolder_labels_need_every_image_in_a_subfolder(tmp_path: Path):
    root = tmp_path / "mixed"
    save_image(root / "cats" / "a.png", COLORS[0])
    save_image(root / "b.png", COLORS[1])
    write_jsonl(root / "metadata.jsonl", [{"file_name": "cats/a.png", "text": "a cat"},
                                          {"file_name": "b.png", "text": "loose image"}])
    table = load_pairs(DataConfig(source=str(root)), SIZE)
    assert table.labels is None


def test_jsonl_caption_with_unicode_line_separator(tmp_path: Path):
    # JSON allows U+2028 / U+2029 / U+0085 unescaped inside strings (json.dumps with
    # ensure_ascii=False writes them so); they must not split a JSON line in two.
    root = tmp_path / "sep"
    save_image(root / "a.png", COLORS[0])
    save_image(root / "b.png", COLORS[1])
    save_image(root / "c.png", COLORS[2])
    write_jsonl(root / "metadata.jsonl", [
        {"file_name": "a.png", "text": "first line\u2028second line"},
        {"file_name": "b.png", "text": "next\u0085line"},
        {"file_name": "c.png", "text": "para\u2029graph"}])
    table = load_pairs(DataConfig(source=str(root)), SIZE)
    assert table.rows == [1, 2, 3]
    assert table.captions[0] == "first line\u2028second line"
    assert table.tokens[0] == ["first", "line", "second", "line"]


def test_data_without_labels(tmp_path: Path):
    root = tmp_path / "plain"
    for i, caption in enumerate(CAPTIONS):
        save_image(root / f"{i}.png", COLORS[i])
    write_jsonl(root / "metadata.jsonl",
                [{"file_name": f"{i}.png", "text": c} for i, c in enumerate(CAPTIONS)])
    table = load_pairs(DataConfig(source=str(root)), SIZE)
    check_image_pairs(table, labels=False)
    assert table.label_counts() == {}
    ds = load_dataset(experiment(str(root)))
    check_dataset(ds, classes=0)
    assert ds.labels is None and next(ds.batches("train", 8)).labels is None


# ---------------------------------------------------------------- CSV

def make_csv_images(root: Path, n=len(CAPTIONS)) -> None:
    for i in range(n):
        save_image(root / "img" / f"{i}.png", COLORS[i])


def test_csv_detected_columns(tmp_path: Path):
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption", "label"],
                     [[f"img/{i}.png", c, lab]
                      for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    table = load_pairs(DataConfig(source=str(path)), SIZE)
    assert table.kind == "csv" and table.file == str(path)
    assert table.rows == [2, 3, 4, 5, 6, 7]
    assert table.label_column == "label"
    check_image_pairs(table)
    check_dataset(load_dataset(experiment(str(path))))


@pytest.mark.parametrize("header", [["filepath", "title", "class"],
                                    ["File_Name", "Text", "Category"],
                                    ["img", "description", "target"]])
def test_csv_other_usual_names_detected(tmp_path: Path, header):
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.csv", header,
                     [[f"img/{i}.png", c, lab]
                      for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    table = load_pairs(DataConfig(source=str(path)), SIZE)
    assert table.label_column == header[2]
    check_image_pairs(table)


def test_csv_unusual_columns_mapped_explicitly(tmp_path: Path):
    make_csv_images(tmp_path)
    header = ["Bild", "Beschreibung", "Klasse", "notes"]
    path = write_csv(tmp_path / "pairs.csv", header,
                     [[f"img/{i}.png", c, lab, "x"]
                      for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))])
    mapping = dict(image_column="Bild", text_column="Beschreibung", label_column="Klasse")
    table = load_pairs(DataConfig(source=str(path), **mapping), SIZE)
    assert table.label_column == "Klasse"
    check_image_pairs(table)
    check_dataset(load_dataset(experiment(str(path), **mapping)))

    # Without the mapping nothing matches a usual name: the error lists what is there.
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source=str(path)), SIZE)
    msg = str(info.value)
    assert str(path) in msg and "data.image_column" in msg
    for name in header:
        assert repr(name) in msg


def test_csv_explicit_column_that_does_not_exist(tmp_path: Path):
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption"], [["img/0.png", "red"]])
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source=str(path), text_column="sentence"), SIZE)
    msg = str(info.value)
    assert str(path) in msg and "'sentence'" in msg and "data.text_column" in msg
    assert "'image', 'caption'" in msg


def test_csv_label_column_none_and_no_label_column(tmp_path: Path):
    make_csv_images(tmp_path)
    rows = [[f"img/{i}.png", c, lab] for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))]
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption", "label"], rows)
    check_image_pairs(load_pairs(DataConfig(source=str(path), label_column="none"), SIZE),
                      labels=False)
    path2 = write_csv(tmp_path / "nolabel.csv", ["image", "caption"], [r[:2] for r in rows])
    check_image_pairs(load_pairs(DataConfig(source=str(path2)), SIZE), labels=False)
    check_dataset(load_dataset(experiment(str(path2))), classes=0)


def test_csv_ambiguous_columns(tmp_path: Path):
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.csv", ["image", "file_name", "caption"],
                     [["img/0.png", "img/0.png", "red"]])
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source=str(path)), SIZE)
    msg = str(info.value)
    assert str(path) in msg
    assert "several columns" in msg and "'image', 'file_name'" in msg
    assert "'image', 'file_name', 'caption'" in msg  # every column, to choose from
    assert "data.image_column" in msg

    # Two label-like columns are ambiguous too, although a label is optional.
    path = write_csv(tmp_path / "labels.csv", ["image", "caption", "label", "category"],
                     [["img/0.png", "red", "a", "b"]])
    with pytest.raises(DataError, match="data.label_column"):
        load_pairs(DataConfig(source=str(path)), SIZE)
    # ... which the explicit setting resolves.
    table = load_pairs(DataConfig(source=str(path), label_column="category"), SIZE)
    assert table.label_names == ["b"]


def test_csv_missing_caption_column(tmp_path: Path):
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.csv", ["image", "words"], [["img/0.png", "red"]])
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source=str(path)), SIZE)
    msg = str(info.value)
    assert str(path) in msg and "texts" in msg
    assert "the columns are: 'image', 'words'" in msg and "data.text_column" in msg


def test_csv_semicolon_separated(tmp_path: Path):
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption", "label"],
                     [[f"img/{i}.png", c, lab]
                      for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))], delimiter=";")
    assert ";" in path.read_text().splitlines()[0]
    check_image_pairs(load_pairs(DataConfig(source=str(path)), SIZE))


def test_csv_semicolon_with_commas_in_captions(tmp_path: Path):
    make_csv_images(tmp_path, 2)
    path = tmp_path / "pairs.csv"
    path.write_text("image;caption\nimg/0.png;red, bright, square\nimg/1.png;green, dull\n",
                    encoding="utf-8")
    table = load_pairs(DataConfig(source=str(path)), SIZE)
    assert table.captions == ["red, bright, square", "green, dull"]


def test_tsv(tmp_path: Path):
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.tsv", ["image", "caption", "label"],
                     [[f"img/{i}.png", c, lab]
                      for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))], delimiter="\t")
    assert detect(str(path)) == "csv"
    check_image_pairs(load_pairs(DataConfig(source=str(path)), SIZE))


def test_csv_with_utf8_bom(tmp_path: Path):
    # Excel's "CSV UTF-8" writes a byte-order mark; the first column must still be 'image'.
    make_csv_images(tmp_path)
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption", "label"],
                     [[f"img/{i}.png", c, lab]
                      for i, (c, lab) in enumerate(zip(CAPTIONS, LABELS))],
                     encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfimage")
    table = load_pairs(DataConfig(source=str(path)), SIZE)
    check_image_pairs(table)


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_csv_quoted_caption_with_newline_keeps_row_numbers(tmp_path: Path, mode):
    make_csv_images(tmp_path, 3)
    rows = [["img/0.png", "a red square\nover two lines", "warm"],  # lines 2-3
            ["img/1.png", "a green square", "cool"],  # line 4
            ["img/missing.png", "an absent square", "cool"],  # line 5
            ["img/2.png", "a blue\r\nsquare, three\nlines", "cool"],  # lines 6-8
            ["img/9.png", "another absent one", "warm"]]  # line 9
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption", "label"], rows)
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load_pairs(DataConfig(source=str(path), on_error="fail"), SIZE)
        assert [p.row for p in info.value.problems] == [5, 9]
        assert f"{path}, row 5: img/missing.png: image file not found" in str(info.value)
        assert f"{path}, row 9: img/9.png: image file not found" in str(info.value)
        return
    table = load_pairs(DataConfig(source=str(path), on_error="skip"), SIZE)
    assert table.rows == [2, 4, 6]
    assert table.captions[0] == "a red square\nover two lines"
    assert table.tokens[0] == ["a", "red", "square", "over", "two", "lines"]
    assert table.captions[2] == "a blue\r\nsquare, three\nlines"
    assert [(p.row, p.file) for p in table.skipped] == [(5, str(path)), (9, str(path))]


def test_csv_paths_relative_to_csv_not_to_cwd(tmp_path: Path, monkeypatch):
    make_csv_images(tmp_path / "data", 2)
    path = write_csv(tmp_path / "data" / "pairs.csv", ["image", "caption"],
                     [["img/0.png", "red"], ["./img/1.png", "green"]])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    table = load_pairs(DataConfig(source=str(path)), SIZE)
    assert near(centre(table.images[1]), COLORS[1])


def test_csv_images_folder_setting(tmp_path: Path):
    make_csv_images(tmp_path / "pictures", 2)
    path = write_csv(tmp_path / "meta" / "pairs.csv", ["image", "caption"],
                     [["img/0.png", "red"], ["img/1.png", "green"]])
    table = load_pairs(DataConfig(source=str(path), images=str(tmp_path / "pictures")), SIZE)
    assert len(table) == 2 and near(centre(table.images[0]), COLORS[0])


# ---------------------------------------------------------------- COCO captions

def make_coco(root: Path, n_images=10, per_image=3, *, images_dir="train2017") -> Path:
    images, annotations = [], []
    for i in range(n_images):
        save_image(root / images_dir / f"{i:012d}.jpg", COLORS[i % len(COLORS)], fmt="JPEG")
        images.append({"id": 100 + i, "file_name": f"{i:012d}.jpg", "width": 12, "height": 10})
        for k in range(per_image):
            annotations.append({"id": len(annotations) + 1, "image_id": 100 + i,
                                "caption": f"picture {i} described in way {k}"})
    # Annotations in COCO files are not grouped by image: interleave them.
    annotations = sorted(annotations, key=lambda a: (a["id"] % per_image, a["id"]))
    path = root / "annotations" / "captions_train2017.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"info": {}, "licenses": [], "images": images,
                                "annotations": annotations}), encoding="utf-8")
    return path


def test_coco_captions(tmp_path: Path):
    path = make_coco(tmp_path)
    cfg = DataConfig(source=str(path), images=str(tmp_path / "train2017"))
    table = load_pairs(cfg, SIZE)
    assert table.kind == "coco"
    assert len(table) == 30
    assert table.images.shape[0] == 10  # each image decoded once
    assert len(table.image_paths) == 10
    assert table.labels is None
    doc = json.loads(path.read_text())
    for i, caption in enumerate(table.captions):
        image = int(caption.split()[1])
        ann = doc["annotations"][table.rows[i] - 1]  # rows count annotations from 1
        assert ann["caption"] == caption and ann["image_id"] == 100 + image
        assert Path(table.image_paths[table.image_index[i]]).name == f"{image:012d}.jpg"
        assert near(centre(table.images[table.image_index[i]]), COLORS[image], tol=10)
    # Every distinct image is used by exactly its three captions.
    assert np.bincount(table.image_index).tolist() == [3] * 10


def test_coco_split_keeps_captions_of_one_image_together(tmp_path: Path):
    path = make_coco(tmp_path)
    cfg = experiment(str(path), images=str(tmp_path / "train2017"), val_fraction=0.2,
                     test_fraction=0.2)
    ds = load_dataset(cfg)
    which = {}
    for name in ("train", "val", "test"):
        idx = ds.indices(name).numpy()
        assert len(idx) > 0
        for image in ds.table.image_index[idx]:
            which.setdefault(int(image), set()).add(name)
    assert len(which) == 10
    assert all(len(splits) == 1 for splits in which.values())
    sizes = ds.split.sizes()
    assert sizes == {"train": 18, "val": 6, "test": 6}  # 6 / 2 / 2 images, 3 captions each

    # Same through build_dataset on an already loaded table, with other seeds.
    table = load_pairs(cfg.data, SIZE)
    for seed in range(5):
        split = build_dataset(table, cfg.preprocess, val_fraction=0.2, test_fraction=0.2,
                              seed=seed).split
        sets = [set(table.image_index[s].tolist()) for s in (split.train, split.val, split.test)]
        assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])


def test_coco_images_next_to_the_json(tmp_path: Path):
    path = make_coco(tmp_path, n_images=3, per_image=2, images_dir="annotations")
    table = load_pairs(DataConfig(source=str(path)), SIZE)
    assert len(table) == 6 and table.images.shape[0] == 3
    check = load_dataset(experiment(str(path)))
    assert len(check) == 6


# ---------------------------------------------------------------- .npz features

def make_features(n=12, dt=5, di=7, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, dt)).astype(np.float32),
            rng.normal(size=(n, di)).astype(np.float32))


def test_npz_with_labels(tmp_path: Path):
    text, image = make_features()
    label = np.array([2, 10, 1] * 4)
    np.savez(tmp_path / "feats.npz", text=text, image=image, label=label)
    table = load_pairs(DataConfig(source=str(tmp_path / "feats.npz")), SIZE)
    assert table.kind == "npz" and len(table) == 12
    assert table.rows == list(range(1, 13))
    np.testing.assert_array_equal(table.text_features, text)
    np.testing.assert_array_equal(table.image_features, image)
    assert table.images is None and table.captions is None and table.tokens is None
    assert table.label_names == ["1", "2", "10"]  # natural order, not "1", "10", "2"
    assert [table.label_names[k] for k in table.labels] == [str(v) for v in label]
    ds = load_dataset(experiment(str(tmp_path / "feats.npz")))
    assert ds.text_dim == 5 and ds.image_dim == 7 and ds.num_classes == 3
    assert ds.vocab is None and ds.image_size is None
    batch = next(ds.batches("train", 4))
    assert batch.text_features.shape == (4, 5) and batch.image_features.shape == (4, 7)
    assert batch.labels is not None and batch.tokens is None and batch.images is None


def test_npz_string_labels_and_float_whole_labels(tmp_path: Path):
    text, image = make_features(4)
    np.savez(tmp_path / "s.npz", text=text, image=image,
             label=np.array(["pos", "neg", "neg", "pos"]))
    table = load_pairs(DataConfig(source=str(tmp_path / "s.npz")), SIZE)
    assert table.label_names == ["neg", "pos"] and table.labels.tolist() == [1, 0, 0, 1]
    np.savez(tmp_path / "f.npz", text=text, image=image, label=np.array([0.0, 1.0, 1.0, 0.0]))
    table = load_pairs(DataConfig(source=str(tmp_path / "f.npz")), SIZE)
    assert table.label_names == ["0", "1"]


def test_npz_without_labels(tmp_path: Path):
    text, image = make_features()
    np.savez(tmp_path / "feats.npz", text=text, image=image)
    table = load_pairs(DataConfig(source=str(tmp_path / "feats.npz")), SIZE)
    assert table.labels is None and len(table) == 12
    ds = load_dataset(experiment(str(tmp_path / "feats.npz")))
    assert ds.num_classes == 0 and sum(ds.split.sizes().values()) == 12


def test_npz_label_column_none(tmp_path: Path):
    text, image = make_features()
    np.savez(tmp_path / "feats.npz", text=text, image=image, label=np.arange(12) % 2)
    cfg = DataConfig(source=str(tmp_path / "feats.npz"), label_column="none")
    assert load_pairs(cfg, SIZE).labels is None


def test_npz_unknown_label_column_is_an_error(tmp_path: Path):
    text, image = make_features()
    np.savez(tmp_path / "feats.npz", text=text, image=image, label=np.arange(12) % 2)
    cfg = DataConfig(source=str(tmp_path / "feats.npz"), label_column="subgroup")
    with pytest.raises(DataError, match="no label column 'subgroup'"):
        load_pairs(cfg, SIZE)


def test_npz_with_captions(tmp_path: Path):
    text, image = make_features(3)
    captions = np.array(["first pair", "second pair", "third pair"])
    np.savez_compressed(tmp_path / "feats.npz", text=text, image=image, caption=captions,
                        label=np.array([0, 1, 0]))
    table = load_pairs(DataConfig(source=str(tmp_path / "feats.npz")), SIZE)
    # Captions of features are for previews: not tokenised, the features are the text.
    assert table.captions is None and table.tokens is None
    assert [table.caption(i) for i in range(3)] == ["first pair", "second pair", "third pair"]
    assert table.extras["caption"] == ["first pair", "second pair", "third pair"]


def test_npz_unknown_or_missing_arrays(tmp_path: Path):
    text, image = make_features(3)
    np.savez(tmp_path / "a.npz", text=text, image=image, extra=np.zeros(3))
    with pytest.raises(DataError, match="unknown array 'extra'"):
        load_pairs(DataConfig(source=str(tmp_path / "a.npz")), SIZE)
    np.savez(tmp_path / "b.npz", text=text)
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source=str(tmp_path / "b.npz")), SIZE)
    assert "b.npz" in str(info.value) and "missing array 'image'" in str(info.value)
    np.savez(tmp_path / "c.npz", text=text[:, 0], image=image)
    with pytest.raises(DataError, match=r"'text' has shape \(3,\), expected \(N, D\)"):
        load_pairs(DataConfig(source=str(tmp_path / "c.npz")), SIZE)


# ---------------------------------------------------------------- builtin:emoji

@pytest.fixture(scope="module")
def emoji_table():
    return load_pairs(DataConfig(source="builtin:emoji"), SIZE)


def test_builtin_emoji(emoji_table):
    table = emoji_table
    assert table.kind == "builtin" and len(table) == 1870
    assert table.images.shape == (1870, 3, SIZE, SIZE) and table.images.dtype == np.uint8
    assert table.label_column == "group" and len(table.label_names) == 9
    assert "Smileys & Emotion" in table.label_names
    assert sum(table.label_counts().values()) == 1870
    i = table.extras["name"].index("grinning face")
    assert table.captions[i] == "grinning face: face, grin"
    assert table.tokens[i] == ["grinning", "face", "face", "grin"]
    assert table.label_names[table.labels[i]] == "Smileys & Emotion"
    assert table.skipped == []


def test_builtin_emoji_dataset():
    ds = load_dataset(experiment("builtin:emoji"))
    assert len(ds) == 1870 and ds.num_classes == 9
    assert ds.split.sizes() == {"train": 1496, "val": 187, "test": 187}
    assert ds.image_size == SIZE and ds.vocab_size > 100


def test_builtin_emoji_subgroup_and_no_labels():
    sub = load_pairs(DataConfig(source="builtin:emoji", label_column="subgroup"), SIZE)
    assert sub.label_column == "subgroup" and 90 <= len(sub.label_names) <= 110
    none = load_pairs(DataConfig(source="builtin:emoji", label_column="none"), SIZE)
    assert none.labels is None and none.label_names == [] and len(none) == 1870


def test_builtin_errors():
    with pytest.raises(DataError, match="builtin:emoji"):
        load_pairs(DataConfig(source="builtin:nothing"), SIZE)
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source="builtin:emoji", label_column="colour"), SIZE)
    assert "'colour'" in str(info.value) and "group, subgroup" in str(info.value)


# ---------------------------------------------------------------- detection

def test_detect_each_kind(tmp_path: Path, folder_jsonl: Path):
    assert detect("builtin:emoji") == "builtin"
    assert detect(str(folder_jsonl)) == "imagefolder"
    assert detect(str(folder_jsonl / "metadata.jsonl")) == "imagefolder"
    meta_csv = write_csv(tmp_path / "other" / "metadata.csv", ["file_name", "text"], [])
    assert detect(str(meta_csv)) == "imagefolder"
    plain = write_csv(tmp_path / "pairs.csv", ["image", "caption"], [])
    assert detect(str(plain)) == "csv"
    upper = write_csv(tmp_path / "PAIRS.CSV", ["image", "caption"], [])
    assert detect(str(upper)) == "csv"
    coco = make_coco(tmp_path / "coco", n_images=1, per_image=1)
    assert detect(str(coco)) == "coco"
    text, image = make_features(2)
    np.savez(tmp_path / "f.npz", text=text, image=image)
    assert detect(str(tmp_path / "f.npz")) == "npz"
    # An explicit format wins over the name.
    assert detect(str(plain), "imagefolder") == "imagefolder"


def test_detect_unknown_extension(tmp_path: Path):
    path = tmp_path / "pairs.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError) as info:
        detect(str(path))
    msg = str(info.value)
    assert str(path) in msg and "cannot tell the format" in msg and "data.format" in msg
    for kind in ("builtin", "imagefolder", "csv", "coco", "npz"):
        assert kind in msg


def test_detect_missing_path(tmp_path: Path):
    missing = tmp_path / "nowhere" / "pairs.csv"
    with pytest.raises(DataError) as info:
        detect(str(missing))
    assert str(missing) in str(info.value) and "no such file or folder" in str(info.value)
    with pytest.raises(DataError, match="no such file or folder"):
        load_pairs(DataConfig(source=str(missing)), SIZE)


def test_detect_unknown_format_and_non_coco_json(tmp_path: Path):
    with pytest.raises(DataError, match="unknown format 'parquet'"):
        detect("x", "parquet")
    path = tmp_path / "config.json"
    path.write_text('{"learning_rate": 0.1}')
    with pytest.raises(DataError) as info:
        detect(str(path))
    assert str(path) in str(info.value) and "COCO" in str(info.value)
