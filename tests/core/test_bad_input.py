"""The bad-input matrix (issue 7, item 1): each case loads, or fails with a message naming the
file, the row or key, and what was expected; never a crash, never a silently wrong dataset.

Cases already tested elsewhere are not repeated here:
- rows of image files (missing, 0 bytes, truncated PNG/JPEG, text named .png, a folder,
  duplicates, empty captions, COCO ids not in 'images', NPZ NaN/inf, different lengths,
  object arrays, empty CSVs, non-UTF-8 CSV, paths outside the folder) in
  ``tests/core/data/test_bad_input.py``, each in both ``on_error`` modes;
- decoding every image mode, 1x1, 10000x10 and decompression bombs in
  ``tests/core/data/test_images.py``; BOM, semicolons, quoted newlines in
  ``tests/core/data/test_sources.py``; splits of 0-3 pairs in ``test_text_split.py``;
- presets with unknown keys, wrong types, out-of-range values, unknown algorithms, invalid
  algorithm x fusion pairs, newer schema versions and broken TOML in ``test_config.py``.

Here: the rest of the matrix as one table of data cases (a row-level case runs in both
``on_error`` modes: "fail" names the row, "skip" keeps the good rows and reports the bad one),
datasets of 1 and 2 pairs and a single label class trained with every algorithm, and the
preset cases test_config.py does not reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from data_helpers import COLORS, SIZE, save_image, write_csv, write_jsonl
from fixtures import make_image_folder
from workbench.core import config as C
from workbench.core.config import DataConfig
from workbench.core.data import DataError, RowProblem, load_dataset, load_pairs
from workbench.core.errors import ConfigError, WorkbenchError
from workbench.core.presets import load_preset

GOOD = ["a red square", "a green square", "a blue square"]


def good_images(root: Path) -> list[str]:
    """Three small, distinct images under ``root/img``; their paths relative to ``root``."""
    names = []
    for i, caption in enumerate(GOOD):
        save_image(root / "img" / f"{i}.png", COLORS[i])
        names.append(f"img/{i}.png")
    return names


def csv_plus(root: Path, extra: list[tuple[str, str]]) -> Path:
    """A CSV of the three good rows (lines 2-4) followed by ``extra`` rows (lines 5, ...)."""
    rows = list(zip(good_images(root), GOOD)) + extra
    return write_csv(root / "pairs.csv", ["image", "caption"], rows)


def npz(root: Path, **arrays) -> Path:
    path = root / "feats.npz"
    np.savez(path, **arrays)
    return path


def feats(n=4, dt=5, di=3, dtype=np.float32):
    rng = np.random.default_rng(0)
    return {"text": rng.normal(size=(n, dt)).astype(dtype),
            "image": rng.normal(size=(n, di)).astype(dtype)}


# ---------------------------------------------------------------- image kinds, through a CSV

def _mode_image(root: Path, mode: str, size=(12, 10)) -> str:
    name = f"img/{mode.replace(';', '')}-{size[0]}x{size[1]}.png"
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        # A real 16-bit greyscale PNG: a ramp over 0..65535 (Pillow writes mode I;16 as such).
        ramp = np.linspace(0, 65535, size[0] * size[1]).reshape(size[1], size[0])
        Image.fromarray(ramp.astype(np.uint16)).save(path)
    elif mode == "P+transparency":
        im = Image.new("P", size, 1)
        im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
        im.save(path, transparency=0)
    else:
        color = {"RGB": (0, 0, 0), "L": 90, "LA": (90, 200), "RGBA": (10, 200, 10, 128), "P": 3,
                 "1": 1, "CMYK": (0, 255, 255, 0)}[mode]
        Image.new(mode, size, color).save(path, format="JPEG" if mode == "CMYK" else None)
    return name


def _image_kinds(root: Path) -> tuple[Path, dict]:
    extra = [(_mode_image(root, m), f"a picture in mode {m}")
             for m in ("L", "LA", "RGBA", "P", "P+transparency", "1", "I;16")]
    extra += [(_mode_image(root, "RGB", s), f"an image of {s[0]} by {s[1]}")
              for s in ((1, 1), (10000, 10), (10, 10000))]
    return csv_plus(root, extra), {}


# ---------------------------------------------------------------- the table

@dataclass
class Case:
    """``build(tmp_path) -> (source, DataConfig overrides)``; ``expect`` is one of
    ``("ok", n_pairs)``, ``("row", row, *words)`` or ``("source", *words)``."""

    build: Callable[[Path], tuple[Path, dict]]
    expect: tuple
    file: Callable[[Path], Path] | None = None  # the file named in messages, when not source


def _csv_text(text: str, encoding="utf-8"):
    def build(root: Path):
        good_images(root)
        path = root / "pairs.csv"
        path.write_bytes(text.encode(encoding))
        return path, {}
    return build


def _folder_jsonl(records: list[dict], raw: bytes | None = None):
    def build(root: Path):
        names = good_images(root)
        meta = root / "metadata.jsonl"
        if raw is not None:
            meta.write_bytes(raw)
        else:
            write_jsonl(meta, [{"file_name": n, "text": c} for n, c in zip(names, GOOD)]
                        + records)
        return root, {}
    return build


def _coco(annotations: list, raw: bytes | None = None):
    def build(root: Path):
        names = good_images(root)
        path = root / "captions.json"
        doc = {"images": [{"id": i, "file_name": n} for i, n in enumerate(names)],
               "annotations": annotations}
        path.write_bytes(raw if raw is not None else json.dumps(doc).encode())
        return path, {}
    return build


def _npz(**overrides):
    def build(root: Path):
        arrays = {**feats(), **overrides}
        return npz(root, **{k: v for k, v in arrays.items() if v is not None}), {}
    return build


def _long_caption(root: Path):
    return csv_plus(root, [("img/0.png", "word " * 2000)]), {}  # 10,000 characters


def _all_csv_quirks(root: Path):
    # A spreadsheet export with everything at once: BOM, semicolons, a quoted caption with a
    # newline and a semicolon inside, CRLF line ends, trailing empty columns.
    names = good_images(root)
    text = ("\ufeffimage;caption;label;;\r\n"
            f"{names[0]};\"red;\nsquare\";warm;;\r\n"
            f"{names[1]};green square;cool;;\r\n"
            f"{names[2]};blue square;cool;;\r\n")
    path = root / "pairs.csv"
    path.write_bytes(text.encode("utf-8"))
    return path, {}


def _too_big_for_float32(root: Path):
    arrays = feats(dtype=np.float64)
    arrays["text"][2, 0] = 1e39  # finite in the file, inf as float32
    return npz(root, **arrays), {}


CASES = {
    # images of every kind load, letterboxed to the same square
    "image modes and extreme sizes": Case(_image_kinds, ("ok", 13)),
    # CSV shape
    "csv row with too few fields": Case(
        _csv_text("image,caption,label\nimg/0.png,a red square,warm\nimg/1.png,a green square\n"
                  "img/2.png,a blue square,cool\n"),
        ("row", 3, "2 fields, but the header has 3")),
    "csv extra columns are ignored": Case(
        _csv_text("notes,image,caption,width\nx,img/0.png,a red square,12\n"
                  "y,img/1.png,a green square,12\n"), ("ok", 2)),
    "csv with BOM, semicolons, quoted newline, CRLF": Case(_all_csv_quirks, ("ok", 3)),
    "csv image path empty": Case(
        _csv_text("image,caption\nimg/0.png,a red square\n ,no picture\nimg/1.png,green\n"),
        ("row", 3, "no image path in column 'image'")),
    "csv in UTF-16": Case(_csv_text("image,caption\nimg/0.png,red\n", "utf-16"),
                          ("source", "line 1", "not UTF-8")),
    # text
    "10,000-character caption": Case(_long_caption, ("ok", 4)),
    "jsonl not UTF-8": Case(
        _folder_jsonl([], raw='{"file_name": "img/0.png", "text": "caf\xe9"}\n'.encode("latin-1")),
        ("source", "line 1", "not UTF-8", "0xe9"), file=lambda root: root / "metadata.jsonl"),
    "jsonl row without file_name": Case(
        _folder_jsonl([{"text": "where is my picture"}]),
        ("row", 4, "no image path in column 'file_name'"),
        file=lambda root: root / "metadata.jsonl"),
    "jsonl row that is a list": Case(
        _folder_jsonl([["img/0.png", "a list"]]), ("row", 4, "expected a JSON object, got list"),
        file=lambda root: root / "metadata.jsonl"),
    # COCO
    "coco not UTF-8": Case(
        _coco([], raw='{"images": [], "annotations": [{"caption": "\xe9"}]}'.encode("latin-1")),
        ("source", "line 1", "not UTF-8")),
    "coco caption is a number": Case(
        _coco([{"id": 1, "image_id": 0, "caption": "red"}, {"id": 2, "image_id": 1, "caption": 7},
               {"id": 3, "image_id": 2, "caption": "blue"}]),
        ("row", 2, "annotation 2: 'caption' is 7, expected a string")),
    "coco without annotations": Case(_coco([]), ("source", "no usable pairs", "empty")),
    "coco top level is a list": Case(_coco([], raw=b"[1, 2]"), ("source", "not a COCO captions file")),
    # NPZ
    "npz 1-D text": Case(_npz(text=np.zeros(4)), ("source", "'text' has shape (4,)", "(N, D)")),
    "npz 3-D image": Case(_npz(image=np.zeros((4, 3, 2))),
                          ("source", "'image' has shape (4, 3, 2)", "(N, D)")),
    "npz no feature columns": Case(_npz(text=np.zeros((4, 0))), ("source", "no feature columns")),
    "npz 2-D labels": Case(_npz(label=np.zeros((4, 2))),
                           ("source", "'label' has shape (4, 2)", "expected (N,)")),
    "npz fractional labels": Case(_npz(label=np.array([0, 0.5, 1, 1])),
                                  ("source", "'label' holds fractions")),
    "npz integer features": Case(_npz(text=np.arange(20).reshape(4, 5),
                                      image=np.ones((4, 3), np.int8)), ("ok", 4)),
    "npz bool and float16 features": Case(_npz(text=np.ones((4, 5), bool),
                                               image=np.ones((4, 3), np.float16)), ("ok", 4)),
    "npz complex features": Case(_npz(text=np.ones((4, 5), complex)),
                                 ("source", "'text' has dtype complex128", "expected numbers")),
    "npz string features": Case(_npz(image=np.full((4, 3), "x")),
                                ("source", "'image' has dtype <U1", "expected numbers")),
    "npz object labels": Case(_npz(label=np.array([1, "a", None, 2], dtype=object)),
                              ("source", "object (pickled) array")),
    "npz value beyond float32": Case(_too_big_for_float32,
                                     ("row", 3, "text features too large for 32-bit floats")),
    "npz of zero pairs": Case(_npz(text=np.zeros((0, 5)), image=np.zeros((0, 3))),
                              ("source", "no usable pairs", "empty")),
}


def _load(source: Path, mode: str, kw: dict):
    return load_pairs(DataConfig(source=str(source), on_error=mode, **kw), SIZE)


@pytest.mark.parametrize("mode", ["fail", "skip"])
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_matrix(tmp_path: Path, name: str, mode: str):
    case = CASES[name]
    source, kw = case.build(tmp_path)
    file = str(case.file(tmp_path) if case.file else source)
    kind, *rest = case.expect
    if kind == "ok":
        table = _load(source, mode, kw)
        assert len(table) == rest[0] and table.skipped == []
        if table.images is not None:
            assert table.images.shape[1:] == (3, SIZE, SIZE)
        else:
            assert table.text_features.dtype == np.float32
            assert np.isfinite(table.text_features).all()
        return
    if kind == "source":  # the whole source is unusable: an error in both modes
        with pytest.raises(DataError) as info:
            _load(source, mode, kw)
        msg = str(info.value)
        assert msg.startswith(file), msg
        for word in rest:
            assert word in msg, msg
        return
    row, *words = rest
    if mode == "fail":
        with pytest.raises(DataError) as info:
            _load(source, mode, kw)
        msg = str(info.value)
        assert f"{file}, row {row}: " in msg, msg
        assert 'on_error = "skip"' in msg, msg  # and how to go on without the row
        problems = info.value.problems
    else:
        table = _load(source, mode, kw)
        assert row not in table.rows and len(table) >= 1
        problems = table.skipped
    assert len(problems) == 1 and isinstance(problems[0], RowProblem)
    assert (problems[0].file, problems[0].row) == (file, row)
    for word in words:
        assert word in problems[0].reason, problems[0].reason


def test_image_kinds_keep_their_content(tmp_path: Path):
    # Not only no crash: transparency is on white, 16 bits are not black, and extreme aspect
    # ratios are letterboxed (white bands), not stretched.
    source, _ = _image_kinds(tmp_path)
    table = _load(source, "fail", {})
    by_caption = {c: table.images[table.image_index[i]] for i, c in enumerate(table.captions)}
    sixteen = by_caption["a picture in mode I;16"]
    assert sixteen.min() < 40 and sixteen.max() > 200  # the ramp survives as a ramp
    # 10000x10 in a 16 square is one black line across the middle, white above and below.
    wide = by_caption["an image of 10000 by 10"]
    dark_rows = np.flatnonzero(wide.max(axis=(0, 2)) < 128)
    assert dark_rows.tolist() == [(SIZE - 1) // 2] and (wide[:, 0, :] == 255).all()
    tall = by_caption["an image of 10 by 10000"]
    dark_cols = np.flatnonzero(tall.max(axis=(0, 1)) < 128)
    assert dark_cols.tolist() == [(SIZE - 1) // 2] and (tall[:, :, 0] == 255).all()
    assert table.original_sizes[table.image_index[table.captions.index(
        "an image of 1 by 1")]].tolist() == [1, 1]


def test_long_caption_is_cut_to_max_tokens(tmp_path: Path):
    source, _ = _long_caption(tmp_path)
    cfg = C.ExperimentConfig(data=DataConfig(source=str(source), val_fraction=0.0,
                                             test_fraction=0.0),
                             preprocess=C.PreprocessConfig(image_size=SIZE, max_tokens=24))
    ds = load_dataset(cfg)
    assert len(ds.table.captions[3]) == 10_000  # kept whole for display
    assert ds.tokens.shape[1] == 24 and int(ds.lengths.max()) == 24


# ---------------------------------------------------------------- tiny datasets, one class

PRESETS = {"contrastive": "contrastive-emoji", "classifier": "classifier-mean-emoji",
           "autoencoder": "autoencoder-emoji", "adversarial": "adversarial-align-emoji",
           "graph": "graph-gcn-emoji"}
TINY = ["preprocess.image_size=16", "model.embed_dim=8", "model.hidden_dim=8",
        "training.epochs=1", "training.batch_size=4"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("tiny"), n_per_class=1)  # 4 colours


def _subset(shapes: Path, root: Path, n: int, one_class: bool) -> Path:
    """The first ``n`` pairs of ``shapes`` as their own image folder (images shared)."""
    records = [json.loads(line) for line in
               (shapes / "metadata.jsonl").read_text().splitlines()]
    root.mkdir()
    out = []
    for rec in records[:n]:
        (root / rec["file_name"]).write_bytes((shapes / rec["file_name"]).read_bytes())
        out.append({**rec, "label": "red" if one_class else rec["label"]})
    write_jsonl(root / "metadata.jsonl", out)
    return root


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("algorithm", list(PRESETS))
def test_one_and_two_pairs_are_refused_with_the_counts(shapes, tmp_path, algorithm, n):
    """Issue 17, item 16: one pair used to train to a loss of 0 and two to train with nothing
    to validate on; both are refused before a model is built, naming the split's sizes."""
    from workbench.core.training import Trainer
    source = _subset(shapes, tmp_path / "data", n, one_class=False)
    cfg = C.apply_overrides(load_preset(PRESETS[algorithm]), [f"data.source={source}", *TINY])
    ds = load_dataset(cfg)
    assert len(ds) == n and len(ds.indices("train")) >= 1  # training never gets nothing
    end = Trainer(cfg, ds, run_dir=tmp_path / "run").fit()
    assert end.status == "failed" and end.step == 0
    assert f"{n} pair{'s' if n > 1 else ''} loaded: {n} for training, 0 for validation" \
        in end.reason
    assert ("too little data to train" if n == 1 else "nothing to validate on") in end.reason
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("algorithm", ["classifier", "graph", "contrastive"])
def test_a_single_label_class(shapes, tmp_path, algorithm):
    from workbench.core.training import Trainer
    source = _subset(shapes, tmp_path / "data", 4, one_class=True)
    cfg = C.apply_overrides(load_preset(PRESETS[algorithm]), [f"data.source={source}", *TINY])
    ds = load_dataset(cfg)
    assert ds.label_names == ["red"]
    end = Trainer(cfg, ds).fit()
    if algorithm == "classifier":
        assert end.status == "failed"
        assert "needs labels with at least two classes" in end.reason
        assert "data.label_column" in end.reason  # and what to do about it
    else:  # label-free training (the graph ignores a lone class) goes ahead
        assert end.status == "finished", end.reason


