"""Fuzz tests (hypothesis) of the readers of a user's files: CSV and JSON lines (a CSV source,
an image folder's metadata), COCO captions, .npz features and TOML presets.

The property: whatever a file holds, loading it through the entry points the CLI and the GUI
use (``load_pairs``, behind ``workbench data inspect`` and training; ``presets.load_preset``
and ``presets.import_preset``) gives a result or a :class:`WorkbenchError` naming the file,
never another exception (a traceback in the CLI, a crash dialog in the GUI).

The inputs are broken in structured ways, not only random bytes: rows under the real column
names with missing and extra fields, quotes left open, NUL bytes, BOMs and other encodings;
image paths to real, missing, empty, truncated and garbage images; COCO documents whose real
keys hold the wrong types, repeated ids and deep nesting; .npz files whose real array names
hold any dtype and shape, damaged zips and forged headers; presets whose real sections and
keys hold wrong types, out-of-range and huge values. Most values are good ones: a file broken
everywhere stops at the first check, and the later checks need files that get that far.

Each test runs a fixed number of examples (2,050 in all), sized so the file takes about 30 s
in CI. ``WORKBENCH_FUZZ_EXAMPLES`` multiplies them, for a longer run (25: about 10 minutes;
``--timeout=0`` lifts pytest-timeout's 300 s a test)::

    WORKBENCH_FUZZ_EXAMPLES=25 python -m pytest -p no:cacheprovider --timeout=0 \\
        --hypothesis-show-statistics tests/core/data/test_fuzz_readers.py
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from data_helpers import COLORS, save_image
from fuzz_helpers import damaged, fuzz, load_or_refuse, mostly, sometimes
from workbench.core import config as C
from workbench.core import presets
from workbench.core.algorithms import ALGORITHMS
from workbench.core.config import DataConfig
from workbench.core.data import load_pairs
from workbench.core.errors import ConfigError
from workbench.core.fusion import FUSIONS
from workbench.core.params import describe

# ---------------------------------------------------------------- values in the files

@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """A folder of images good and bad, which the generated files name."""
    from PIL import Image
    root = tmp_path_factory.mktemp("fuzz_images")
    save_image(root / "red.png", COLORS[0])
    save_image(root / "sub" / "green.png", COLORS[1])
    save_image(root / "blue.jpg", COLORS[2], fmt="JPEG")
    Image.new("RGBA", (7, 3), (1, 2, 3, 40)).save(root / "alpha.png")
    Image.new("I;16", (4, 4), 300).save(root / "deep.png")
    good = (root / "red.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n not really" * 3)
    (root / "empty.png").write_bytes(b"")
    (root / "folder.png").mkdir()
    return root


IMAGE_NAMES = mostly(
    st.sampled_from(["red.png", "sub/green.png", "blue.jpg", "alpha.png", "deep.png"]),
    st.one_of(st.sampled_from([
        "truncated.png", "garbage.png", "empty.png", "folder.png", "missing.png",
        "sub\\green.png", "./red.png", "sub/../red.png", "../red.png", "/etc/hostname", "",
        " ", ".", "..", "red.png\x00.txt", "\udc80.png", "r\u00e9d.png", "red.png ",
        "C:\\red.png", "//server/red.png"]), st.text(max_size=12)))
TEXT = mostly(
    st.one_of(st.sampled_from(["a red square", "a green circle", "caf\u00e9 au lait"]),
              st.text("abc xyz", min_size=1, max_size=20)),
    st.one_of(st.sampled_from(["", " ", "!!!", "two\nlines", '"quoted"', "x \u2028 y", "\x00",
                               "\ufeffbom", "a\r\nb"]), st.text(max_size=30)))
LABEL_VALUES = mostly(
    st.sampled_from(["warm", "cool", "0", "1", "10", "x1y22"]),
    st.one_of(st.sampled_from(["", " ", "\u00b2", "\u0663", "\u2460", "1" * 5000, "nan", "\x00"]),
              st.text(max_size=8)))
ROLES = {"image": IMAGE_NAMES, "text": TEXT, "label": LABEL_VALUES}
# (column name, what its cells hold): the names the readers look for, and others.
COLUMNS = st.one_of(
    st.sampled_from([("image", "image"), ("file_name", "image"), ("text", "text"),
                     ("caption", "text"), ("label", "label"), ("class", "label")]),
    st.tuples(st.one_of(st.sampled_from(["Image ", "TEXT", "", "path", "file"]),
                        st.text(max_size=8)), st.sampled_from(list(ROLES))))
HEADERS = mostly(  # image and text in any order, with or without a label
    st.permutations([("image", "image"), ("text", "text"), ("label", "label")]).flatmap(
        lambda cols: st.sampled_from([cols, [c for c in cols if c[0] != "label"]])),
    st.lists(COLUMNS, min_size=1, max_size=5))
ENCODINGS = st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "utf-16", "latin-1", "cp1252"])

# Placeholders that to_json() writes as what json.dumps cannot: a value nested thousands
# deep, a number thousands of digits long.
DEEP, HUGE = "@@ nested deep @@", "@@ huge number @@"
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                         st.text(max_size=10), st.sampled_from([DEEP, HUGE]))
JSON_ANY = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8)


def to_json(draw, value) -> str:
    """``value`` as JSON text (NaN and Infinity as Python writes them), placeholders filled."""
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    depth = draw(st.sampled_from([50, 900, 5000]))
    return text.replace(json.dumps(DEEP), "[" * depth + "1" + "]" * depth).replace(
        json.dumps(HUGE), "1" * 5000)


def encode(text: str, encoding: str) -> bytes:
    # Lone surrogates and characters the codec lacks become '?': the file is what it is.
    return text.encode(encoding, errors="replace")


def load_file(folder: Path, name: str, data: bytes, draw, **settings) -> None:
    """Write ``data`` as ``name`` in a fresh folder below ``folder`` and load it as the CLI
    would, with the config settings that change how a file is read drawn at random."""
    work = Path(tempfile.mkdtemp(dir=folder))
    try:
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        note(f"{name}: {data[:3000]!r}")
        source = path
        if path.name.startswith("metadata.") and draw(st.booleans()):
            source = path.parent  # an image folder, given by its folder as users do
        cfg = DataConfig(source=str(source),
                         on_error=draw(st.sampled_from(["fail", "skip"])),
                         label_column=draw(st.sampled_from(["", "", "none", "label"])),
                         text_column=draw(st.sampled_from([""] * 8 + ["text", "nope"])),
                         image_column=draw(st.sampled_from([""] * 8 + ["image", "file_name"])),
                         max_caption_lines=draw(st.sampled_from([1, 3, 20])),
                         allow_outside_paths=draw(st.booleans()), **settings)
        note(f"config: {cfg}")
        load_or_refuse(lambda: load_pairs(cfg, 8), source)
    finally:
        shutil.rmtree(work)


# ---------------------------------------------------------------- CSV

@st.composite
def csv_files(draw) -> bytes:
    header = draw(HEADERS)
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        row = [draw(ROLES[role]) for _, role in header]
        extra = draw(st.sampled_from([0] * 6 + [-2, -1, 1, 2]))  # fields missing or added
        rows.append(row[:extra] if extra < 0 else row + [draw(TEXT) for _ in range(extra)])
    names = [name for name, _ in header]
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from(["minimal", "all", "none", "by hand"]))
    buf = io.StringIO(newline="")
    if quoting == "by hand":  # quotes and delimiters inside cells left as they are
        end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        buf.write(end.join(delimiter.join(r) for r in [names, *rows]))
    else:
        writer = csv.writer(buf, delimiter=delimiter, escapechar="\\", quoting={
            "minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL, "none": csv.QUOTE_NONE}[quoting])
        for r in [names, *rows]:
            try:
                writer.writerow(r)
            except csv.Error:  # QUOTE_NONE cannot write a lone empty field: write it bare
                buf.write(delimiter.join(r) + "\r\n")
    text = buf.getvalue()
    if text and sometimes(draw, 4):  # a quote left open somewhere
        at = draw(st.integers(0, len(text)))
        text = text[:at] + '"' + text[at:]
    if sometimes(draw, 4):
        text = "\ufeff" + text
    return draw(damaged(encode(text, draw(ENCODINGS))))


@fuzz(450)
@given(st.data())
def test_csv_loads_or_is_a_data_error(images, data):
    name = data.draw(st.sampled_from(["pairs.csv", "pairs.tsv", "metadata.csv",
                                      "sub/metadata.csv"]))
    # The file sits in a folder below the images: data.images names them (as --images
    # does), or else most paths miss or leave the folder.
    load_file(images, name, data.draw(csv_files()), data.draw,
              images=data.draw(st.sampled_from(["", str(images), str(images)])))


# ---------------------------------------------------------------- JSON lines

@st.composite
def jsonl_files(draw) -> bytes:
    header = draw(HEADERS)
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        record = {name: draw(mostly(ROLES[role], JSON_ANY)) for name, role in header
                  if not sometimes(draw, 10)}  # a key left out now and then
        lines.append(to_json(draw, draw(mostly(st.just(record), JSON_ANY))))
    if lines and sometimes(draw, 4):  # a line cut short, two on one, too deep
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = draw(st.sampled_from([lines[i][: len(lines[i]) // 2],
                                         lines[i] + ", " + lines[i], "[" * 5000 + "]" * 5000,
                                         '{"file_name": ' + "[" * 900 + "]" * 900 + "}"]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return draw(damaged(encode(end.join(lines), draw(ENCODINGS))))


@fuzz(300)
@given(st.data())
def test_jsonl_loads_or_is_a_data_error(images, data):
    name = data.draw(st.sampled_from(["metadata.jsonl", "sub/metadata.jsonl"]))
    load_file(images, name, data.draw(jsonl_files()), data.draw,
              images=data.draw(st.sampled_from(["", str(images), str(images)])))


# ---------------------------------------------------------------- COCO

IDS = mostly(st.integers(0, 3), st.one_of(
    st.sampled_from([1.0, "1", "", "nan", 1e308, 2**70, True, None, float("nan")]), JSON_ANY))


@st.composite
def coco_files(draw) -> bytes:
    image = st.builds(lambda i, f: {"id": i, "file_name": f}, IDS, mostly(IMAGE_NAMES, JSON_ANY))
    caption = st.builds(lambda a, i, c: {"id": a, "image_id": i, "caption": c},
                        st.integers(0, 20), IDS, mostly(TEXT, JSON_ANY))
    doc = {"images": draw(mostly(st.lists(mostly(image, JSON_ANY, 7), min_size=1, max_size=6),
                                 JSON_ANY, 7)),
           "annotations": draw(mostly(st.lists(mostly(caption, JSON_ANY, 7), min_size=1,
                                               max_size=8), JSON_ANY, 7))}
    for entries in doc.values():  # keys left out, other keys added
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry and sometimes(draw, 6):
                entry.pop(draw(st.sampled_from(sorted(entry))))
            if isinstance(entry, dict) and sometimes(draw, 6):
                entry[draw(st.text(max_size=5))] = draw(JSON_ANY)
    if draw(st.booleans()):
        doc["categories"] = draw(JSON_ANY)
    if sometimes(draw, 20):
        del doc[draw(st.sampled_from(["images", "annotations"]))]
    text = to_json(draw, doc)
    return draw(damaged(encode(text, draw(ENCODINGS))))


@fuzz(350)
@given(st.data())
def test_coco_loads_or_is_a_data_error(images, data):
    load_file(images, "captions.json", data.draw(coco_files()), data.draw,
              images=str(images), format=data.draw(st.sampled_from(["auto", "coco"])))


# ---------------------------------------------------------------- npz

DTYPES = st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
                   hnp.boolean_dtypes(), hnp.complex_number_dtypes(),
                   hnp.unicode_string_dtypes(max_len=4), hnp.byte_string_dtypes(max_len=4),
                   hnp.datetime64_dtypes(), st.just(np.dtype([("a", "<f4"), ("b", "<i2")])))


def any_array(n: int) -> st.SearchStrategy:
    """Any dtype and shape; half the time ``n`` rows, which gets past the length check."""
    shapes = st.one_of(
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4).map(
            lambda s: (n, *s[1:])),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    objects = st.lists(JSON_ANY, min_size=n, max_size=n).map(
        lambda v: np.array(v + [None], dtype=object)[:n])  # pickled by savez
    return st.one_of(DTYPES.flatmap(lambda dt: shapes.flatmap(
        lambda s: hnp.arrays(dt, s))), objects)


def good_arrays(n: int, d: int) -> dict[str, st.SearchStrategy]:
    features = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int8]), (n, d))
    names = hnp.arrays(np.dtype("<U6"), st.integers(0, 4).map(lambda k: (k,)))
    return {"text": features, "image": features, "caption": hnp.arrays(np.dtype("<U8"), (n,)),
            "label": hnp.arrays(st.sampled_from([np.int64, np.uint8, np.float32,
                                                 np.dtype("<U3")]), (n,)),
            "label_names": names, "target_names": names}


@st.composite
def npz_files(draw) -> bytes:
    n, d = 0 if sometimes(draw, 8) else draw(st.integers(1, 5)), draw(st.integers(1, 3))
    good = good_arrays(n, d)
    named = {}
    for name in [*good, "ids", "a/b", "text.npy"]:
        # text and image most of the time (the reader needs them), each other one at times
        if not sometimes(draw, 8) if name in ("text", "image") else sometimes(draw, 3):
            named[name] = draw(mostly(good[name], any_array(n)) if name in good else
                               any_array(n))
    buf = io.BytesIO()
    how = draw(st.sampled_from(["savez"] * 5 + ["savez_compressed", "by hand", "not a zip"]))
    if how == "not a zip":
        return draw(st.binary(max_size=200))
    if how == "by hand":  # members savez would never write: no .npy, raw bytes, forged headers
        with zipfile.ZipFile(buf, "w") as z, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a name twice ("text" + ".npy")
            for name, a in named.items():
                member = name + draw(st.sampled_from([".npy", ".npy", ""]))
                z.writestr(member, draw(st.one_of(st.just(_npy(a)), st.just(_npy(a)),
                                                  st.binary(max_size=40), forged_headers())))
    else:
        getattr(np, how)(buf, **named)
    return draw(damaged(buf.getvalue()))


def _npy(a: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, a, allow_pickle=True)
    return out.getvalue()


@st.composite
def forged_headers(draw) -> bytes:
    """An .npy header declaring any shape and dtype, with a little data after it."""
    shape = tuple(draw(st.lists(st.one_of(st.integers(0, 5), st.integers(0, 2**64),
                                          st.just(10**200), st.integers(-3, -1)), max_size=3)))
    descr = draw(st.sampled_from(["'<f4'", "'|u1'", "'<U0'", "'|V0'", "'O'", "'<c16'",
                                  "[('a', '<f4')]", "'bogus'", "3", "'<f4', 'x': 1"]))
    header = f"{{'descr': {descr}, 'fortran_order': {draw(st.booleans())}, 'shape': {shape}, }}"
    version = draw(st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x09"]))
    size = struct.pack("<H" if version == b"\x01\x00" else "<I", len(header) + 1)
    return b"\x93NUMPY" + version + size + header.encode() + b"\n" + draw(st.binary(max_size=32))


@fuzz(400)
@given(st.data())
def test_npz_loads_or_is_a_data_error(images, data):
    load_file(images, "features.npz", data.draw(npz_files()), data.draw,
              format=data.draw(st.sampled_from(["auto", "npz"])))


# ---------------------------------------------------------------- presets (TOML)

SECTIONS = {"data": C.DataConfig, "preprocess": C.PreprocessConfig, "model": C.ModelConfig,
            "optimizer": C.OptimizerConfig, "training": C.TrainingConfig,
            "pretrained": C.PretrainedConfig}
TOML_SCALARS = st.one_of(
    st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(), st.text(max_size=12),
    st.sampled_from([0, -1, 1e-300, 1e300, 2**32, "adam", "fail", "cuda:0", "builtin:emoji"]),
    st.datetimes(), st.dates(), st.times())
TOML_VALUES = st.recursive(TOML_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
TOML_HUGE = 7_777_777_777_777  # a placeholder, written as a number too long for any reader


def tables(cls) -> st.SearchStrategy:
    """A table of ``cls``'s keys (and an unknown one), their values mostly in range."""
    infos = {i.name: i for i in describe(cls)}

    def value(key):
        info = infos.get(key)
        if info is None:
            return TOML_VALUES
        good = [st.just(info.default)]
        if info.choices:
            good.append(st.sampled_from(info.choices))
        elif info.type in (int, float) and info.min is not None and info.max is not None:
            good.append((st.integers if info.type is int else st.floats)(info.min, info.max))
        return mostly(st.one_of(*good), TOML_VALUES, times=7)

    keys = mostly(st.sampled_from(list(infos)), st.just("unknown_key"), 15) if infos else \
        st.just("unknown_key")
    return st.lists(keys.flatmap(lambda k: st.tuples(st.just(k), value(k))),
                    max_size=5).map(dict)


