"""Image folders and CSVs load small fixtures made the way a user would make them.

Each source is loaded twice: ``load_pairs`` (read, check, decode) and ``load_dataset`` (the
same plus vocabulary and split), the two entry points the rest of the workbench uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from data_helpers import (CAPTIONS, COLORS, LABELS, SIZE, centre, check_dataset,
                          check_image_pairs, experiment, near, save_image, write_csv,
                          write_jsonl)
from workbench.core.config import DataConfig
from workbench.core.data import DataError, detect, load_dataset, load_pairs


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


# ------------------------------------------------ image paths: the fast path is the general one

@pytest.mark.parametrize("value", ["a.png", "sub/a.png", "./a.png", "sub//a.png", "sub/./a.png",
                                   "sub/../a.png", "..a.png", "a/", " a.png ", "sub\\a.png",
                                   "a/b/c/d.png", "."])
@pytest.mark.parametrize("root", ["/data/set", "/data/set/", "rel/set", "/"])
def test_resolve_image_path_matches_normpath(root: str, value: str):
    import os

    from workbench.core.data.safepath import resolve_image_path
    got = resolve_image_path(root, value, allow_outside=False)
    raw = value.strip().replace("\\", "/")
    assert isinstance(got, str)
    assert got == os.path.normpath(os.path.join(os.path.normpath(root), raw))


@pytest.mark.parametrize("value", ["../a.png", "sub/../../a.png", "/etc/passwd", ".."])
def test_resolve_image_path_refuses_leaving_the_folder(value: str):
    from workbench.core.data.safepath import PathRefused, resolve_image_path
    with pytest.raises(PathRefused):
        resolve_image_path("/data/set", value, allow_outside=False)
    assert resolve_image_path("/data/set", value, allow_outside=True).startswith("/")
