"""COCO captions, .npz features, builtin:emoji and format detection (see test_sources.py
for image folders and CSVs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from data_helpers import COLORS, SIZE, centre, experiment, near, save_image, write_csv
from workbench.core.config import DataConfig
from workbench.core.data import DataError, detect, load_dataset, load_pairs
from workbench.core.data.dataset import build_dataset


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


def test_npz_other_arrays_are_left_out_with_a_note(tmp_path: Path):
    """A features file made for another tool (ids, a second representation) still loads:
    what the workbench does not read is named in a note, not refused."""
    text, image = make_features(3)
    np.savez(tmp_path / "a.npz", text=text, image=image, ids=np.arange(3),
             pixels=np.zeros((5, 2)))
    table = load_pairs(DataConfig(source=str(tmp_path / "a.npz")), SIZE)
    assert len(table) == 3 and table.labels is None
    assert table.notes == ["a.npz: arrays 'ids', 'pixels' left out (read: text, image, "
                           "label, caption, label_names or target_names)"]


def test_npz_integer_labels_are_named_from_label_names_or_target_names(tmp_path: Path):
    text, image = make_features(4)
    for key in ("label_names", "target_names"):
        np.savez(tmp_path / f"{key}.npz", text=text, image=image, label=np.array([2, 0, 2, 1]),
                 **{key: np.array(["setosa", "versicolor", "virginica"])})
        table = load_pairs(DataConfig(source=str(tmp_path / f"{key}.npz")), SIZE)
        assert [table.label_names[i] for i in table.labels] == \
            ["virginica", "setosa", "virginica", "versicolor"]
        assert table.notes == []
    np.savez(tmp_path / "short.npz", text=text, image=image, label=np.array([0, 1, 3, 1]),
             label_names=np.array(["a", "b"]))
    with pytest.raises(DataError, match=r"short.npz: row 3: label 3 has no name in "
                                        r"'label_names' \(2 names, so labels 0 to 1\)"):
        load_pairs(DataConfig(source=str(tmp_path / "short.npz")), SIZE)
    np.savez(tmp_path / "s.npz", text=text, image=image, label=np.array(list("abab")),
             label_names=np.array(["a", "b"]))
    with pytest.raises(DataError, match="names integer labels, and 'label' has dtype"):
        load_pairs(DataConfig(source=str(tmp_path / "s.npz")), SIZE)


def test_npz_missing_or_malformed_arrays(tmp_path: Path):
    text, image = make_features(3)
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
    with pytest.raises(DataError, match="unknown format 'hdf5'"):
        detect("x", "hdf5")
    path = tmp_path / "config.json"
    path.write_text('{"learning_rate": 0.1}')
    with pytest.raises(DataError) as info:
        detect(str(path))
    assert str(path) in str(info.value) and "COCO" in str(info.value)


def test_coco_image_ids_naming_two_files_are_refused_with_both_entries(tmp_path: Path):
    """The later entry silently replaced the earlier, pairing one image's captions with
    another file."""
    path = make_coco(tmp_path, n_images=4, per_image=2)
    doc = json.loads(path.read_text())
    doc["images"].append({"id": 101, "file_name": "000000000003.jpg"})  # id of entry 2
    doc["images"].append(dict(doc["images"][0]))  # an exact repeat is harmless
    path.write_text(json.dumps(doc))
    images = str(tmp_path / "train2017")
    with pytest.raises(DataError) as err:
        load_pairs(DataConfig(source=str(path), images=images), SIZE)
    reasons = [p.reason for p in err.value.problems]
    assert "images entry 101 repeats the id of images entry 2 with another file " \
           "('000000000003.jpg')" in reasons
    assert sum("image_id 101 names two files (images entries 2 and 5)" in r
               for r in reasons) == 2  # both of its captions
    table = load_pairs(DataConfig(source=str(path), images=images, on_error="skip"), SIZE)
    assert len(table) == 6 and not any("picture 1 " in c for c in table.captions)