def test_zero_pairs_after_skipping_is_refused_before_training(tmp_path):
    source = csv_plus(tmp_path, [])
    for name in ("0.png", "1.png", "2.png"):
        (tmp_path / "img" / name).write_bytes(b"")  # every image unreadable
    with pytest.raises(DataError) as info:
        load_dataset(C.ExperimentConfig(data=DataConfig(source=str(source), on_error="skip")))
    msg = str(info.value)
    assert "no usable pairs (3 rows skipped)" in msg and "row 2: img/0.png" in msg


# ---------------------------------------------------------------- presets

@pytest.mark.parametrize("text, key, words", [
    ("[training]\nepochs = [1, 2]\n", "training.epochs", "got [1, 2], expected an integer"),
    ("[training.epochs]\nx = 1\n", "training.epochs", "expected an integer"),
    ("[data]\nsource = 1979-05-27\n", "data.source", "expected a string"),
    ("[data]\nsource = 3\n", "data.source", "got 3, expected a string"),
    ("[data.extra]\nx = 1\n", "data.extra", "unknown key (known keys here: allow_outside"),
    ("[optimizer]\nlr = nan\n", "optimizer.lr", "got nan, expected a number from"),
    ("[optimizer]\nlr = inf\n", "optimizer.lr", "got inf"),
    ("[training]\nepochs = 99999999999999999\n", "training.epochs", "from 1 to 100000"),
    ("algorithm = \"graph\"\n", "algorithm", "expected a table with 'name' and 'params'"),
    ("[algorithm]\nname = \"graph\"\nparams = 3\n", "algorithm.params", "expected a table"),
    ("[algorithm]\nname = \"graph\"\nextra = 1\n", "algorithm.extra", "name, params"),
    ("[fusion.params]\nheads = 4\n", "fusion.params.heads",
     "fusion.name is not set, so the default 'mean' is used"),
    ("[algorithm]\nname = \"adversarial\"\n[fusion]\nname = \"coattention\"\n", "fusion.name",
     "adversarial cannot use 'coattention' fusion: generated captions"),
    ("schema_version = 0\n", "schema_version", "no migration from schema 0"),
    ("schema_version = 2\n", "schema_version", "upgrade Workbench"),
    ("schema_version = true\n", "schema_version", "whole number"),
    ("device = \"cuda:x\"\n", "device", "cuda:N"),
    ("description = 5\n", "description", "expected a string"),
])
def test_preset_problems_name_file_and_key(tmp_path, text, key, words):
    path = tmp_path / "preset.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        C.load(path)
    err = info.value
    assert err.file == str(path) and err.key == key, (err.file, err.key)
    assert str(err).startswith(f"{path}: {key}: ") and words in str(err), str(err)


@pytest.mark.parametrize("text, where", [
    ("[training]\nepochs = 1\nepochs = 2\n", "line 3"),  # a key given twice
    ("[training\nepochs = 1\n", "line 1"),
    ("seed = 1\n[data]\nsource = \"unterminated\n", "line 3"),
    ("\x00", "line 1"),
])
def test_broken_toml_names_the_line(tmp_path, text, where):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        C.load(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: not valid TOML") and where in msg, msg


def test_data_and_config_errors_are_workbench_errors():
    # The GUI and CLI show WorkbenchError text as is; anything else is a bug report.
    assert issubclass(DataError, WorkbenchError) and issubclass(ConfigError, WorkbenchError)