def components(registry) -> st.SearchStrategy:
    """An ``[algorithm]`` or ``[fusion]`` table: a name (mostly a real one) and its params."""
    def table(name):
        params = tables(registry[name].params) if name in registry else TOML_VALUES
        return st.fixed_dictionaries({}, optional={
            "name": mostly(st.just(name), TOML_VALUES, times=7),
            "params": mostly(params, TOML_VALUES, times=7)})
    return st.sampled_from([*registry, "no such"]).flatmap(table)


@st.composite
def preset_files(draw) -> bytes:
    doc = {}
    for key, good in (("schema_version", st.just(1)), ("description", st.text(max_size=20)),
                      ("seed", st.integers(0, 2**32 - 1)),
                      ("device", st.sampled_from(["auto", "cpu", "cuda:1"]))):
        if draw(st.booleans()):
            doc[key] = draw(mostly(good, TOML_SCALARS, times=7))
    for name, cls in SECTIONS.items():
        if draw(st.booleans()):
            doc[name] = draw(mostly(tables(cls), TOML_VALUES, times=11))
    for name, registry in (("algorithm", ALGORITHMS), ("fusion", FUSIONS)):
        if draw(st.booleans()):
            doc[name] = draw(mostly(components(registry), TOML_VALUES, times=11))
    if sometimes(draw, 20):
        doc[draw(st.text(max_size=6))] = draw(TOML_VALUES)
    # Keys are checked in the file's order: any of them may be the first one seen.
    doc = dict(draw(st.permutations(list(doc.items()))))
    digits = draw(st.sampled_from([""] * 6 + ["9" * 20, "1" * 400, "1" * 5000]))
    if digits:  # past 64 bits, past a float, past Python's 4300 digits
        where = draw(st.sampled_from([("seed",), ("schema_version",), ("optimizer", "lr"),
                                      ("training", "epochs"), ("data", "val_fraction"),
                                      ("algorithm", "name"), ("fusion", "params", "heads")]))
        table = doc
        for part in where[:-1]:
            table = table.setdefault(part, {}) if isinstance(table.get(part, {}), dict) else {}
        table[where[-1]] = TOML_HUGE
    text = tomli_w.dumps(doc).replace(str(TOML_HUGE), digits)
    how = draw(st.sampled_from(["as is"] * 10 + ["any text", "nested"]))
    if how == "any text":
        text = draw(st.text(max_size=200))
    elif how == "nested":
        depth = draw(st.sampled_from([100, 2000]))
        text = "x = " + "[" * depth + "]" * depth + "\n" + text
    return draw(damaged(encode(text, draw(st.sampled_from(["utf-8"] * 9 + ["utf-16"])))))


