"""Bad input, in both error modes.

``on_error="fail"`` must raise a DataError whose message alone lets the user fix the input:
the file, the row and the problem. ``on_error="skip"`` must load the good rows and list every
bad one in ``table.skipped``. Problems with the whole source (a missing column, unreadable
text, an empty dataset) are errors in both modes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.config import DataConfig
from workbench.core.data import DataError, RowProblem, load_pairs

SIZE = 16
MODES = pytest.mark.parametrize("mode", ["fail", "skip"])

GOOD = [("img/0.png", "a red square"), ("img/1.png", "a green square"),
        ("img/2.png", "a blue square")]
COLORS = [(220, 20, 20), (20, 200, 20), (20, 20, 220)]


def save_image(path: Path, color=(220, 20, 20), size=(12, 10), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def write_csv(path: Path, header, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def csv_with_bad_row(root: Path, bad: tuple[str, str], *, at: int = 3) -> Path:
    """Three good rows and ``bad`` as data row ``at - 1`` (so on line ``at`` of the file)."""
    for (name, _), color in zip(GOOD, COLORS):
        save_image(root / name, color)
    rows = list(GOOD)
    rows.insert(at - 2, bad)
    return write_csv(root / "pairs.csv", ["image", "caption"], rows)


def load(path: Path, mode: str, **kw):
    return load_pairs(DataConfig(source=str(path), on_error=mode, **kw), SIZE)


def expect_bad_row(path: Path, mode: str, row: int, *words: str, good: int = 3,
                   file: Path | None = None, row_is_a_pair: bool = True, **kw):
    """Fail mode raises naming file, row and reason; skip mode keeps the good rows and
    reports the bad one. Returns the reported problem."""
    file = file or path
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(path, mode, **kw)
        err = info.value
        msg = str(err)
        assert f"{file}, row {row}: " in msg, msg
        for word in words:
            assert word in msg, msg
        assert 'on_error = "skip"' in msg  # says how to go on without the bad rows
        assert len(err.problems) == 1
        problem = err.problems[0]
    else:
        table = load(path, mode, **kw)
        assert len(table) == good
        assert len(table.skipped) == 1, table.skipped
        problem = table.skipped[0]
        if row_is_a_pair:
            assert row not in table.rows
    assert isinstance(problem, RowProblem)
    assert problem.file == str(file) and problem.row == row
    for word in words:
        assert word in problem.reason or word in str(problem), problem
    return problem


# ---------------------------------------------------------------- images

@MODES
def test_missing_image_file(tmp_path: Path, mode):
    path = csv_with_bad_row(tmp_path, ("img/gone.png", "a vanished square"), at=3)
    expect_bad_row(path, mode, 3, "img/gone.png", "image file not found")


@MODES
def test_zero_byte_image(tmp_path: Path, mode):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "empty.png").write_bytes(b"")
    path = csv_with_bad_row(tmp_path, ("img/empty.png", "an empty file"), at=4)
    expect_bad_row(path, mode, 4, "img/empty.png", "not an image", "empty")


@MODES
@pytest.mark.parametrize("fmt, name", [("PNG", "cut.png"), ("JPEG", "cut.jpg")])
def test_truncated_image(tmp_path: Path, mode, fmt, name):
    # A real photo-like image (noise) so that the compressed data is long enough to cut.
    rng = np.random.default_rng(0)
    img = tmp_path / "img" / name
    img.parent.mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(img, format=fmt)
    data = img.read_bytes()
    img.write_bytes(data[: len(data) // 2])
    path = csv_with_bad_row(tmp_path, (f"img/{name}", "half a picture"), at=2)
    expect_bad_row(path, mode, 2, f"img/{name}", "truncated")


@MODES
def test_text_file_named_png(tmp_path: Path, mode):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "notes.png").write_text("these are my notes, not a picture\n")
    path = csv_with_bad_row(tmp_path, ("img/notes.png", "text pretending"), at=5)
    expect_bad_row(path, mode, 5, "img/notes.png", "not an image Pillow can read")


@MODES
def test_folder_where_image_expected(tmp_path: Path, mode):
    (tmp_path / "img" / "sub").mkdir(parents=True)
    path = csv_with_bad_row(tmp_path, ("img/sub", "a folder"), at=3)
    expect_bad_row(path, mode, 3, "img/sub", "folder")


@MODES
def test_bad_image_in_image_folder_jsonl(tmp_path: Path, mode):
    root = tmp_path / "squares"
    for (name, _), color in zip(GOOD, COLORS):
        save_image(root / name, color)
    meta = root / "metadata.jsonl"
    lines = [json.dumps({"file_name": n, "text": c}) for n, c in GOOD]
    lines.insert(1, json.dumps({"file_name": "img/missing.png", "text": "nothing here"}))
    meta.write_text("\n".join(lines) + "\n")
    expect_bad_row(root, mode, 2, "img/missing.png", "image file not found", file=meta)


@MODES
def test_one_image_shared_by_a_good_and_a_bad_row(tmp_path: Path, mode):
    # Two captions of one broken image: both rows are reported, each by its own line.
    path = csv_with_bad_row(tmp_path, ("img/gone.png", "first caption"), at=2)
    with open(path, "a", newline="") as fh:
        csv.writer(fh).writerow(["img/gone.png", "second caption"])
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(path, mode)
        assert [p.row for p in info.value.problems] == [2, 6]
        assert "2 bad rows" in str(info.value)
    else:
        table = load(path, mode)
        assert table.rows == [3, 4, 5] and [p.row for p in table.skipped] == [2, 6]
        assert table.images.shape[0] == 3 and sorted(table.image_index.tolist()) == [0, 1, 2]


# ---------------------------------------------------------------- columns and text

@MODES
def test_missing_column_is_a_whole_source_error(tmp_path: Path, mode):
    save_image(tmp_path / "img" / "0.png")
    path = write_csv(tmp_path / "pairs.csv", ["image", "comment"], [["img/0.png", "red"]])
    with pytest.raises(DataError) as info:
        load(path, mode)
    msg = str(info.value)
    assert str(path) in msg and "texts" in msg and "'image', 'comment'" in msg
    assert "data.text_column" in msg


@MODES
@pytest.mark.parametrize("caption, reason", [
    ("", "empty caption"),
    ("   \t ", "empty caption"),
    ("!!!", "caption '!!!' has no words"),
    ("... -- ?!", "has no words"),
])
def test_unusable_caption(tmp_path: Path, mode, caption, reason):
    save_image(tmp_path / "img" / "x.png")
    path = csv_with_bad_row(tmp_path, ("img/x.png", caption), at=4)
    expect_bad_row(path, mode, 4, reason)


@MODES
def test_row_with_wrong_number_of_fields(tmp_path: Path, mode):
    for (name, _), color in zip(GOOD, COLORS):
        save_image(tmp_path / name, color)
    path = tmp_path / "pairs.csv"
    path.write_text("image,caption\nimg/0.png,a red square\nimg/1.png,green,extra,fields\n"
                    "img/1.png,a green square\nimg/2.png,a blue square\n")
    expect_bad_row(path, mode, 3, "4 fields, but the header has 2")


@MODES
def test_row_without_label(tmp_path: Path, mode):
    for (name, _), color in zip(GOOD, COLORS):
        save_image(tmp_path / name, color)
    save_image(tmp_path / "img" / "3.png")
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption", "label"],
                     [["img/0.png", "red", "warm"], ["img/1.png", "green", "cool"],
                      ["img/3.png", "unlabelled", "  "], ["img/2.png", "blue", "cool"]])
    expect_bad_row(path, mode, 4, "no label in column 'label'")


@MODES
def test_non_utf8_csv(tmp_path: Path, mode):
    for (name, _), color in zip(GOOD, COLORS):
        save_image(tmp_path / name, color)
    path = tmp_path / "pairs.csv"
    text = "image,caption\nimg/0.png,a red square\nimg/1.png,a café in green\n"
    path.write_bytes(text.encode("latin-1"))  # an old spreadsheet export
    with pytest.raises(DataError) as info:
        load(path, mode)
    msg = str(info.value)
    assert str(path) in msg and "line 3" in msg and "not UTF-8" in msg
    assert "0xe9" in msg and "UTF-8" in msg


@MODES
def test_invalid_json_line(tmp_path: Path, mode):
    root = tmp_path / "squares"
    for (name, _), color in zip(GOOD, COLORS):
        save_image(root / name, color)
    meta = root / "metadata.jsonl"
    lines = [json.dumps({"file_name": n, "text": c}) for n, c in GOOD]
    lines.insert(2, '{"file_name": "img/0.png", "text": "unclosed')
    meta.write_text("\n".join(lines) + "\n")
    expect_bad_row(root, mode, 3, "not valid JSON", file=meta)


# ---------------------------------------------------------------- .npz features

@MODES
@pytest.mark.parametrize("array, value, which", [
    ("text", np.nan, "text"), ("image", np.inf, "image"), ("both", -np.inf, "text and image")])
def test_npz_nan_and_inf(tmp_path: Path, mode, array, value, which):
    rng = np.random.default_rng(0)
    text = rng.normal(size=(6, 4)).astype(np.float32)
    image = rng.normal(size=(6, 3)).astype(np.float32)
    for name, a in (("text", text), ("image", image)):
        if array in (name, "both"):
            a[4, 1] = value
    path = tmp_path / "feats.npz"
    np.savez(path, text=text, image=image, label=np.array([0, 1, 0, 1, 0, 1]))
    problem = expect_bad_row(path, mode, 5, f"NaN or inf in {which} features", good=5)
    assert problem.reason == f"NaN or inf in {which} features"
    if mode == "skip":
        table = load(path, mode)
        assert np.isfinite(table.text_features).all() and len(table.text_features) == 5
        assert table.rows == [1, 2, 3, 4, 6] and table.labels.tolist() == [0, 1, 0, 1, 1]


@MODES
def test_npz_arrays_of_different_lengths(tmp_path: Path, mode):
    path = tmp_path / "feats.npz"
    np.savez(path, text=np.zeros((5, 4)), image=np.zeros((4, 3)))
    with pytest.raises(DataError) as info:
        load(path, mode)
    msg = str(info.value)
    assert str(path) in msg and "different lengths" in msg
    assert "text has 5" in msg and "image has 4" in msg
    np.savez(path, text=np.zeros((5, 4)), image=np.zeros((5, 3)), label=np.arange(4))
    with pytest.raises(DataError, match="label has 4"):
        load(path, mode)


@MODES
def test_npz_object_array(tmp_path: Path, mode):
    path = tmp_path / "feats.npz"
    np.savez(path, text=np.zeros((2, 4)), image=np.zeros((2, 3)),
             caption=np.array(["fine", None], dtype=object))
    with pytest.raises(DataError) as info:
        load(path, mode)
    msg = str(info.value)
    assert str(path) in msg and "object" in msg and "pickle" in msg


@MODES
def test_npz_not_a_zip(tmp_path: Path, mode):
    path = tmp_path / "feats.npz"
    path.write_bytes(b"PK\x03\x04 but not really a zip")
    with pytest.raises(DataError) as info:
        load(path, mode)
    assert str(path) in str(info.value) and "not a readable .npz" in str(info.value)


# ---------------------------------------------------------------- empty datasets

@MODES
def test_csv_with_only_a_header_is_empty(tmp_path: Path, mode):
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption", "label"], [])
    with pytest.raises(DataError) as info:
        load(path, mode)
    msg = str(info.value)
    assert str(path) in msg and "empty" in msg


@MODES
def test_empty_csv_file(tmp_path: Path, mode):
    path = tmp_path / "pairs.csv"
    path.write_text("\n\n")
    with pytest.raises(DataError) as info:
        load(path, mode)
    assert str(path) in str(info.value) and "empty" in str(info.value)


def test_all_rows_bad_in_skip_mode_is_empty(tmp_path: Path):
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption"],
                     [["img/a.png", "first"], ["img/b.png", "!!!"]])
    with pytest.raises(DataError) as info:
        load(path, "skip")
    err = info.value
    msg = str(err)
    assert str(path) in msg and "empty" in msg and "2 rows skipped" in msg
    # The skipped rows are listed so the user sees why nothing is left.
    assert sorted((p.row, p.file) for p in err.problems) == [(2, str(path)), (3, str(path))]
    assert "row 2: img/a.png: image file not found" in msg
    assert "row 3: caption '!!!' has no words" in msg


def test_many_bad_rows_are_listed_up_to_a_limit(tmp_path: Path):
    for (name, _), color in zip(GOOD, COLORS):
        save_image(tmp_path / name, color)
    rows = list(GOOD) + [(f"img/missing{i}.png", f"caption {i}") for i in range(25)]
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption"], rows)
    with pytest.raises(DataError) as info:
        load(path, "fail")
    err = info.value
    assert len(err.problems) == 25 and "25 bad rows" in str(err)
    assert str(err).count("image file not found") == DataError.MAX_LISTED
    assert "... and 15 more" in str(err)
    table = load(path, "skip")
    assert len(table) == 3 and [p.row for p in table.skipped] == list(range(5, 30))


# ---------------------------------------------------------------- COCO

@MODES
def test_coco_annotation_with_unknown_image_id(tmp_path: Path, mode):
    for i, color in enumerate(COLORS):
        save_image(tmp_path / "images" / f"{i}.jpg", color, fmt="JPEG")
    doc = {"images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(3)],
           "annotations": [{"id": 11, "image_id": 0, "caption": "red square"},
                           {"id": 12, "image_id": 1, "caption": "green square"},
                           {"id": 13, "image_id": 99, "caption": "lost square"},
                           {"id": 14, "image_id": 2, "caption": "blue square"}]}
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(doc, indent=1))
    problem = expect_bad_row(path, mode, 3, "image_id 99 is not in 'images'",
                             images=str(tmp_path / "images"))
    assert "annotation 13" in problem.reason


@MODES
def test_coco_bad_image_file(tmp_path: Path, mode):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "0.jpg").write_bytes(b"")
    for i, color in enumerate(COLORS[1:], start=1):
        save_image(tmp_path / "images" / f"{i}.jpg", color, fmt="JPEG")
    doc = {"images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(3)],
           "annotations": [{"image_id": i % 3, "caption": f"caption {i}"} for i in range(6)]}
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(doc))
    kw = {"images": str(tmp_path / "images")}
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(path, mode, **kw)
        assert [p.row for p in info.value.problems] == [1, 4]
        assert f"{path}, row 1: 0.jpg: not an image" in str(info.value)
    else:
        table = load(path, mode, **kw)
        assert table.rows == [2, 3, 5, 6] and table.images.shape[0] == 2
        assert [p.row for p in table.skipped] == [1, 4]


def test_coco_not_json(tmp_path: Path):
    path = tmp_path / "captions.json"
    path.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(DataError) as info:
        load(path, "skip")
    assert str(path) in str(info.value) and "line 2" in str(info.value)


# ---------------------------------------------------------------- paths outside the folder

@MODES
@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_paths_outside_the_dataset_folder(tmp_path: Path, mode, kind):
    data = tmp_path / "data"
    outside = save_image(tmp_path / "secret.png", (1, 2, 3))
    value = "../secret.png" if kind == "dotdot" else str(outside)
    path = csv_with_bad_row(data, (value, "a picture from elsewhere"), at=3)
    words = ["leaves the dataset folder"] if kind == "dotdot" else ["absolute image path"]
    problem = expect_bad_row(path, mode, 3, repr(value), *words, "data.allow_outside_paths")
    assert problem.reason.count(value) == 1
    # Allowed explicitly, it loads like any other row.
    table = load(path, mode, allow_outside_paths=True)
    assert len(table) == 4 and table.skipped == []
    assert table.rows == [2, 3, 4, 5]
    assert tuple(table.images[table.image_index[1]][:, 8, 8]) == (1, 2, 3)


@MODES
def test_dotdot_that_stays_inside_is_fine(tmp_path: Path, mode):
    path = csv_with_bad_row(tmp_path, ("img/../img/0.png", "a detour to the red square"), at=3)
    table = load(path, mode)
    assert len(table) == 4 and table.skipped == []


@MODES
def test_coco_file_name_outside_is_refused(tmp_path: Path, mode):
    for i, color in enumerate(COLORS):
        save_image(tmp_path / "images" / f"{i}.jpg", color, fmt="JPEG")
    doc = {"images": [{"id": 0, "file_name": "0.jpg"}, {"id": 1, "file_name": "../../etc.jpg"},
                      {"id": 2, "file_name": "2.jpg"}],
           "annotations": [{"image_id": 0, "caption": "red"}, {"image_id": 2, "caption": "blue"}]}
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(doc))
    # Row 2 of 'images' (COCO numbers images and annotations each from 1; the reason says
    # which list), not annotation 2, which is fine.
    expect_bad_row(path, mode, 2, "images entry 1", "leaves the dataset folder", good=2,
                   row_is_a_pair=False, images=str(tmp_path / "images"))

    # An annotation of the refused image says so, rather than that the image is unknown.
    doc["annotations"].append({"id": 7, "image_id": 1, "caption": "the outsider"})
    path.write_text(json.dumps(doc))
    kw = {"images": str(tmp_path / "images")}
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(path, mode, **kw)
        problems = info.value.problems
    else:
        table = load(path, mode, **kw)
        assert table.captions == ["red", "blue"]
        problems = table.skipped
    assert [(p.row, p.reason.split(":")[0]) for p in problems] == \
        [(2, "images entry 1"), (3, "annotation 7")]
    assert problems[1].reason == "annotation 7: image_id 1 has a refused images entry"


@MODES
def test_coco_ids_that_are_not_numbers_or_strings(tmp_path: Path, mode):
    for i, color in enumerate(COLORS):
        save_image(tmp_path / f"{i}.jpg", color, fmt="JPEG")
    doc = {"images": [{"id": 0, "file_name": "0.jpg"}, {"id": [1], "file_name": "1.jpg"},
                      {"id": "two", "file_name": "2.jpg"}],
           "annotations": [{"image_id": 0, "caption": "red"},
                           {"image_id": {"id": 0}, "caption": "odd"},
                           {"image_id": "two", "caption": "blue"}]}
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(doc))
    if mode == "fail":
        with pytest.raises(DataError) as info:
            load(path, mode)
        problems = info.value.problems
    else:
        table = load(path, mode)
        assert table.captions == ["red", "blue"]
        problems = table.skipped
    assert [p.row for p in problems] == [2, 2]
    assert "images entry 'id' [1] is not a number or string" in problems[0].reason
    assert "image_id {'id': 0} is not in 'images'" in problems[1].reason


# ---------------------------------------------------------------- duplicates

@MODES
def test_duplicate_rows(tmp_path: Path, mode):
    path = csv_with_bad_row(tmp_path, ("img/0.png", "a red square"), at=5)
    problem = expect_bad_row(path, mode, 5, "duplicate of row 2", "same image and caption")
    assert "row 5" in str(problem)


@MODES
def test_same_image_written_differently_is_a_duplicate(tmp_path: Path, mode):
    path = csv_with_bad_row(tmp_path, ("./img//0.png", "a red square"), at=4)
    expect_bad_row(path, mode, 4, "duplicate of row 2")


def test_same_image_other_caption_is_not_a_duplicate(tmp_path: Path):
    path = csv_with_bad_row(tmp_path, ("img/0.png", "a crimson square"), at=5)
    table = load(path, "fail")
    assert len(table) == 4 and table.images.shape[0] == 3
    assert table.image_index.tolist() == [0, 1, 2, 0]


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_every_image_missing_points_at_the_image_folder(tmp_path: Path, mode):
    path = write_csv(tmp_path / "pairs.csv", ["image", "caption"],
                     [[f"img/{i}.png", f"caption {i}"] for i in range(6)])
    with pytest.raises(DataError) as info:
        load(path, mode)
    msg = str(info.value)
    assert "none of its 6 images were found" in msg and "--images" in msg
