"""Fuzz tests (hypothesis) of the sharded readers: Parquet files and WebDataset tars.

The property, as in test_fuzz_readers.py: whatever the shards hold, ``load_pairs`` (in both
error modes) and the quick look (``workbench data inspect`` on a large source) give a result
or a :class:`WorkbenchError` naming the file or a shard, never another exception.

The inputs are structured-but-broken: Parquet files with random schemas built from the
column kinds the reader knows (an image as a struct of bytes and path, as binary or as a
path string; a caption as a string, a list of strings or an integer; a label as an integer,
a string or a float, with or without a ClassLabel in the ``huggingface`` metadata, its names
any length; columns of nulls alone), null cells, empty files, files cut at any byte, random
bytes called .parquet and shards with differing schemas; tars whose members have keys with
dots, garbage or truncated images, .txt / .json / .cls of any content (invalid UTF-8,
non-integer classes), a classnames.txt shorter than the indices, members twice, tars cut at
any byte and random bytes called .tar.

Each test runs a fixed number of examples (540 in all), sized so the file takes about 10 s
in CI. ``WORKBENCH_FUZZ_EXAMPLES`` multiplies them, for a longer run::

    WORKBENCH_FUZZ_EXAMPLES=10 python -m pytest -p no:cacheprovider --timeout=0 \\
        --hypothesis-show-statistics tests/core/data/test_fuzz_shards.py
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from fuzz_helpers import cut_or_damaged, fuzz, load_or_refuse, mostly, sometimes
from workbench.core.config import DataConfig
from workbench.core.data import load_pairs
from workbench.core.data.quick_look import quick_look

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("webdataset")

def png(color=(200, 30, 30), size=(6, 5)) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


GOOD_PNG = png()
IMAGE_BYTES = mostly(st.sampled_from([GOOD_PNG, png((10, 200, 10), (3, 9))]), st.one_of(
    st.sampled_from([b"", GOOD_PNG[: len(GOOD_PNG) // 2], b"\x89PNG\r\n\x1a\n not really",
                     b"\xff\xd8\xff"]), st.binary(max_size=40)))
TEXT = mostly(st.sampled_from(["a red square", "caf\u00e9", "two words"]),
              st.one_of(st.sampled_from(["", " ", "\x00", "\ud800"]), st.text(max_size=12)))


def load_everyhow(source: Path, shards: list[Path], draw, **settings) -> None:
    """Load ``source`` in both error modes and through the quick look."""
    names = [source, *shards]
    for mode in ("fail", "skip"):
        cfg = DataConfig(source=str(source), on_error=mode, **settings)
        note(f"config: {cfg}")
        load_or_refuse(lambda: load_pairs(cfg, 16), *names)
    cfg = DataConfig(source=str(source), on_error=draw(st.sampled_from(["fail", "skip"])),
                     **settings)
    load_or_refuse(lambda: quick_look(cfg, 16, above=0, sample=5), *names)


# ---------------------------------------------------------------- Parquet

def image_column(draw, n: int):
    kind = draw(st.sampled_from(["struct", "struct", "binary", "path", "struct_bytes_only",
                                 "all null"]))
    nulls = st.sampled_from([False] * 5 + [True])
    if kind == "all null":  # pyarrow's null type, as pa.array([None, None]) has
        return pa.nulls(n)

    def cell(value):
        return None if draw(nulls) else value

    if kind == "binary":
        return pa.array([cell(draw(IMAGE_BYTES)) for _ in range(n)], pa.binary())
    if kind == "path":
        return pa.array([cell(draw(mostly(st.sampled_from(["red.png"]), st.sampled_from(
            ["missing.png", "", "../x.png", "/etc/hostname", ".", "a\x00b"])))) for _ in
            range(n)], pa.string())
    if kind == "struct_bytes_only":
        return pa.array([cell({"bytes": draw(IMAGE_BYTES)}) for _ in range(n)],
                        pa.struct([("bytes", pa.binary())]))
    return pa.array([cell({"bytes": cell(draw(IMAGE_BYTES)),
                           "path": cell(draw(st.sampled_from(["red.png", "missing.png", ""])))})
                     for _ in range(n)], pa.struct([("bytes", pa.binary()),
                                                    ("path", pa.string())]))


def text_column(draw, n: int):
    kind = draw(st.sampled_from(["string", "string", "list", "int"]))
    nulls = st.sampled_from([False] * 5 + [True])
    if kind == "string":
        return pa.array([None if draw(nulls) else draw(TEXT).encode("utf-8", "replace")
                         .decode("utf-8") for _ in range(n)], pa.string())
    if kind == "list":
        return pa.array([None if draw(nulls) else [
            None if draw(nulls) else draw(TEXT).encode("utf-8", "replace").decode("utf-8")
            for _ in range(draw(st.integers(0, 3)))] for _ in range(n)],
            pa.list_(pa.string()))
    return pa.array([None if draw(nulls) else draw(st.integers(-5, 5)) for _ in range(n)],
                    pa.int64())


def label_column(draw, n: int):
    nulls = st.sampled_from([False] * 5 + [True])
    kind = draw(st.sampled_from(["int", "int", "string", "float", "all null"]))
    if kind == "all null":
        return pa.nulls(n)
    if kind == "string":
        return pa.array([None if draw(nulls) else draw(TEXT).encode("utf-8", "replace")
                         .decode("utf-8") for _ in range(n)], pa.string())
    if kind == "float":
        return pa.array([None if draw(nulls) else draw(st.floats()) for _ in range(n)])
    return pa.array([None if draw(nulls) else draw(mostly(
        st.integers(0, 3), st.sampled_from([-1, -2, 7, 2**40, -2**63]))) for _ in range(n)],
        pa.int64())


def hf_metadata(draw, columns: dict) -> dict | None:
    how = draw(st.sampled_from(["none", "classlabel", "classlabel", "classlabel", "junk"]))
    if how == "none":
        return None
    if how == "junk":
        return {b"huggingface": draw(st.sampled_from([
            b"", b"not json", b"[]", b'{"info": 3}', b'{"info": {"features": []}}',
            b"\xff\xfe", b'{"info": {"features": {"label": 3}}}',
            b'{"info": {"features": {"label": {"names": 3}}}}']))}
    features = {}
    for name in columns:
        if name in ("label", "class") or sometimes(draw, 4):
            names = draw(mostly(st.lists(st.sampled_from(["cool", "warm", "x"]), max_size=4),
                                st.lists(st.one_of(st.none(), st.integers(), st.text(
                                    max_size=3)), max_size=4)))
            features[name] = {"_type": "ClassLabel", "names": names}
        if name == "image" and draw(st.booleans()):
            features[name] = {"_type": draw(st.sampled_from(["Image", "Value", 3]))}
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


@st.composite
def parquet_tables(draw):
    n = draw(st.sampled_from([0] + [1, 2, 3, 5] * 3))
    columns = {}
    for name, make, one_in in (("image", image_column, 12), ("text", text_column, 12),
                               ("label", label_column, 2), ("__key__", None, 4)):
        if sometimes(draw, one_in) if name in ("image", "text") else not sometimes(draw, one_in):
            continue
        if make is None:
            columns[name] = pa.array([draw(st.sampled_from(["k1", "k1", "a.b", ""]))
                                      for _ in range(n)], pa.string())
            continue
        new = draw(mostly(st.just(name), st.sampled_from(
            ["file_name", "caption", "class", "Image", "x"])))
        columns[new] = make(draw, n)
    table = pa.table(columns) if columns else pa.table({"x": pa.array([1] * n)})
    meta = hf_metadata(draw, columns)
    if meta:
        table = table.replace_schema_metadata(meta)
    return table


@st.composite
def parquet_files(draw) -> bytes:
    how = draw(st.sampled_from(["table"] * 8 + ["empty", "random"]))
    if how == "empty":
        return b""
    if how == "random":
        return draw(st.one_of(st.binary(max_size=200), st.binary(max_size=40).map(
            lambda b: b"PAR1" + b + b"PAR1")))
    buf = io.BytesIO()
    table = draw(parquet_tables())
    note(f"table: {table.schema} {table.to_pylist()[:5]!r}"[:3000])
    pq.write_table(table, buf, row_group_size=draw(st.sampled_from([None, 1, 2])))
    return cut_or_damaged(draw, buf.getvalue())


@fuzz(220)
@given(st.data())
def test_parquet_loads_or_is_a_data_error(tmp_path, data):
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        (work / "red.png").write_bytes(GOOD_PNG)
        shards = []
        for i in range(data.draw(st.sampled_from([1, 1, 2, 3]))):
            path = work / f"part-{i}.parquet"
            path.write_bytes(data.draw(parquet_files()))
            note(f"{path.name}: {path.stat().st_size} bytes")
            shards.append(path)
        source = shards[0] if len(shards) == 1 and data.draw(st.booleans()) else work
        load_everyhow(source, shards, data.draw,
                      label_column=data.draw(st.sampled_from(["", "", "none", "label"])),
                      text_column=data.draw(st.sampled_from([""] * 6 + ["text", "nope"])),
                      image_column=data.draw(st.sampled_from([""] * 6 + ["image"])))
    finally:
        shutil.rmtree(work)


# ---------------------------------------------------------------- WebDataset

KEYS = mostly(st.sampled_from(["000001", "000002", "000003"]), st.sampled_from(
    ["a.b", "a.b.c", ".hidden", "x/y", "dir/a.b", "__key__", "-", " ", "k\u00e9"]))
EXTS = mostly(st.sampled_from(["png", "jpg", "txt", "cls", "json"]), st.sampled_from(
    ["PNG", "webp", "gz", "", "txt.gz", "tar", "cls2"]))


def member(draw, ext: str) -> bytes:
    base = ext.lower()
    if base in IMAGE_EXTS:
        return draw(IMAGE_BYTES)
    if base == "txt":
        good = TEXT.map(lambda t: t.encode("utf-8", "replace"))
    elif base == "cls":
        good = mostly(st.sampled_from([b"0", b"1", b"2", b"warm", b" 1 "]), st.sampled_from(
            [b"-1", b"99", b"1.5", b"\xd9\xa3", b"\xb2", b"1" * 5000, b"", b"\x00"]))
    elif base == "json":
        good = st.one_of(
            st.fixed_dictionaries({"caption": mostly(TEXT, st.one_of(
                st.none(), st.integers(), st.lists(st.integers(), max_size=2)))}).map(
                lambda d: json.dumps(d).encode()),
            st.sampled_from([b"[]", b"3", b"{", b'"x"', b"[" * 5000, b'{"text": "t"}']))
    else:
        good = st.binary(max_size=20)
    return draw(mostly(good, st.one_of(st.binary(max_size=30), st.sampled_from(
        [b"\xff\xfe\xfa", b"\xed\xa0\x80"]))))


IMAGE_EXTS = ("png", "jpg", "jpeg", "webp")


@st.composite
def tar_files(draw) -> bytes:
    if sometimes(draw, 10):
        return draw(st.sampled_from([b"", b"\0" * 1024])) if draw(st.booleans()) else \
            draw(st.binary(max_size=600))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT if sometimes(
            draw, 4) else tarfile.GNU_FORMAT) as tar:
        for _ in range(draw(st.integers(0, 5))):
            key = draw(KEYS)
            exts = draw(mostly(st.just(["png", "txt", "cls"]), st.lists(EXTS, max_size=4)))
            for ext in exts:
                content = member(draw, ext)
                info = tarfile.TarInfo(f"{key}.{ext}" if ext else key)
                if sometimes(draw, 20):
                    info.type = draw(st.sampled_from([tarfile.DIRTYPE, tarfile.SYMTYPE]))
                    info.linkname = "000001.png"
                    tar.addfile(info)
                    continue
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return cut_or_damaged(draw, buf.getvalue())


@fuzz(220)
@given(st.data())
def test_webdataset_loads_or_is_a_data_error(tmp_path, data):
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        shards = []
        for i in range(data.draw(st.sampled_from([1, 1, 2, 3]))):
            path = work / f"data-{i:06d}.tar"
            raw = data.draw(tar_files())
            path.write_bytes(raw)
            note(f"{path.name}: {raw[:3000]!r}")
            shards.append(path)
        if data.draw(st.booleans()):
            names = data.draw(mostly(st.sampled_from([b"cool\nwarm\n", b"only\n", b""]),
                                     st.sampled_from([b"\xff\xfe\x00", b"a\x00b\n"])))
            (work / "classnames.txt").write_bytes(names)
            note(f"classnames.txt: {names!r}")
        source = data.draw(st.sampled_from(
            ["folder", "file", "pattern"] if len(shards) > 1 else ["folder", "file"]))
        source = {"folder": work, "file": shards[0],
                  "pattern": work / f"data-{{000000..{len(shards):06d}}}.tar"}[source]
        # classnames.txt is beside the shards: a message about it names it
        load_everyhow(source, [*shards, work / "classnames.txt"], data.draw,
                      label_column=data.draw(st.sampled_from(["", "", "none", "cls"])),
                      text_column=data.draw(st.sampled_from([""] * 6 + ["json", "txt"])),
                      image_column=data.draw(st.sampled_from([""] * 6 + ["png"])))
    finally:
        shutil.rmtree(work)


@fuzz(100)
@given(raw=st.binary(max_size=300), name=st.sampled_from(["x.parquet", "x.tar", "x.arrow"]))
def test_random_bytes_as_a_shard_are_a_data_error(tmp_path, raw, name):
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / name
    path.write_bytes(raw)
    note(f"{name}: {raw!r}")
    for mode in ("fail", "skip"):
        load_or_refuse(lambda: load_pairs(DataConfig(source=str(path), on_error=mode), 16),
                       path)
    load_or_refuse(lambda: quick_look(DataConfig(source=str(path)), 16, above=0, sample=5),
                   path)