@fuzz(450)
@given(st.data())
def test_preset_loads_or_is_a_config_error(tmp_path, data):
    raw = data.draw(preset_files())
    path = tmp_path / "fuzzed.toml"
    path.write_bytes(raw)
    note(f"fuzzed.toml: {raw[:3000]!r}")
    cfg = load_or_refuse(lambda: presets.load_preset(path), path)
    if cfg is not None:  # what loads also imports (a save and a check) and reads back equal
        assert C.load(presets.import_preset(path)) == cfg


@fuzz(100)
@given(name=st.one_of(st.sampled_from(["~", "~0", "~nobody/x", "contrastive-emoji", "..",
                                       "a\x00b", "/", "x.toml", "\udc80"]),
                      st.text(max_size=20)))
def test_a_preset_name_finds_a_preset_or_is_a_config_error(name):
    # --preset NAME and the GUI's preset box: any text, paths, "~user", NULs included.
    try:
        presets.load_preset(name)
    except ConfigError:
        pass


# ---------------------------------------------------------------- found by the fuzz
# Presets that raised something other than a ConfigError (named in each docstring). The
# data files found are in test_bad_files.py.

def test_a_number_thousands_of_digits_long_is_a_config_error(tmp_path):
    """ValueError: Exceeds the limit (4300 digits) for integer string conversion (tomllib)."""
    path = tmp_path / "long.toml"
    path.write_text("seed = " + "1" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"long.toml: not a preset: it holds a number "
                                          r"thousands of digits long, which no setting takes"):
        presets.load_preset(path)


@pytest.mark.parametrize("key", ["algorithm", "fusion"])
def test_a_component_name_that_is_not_text_is_a_config_error(tmp_path, key):
    """TypeError: unhashable type: 'list' (the name was looked up in the registry)."""
    path = tmp_path / "name.toml"
    path.write_text(f"[{key}]\nname = [1]\n")
    with pytest.raises(ConfigError, match=rf"name.toml: {key}.name: got \[1\], expected one "
                                          r"of '"):
        presets.load_preset(path)


@pytest.mark.parametrize("name, user", [("~no-such-user-3f9a/p.toml", "~no-such-user-3f9a"),
                                        ("~\x00", "~\x00")])
def test_a_preset_named_after_no_users_home_is_a_config_error(name, user):
    """Path(name).expanduser() raised RuntimeError: Could not determine home directory; and
    with a NUL, ValueError: embedded null byte."""
    with pytest.raises(ConfigError) as err:
        presets.load_preset(name)
    assert str(err.value) == f"no preset named {name!r}: {user!r} names no user's home folder"


def test_an_integer_past_a_floats_range_is_a_config_error(tmp_path):
    """OverflowError: int too large to convert to float (a float setting given an integer)."""
    path = tmp_path / "lr.toml"
    path.write_text("[optimizer]\nlr = " + "1" * 400 + "\n")
    with pytest.raises(ConfigError, match=r"lr.toml: optimizer.lr: got 1{400}, expected a "
                                          r"number from 1e-06 to 10"):
        presets.load_preset(path)
