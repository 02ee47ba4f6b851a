"""Bad files, round two: what used to be read wrong or waited on. An unclosed quote
swallowing the rest of a CSV, bad rows reported in instalments, a FIFO given as data or as
an image, an .npz whose headers ask for more than the file holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data_helpers import COLORS, SIZE, save_image
from workbench.core.config import DataConfig
from workbench.core.data import DataError, load_pairs

MODES = pytest.mark.parametrize("mode", ["fail", "skip"])


def _shapes_csv(tmp_path: Path, n: int) -> list[str]:
    """The lines of a CSV of ``n`` pairs (header first), its images written."""
    for i in range(3):
        save_image(tmp_path / "img" / f"{i}.png", COLORS[i])
    return ["image,text,label"] + [f"img/{i % 3}.png,shape number {i},c{i % 3}"
                                   for i in range(n)]


@MODES
def test_an_unclosed_quote_is_refused_not_swallowing_the_rest(tmp_path: Path, mode):
    """A quote opening a label on row 11 of 200 read the other 189 rows into that one label:
    10 pairs, exit 0 (and "Skipped 1 row" in skip mode while 190 were gone)."""
    lines = _shapes_csv(tmp_path, 200)
    lines[11] = 'img/1.png,shape number 10,"c1'
    (tmp_path / "quote.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_pairs(DataConfig(source=str(tmp_path / "quote.csv"), on_error=mode), SIZE)
    message = str(err.value)
    assert "quote.csv: line 12: a quoted field opens here and runs for 190 lines" in message
    assert "closing quote missing" in message and "data.max_caption_lines = 20" in message


@MODES
def test_a_label_or_path_never_spans_lines(tmp_path: Path, mode):
    lines = _shapes_csv(tmp_path, 30)
    lines[27] = 'img/0.png,shape number 26,"c0'  # 4 lines from the end: under the limit
    (tmp_path / "late.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"late.csv: line 28: the label in column 'label' "
                                        r"runs over 4 lines; only a caption may span lines"):
        load_pairs(DataConfig(source=str(tmp_path / "late.csv"), on_error=mode), SIZE)


def test_captions_may_span_lines_and_every_record_is_accounted_for(tmp_path: Path):
    lines = _shapes_csv(tmp_path, 30)
    lines[5] = 'img/1.png,"a caption\nover\nthree lines",c1'
    lines[9] = 'img/1.png,"' + "\n".join(f"line {k}" for k in range(25)) + '",c1'
    lines[12] = "img/9.png,a missing image,c0"
    (tmp_path / "multi.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 1[0-9]: a quoted field opens here and runs"):
        load_pairs(DataConfig(source=str(tmp_path / "multi.csv")), SIZE)
    cfg = DataConfig(source=str(tmp_path / "multi.csv"), on_error="skip",
                     max_caption_lines=30)
    table = load_pairs(cfg, SIZE)
    assert "a caption\nover\nthree lines" in table.captions
    assert len(table) + len(table.skipped) == 30  # pairs + skipped = records read
    [missing] = table.skipped
    assert missing.row == 13 + 2 + 24 and "9.png" in missing.reason  # lines, not records


def test_fail_mode_lists_every_bad_row_of_every_kind_at_once(tmp_path: Path):
    """2 empty captions and 3 missing images: the load reported the captions; once they were
    fixed, the images came next."""
    lines = _shapes_csv(tmp_path, 20)
    for k in (3, 9):
        lines[k] = "img/0.png,,c0"
    for k in (5, 12, 17):
        lines[k] = f"img/gone{k}.png,shape number {k},c1"
    lines[15] = "img/1.png,one,two,three"  # and a row with too many fields
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_pairs(DataConfig(source=str(tmp_path / "bad.csv")), SIZE)
    assert [(p.row, p.reason.split(":")[0]) for p in err.value.problems] == [
        (4, "empty caption"), (6, "img/gone5.png"), (10, "empty caption"),
        (13, "img/gone12.png"), (16, "4 fields, but the header has 3 (image, text, label)"),
        (18, "img/gone17.png")]
    skipped = load_pairs(DataConfig(source=str(tmp_path / "bad.csv"), on_error="skip"),
                         SIZE).skipped
    assert [p.row for p in skipped] == [p.row for p in err.value.problems]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_the_data_or_as_an_image_is_refused_not_waited_on(tmp_path: Path):
    """Reading a FIFO blocks until something writes to it: the load hung for ever."""
    import os
    import subprocess
    import sys
    fifo = tmp_path / "pairs.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"pairs.csv: is a FIFO \(named pipe\), not a regular"):
        load_pairs(DataConfig(source=str(fifo)), SIZE)
    lines = _shapes_csv(tmp_path, 6)
    os.mkfifo(tmp_path / "img" / "pipe.png")
    lines[4] = "img/pipe.png,a pipe,c0"
    (tmp_path / "ok.csv").write_text("\n".join(lines) + "\n")
    table = load_pairs(DataConfig(source=str(tmp_path / "ok.csv"), on_error="skip"), SIZE)
    [skipped] = table.skipped
    assert skipped.row == 5 and "a FIFO (named pipe), not an image file" in skipped.reason
    # The command line as a user runs it: a message and exit 1, within seconds.
    done = subprocess.run([sys.executable, "-m", "workbench", "data", "inspect", str(fifo)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "FIFO" in done.stderr and "Traceback" not in done.stderr


def test_npz_headers_are_read_before_any_array(tmp_path: Path, monkeypatch):
    """A 464-byte file whose header declared a huge shape raised numpy's _ArrayMemoryError;
    a file that is not a zip was reported as holding a pickled array."""
    import io
    import zipfile
    text, image = np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32)
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(forged, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10**9, 10**4)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("text.npy", forged.getvalue() + b"\0" * 64)
        buf = io.BytesIO()
        np.save(buf, image)
        z.writestr("image.npy", buf.getvalue())
    assert (tmp_path / "huge.npz").stat().st_size < 1000
    with pytest.raises(DataError, match=r"huge.npz: array 'text' declares shape "
                                        r"\(1000000000, 10000\) of float32 \(37,252.9 GB\) "
                                        r"but its member holds 192 bytes"):
        load_pairs(DataConfig(source=str(tmp_path / "huge.npz")), SIZE)
    (tmp_path / "text.npz").write_bytes(b"\x80\x04 a pickle, not a zip")
    with pytest.raises(DataError, match="not a readable .npz: it is not a zip archive"):
        load_pairs(DataConfig(source=str(tmp_path / "text.npz")), SIZE)
    np.savez(tmp_path / "ok.npz", text=text, image=image)
    from workbench.core.data import memory
    monkeypatch.setattr(memory, "available_memory", lambda: 400)  # a machine with 400 bytes
    with pytest.raises(DataError, match=r"ok.npz: its arrays take 336 bytes once read, more "
                                        r"than the 200 bytes data may take \(half of the "
                                        r"400 bytes available"):
        load_pairs(DataConfig(source=str(tmp_path / "ok.npz")), SIZE)
    # data.max_memory_gb sets the limit instead
    with pytest.raises(DataError, match=r"more than the 107 bytes data may take "
                                        r"\(data.max_memory_gb = 1e-07\)"):
        load_pairs(DataConfig(source=str(tmp_path / "ok.npz"), max_memory_gb=1e-7), SIZE)


# ---------------------------------------------------------------- found by the fuzz
# Each input below was found by test_fuzz_readers.py and raised something other than a
# DataError (the exception it raised is in the docstring).

def _npy(a: np.ndarray) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes], *, deflate: bool = False) -> Path:
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _features_zip(path: Path, **kw) -> Path:
    return _zip(path, {"text.npy": _npy(np.ones((3, 2), np.float32)),
                       "image.npy": _npy(np.ones((3, 2), np.float32))}, **kw)


def _set_in_central_directory(path: Path, offset: int, value: bytes) -> None:
    """Overwrite a field of every central directory entry (zipfile reads them from there)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        data[at + offset: at + offset + len(value)] = value
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def _damage_deflate_stream(path: Path) -> None:
    # The first byte of a deflate stream names the block type; 0xff names type 3, reserved.
    data = bytearray(path.read_bytes())
    name_len, extra_len = np.frombuffer(bytes(data[26:30]), "<u2")
    data[30 + name_len + extra_len] = 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    # zlib.error: Error -3 while decompressing data: invalid block type
    ("deflate", r"not a readable .npz: damaged compressed data \(Error -3"),
    # NotImplementedError: That compression method is not supported
    ("method", r"its zip uses a feature Python's zipfile cannot read \(That compression "
               r"method is not supported\)"),
    # NotImplementedError: zip file version 17.8
    ("version", r"its zip uses a feature Python's zipfile cannot read \(zip file version "
                r"17.8\)"),
    # RuntimeError: File 'text.npy' is encrypted, password required for extraction
    ("encrypted", r"array 'text' is encrypted; save the .npz without a password"),
])
def test_npz_whose_zip_cannot_be_read_is_a_data_error(tmp_path: Path, damage, message):
    path = _features_zip(tmp_path / "feats.npz", deflate=damage == "deflate")
    if damage == "deflate":
        _damage_deflate_stream(path)
    else:
        offset, value = {"method": (10, b"\x63\x00"), "version": (6, b"\xb2\x00"),
                         "encrypted": (8, b"\x01\x00")}[damage]
        _set_in_central_directory(path, offset, value)
    with pytest.raises(DataError, match="feats.npz: .*" + message):
        load_pairs(DataConfig(source=str(path)), SIZE)


@pytest.mark.parametrize("shape", [
    (10**200, 10**200),  # OverflowError: cannot convert float infinity to integer
    (0, 2**70),  # OverflowError: Python int too large to convert to C long (in np.load)
    (-2, 3),
])
def test_npz_header_declaring_an_impossible_shape_is_a_data_error(tmp_path: Path, shape):
    import io
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(forged, {"descr": "<f4", "fortran_order": False,
                                                  "shape": shape})
    path = _zip(tmp_path / "forged.npz", {"text.npy": forged.getvalue() + b"\0" * 32,
                                          "image.npy": _npy(np.ones((3, 2)))})
    with pytest.raises(DataError, match=rf"forged.npz: array 'text' declares shape "
                                        rf"\({shape[0]}, {shape[1]}\) of float32, which no "
                                        rf"array can have: a damaged or forged file"):
        load_pairs(DataConfig(source=str(path)), SIZE)


@pytest.mark.parametrize("key", ["label", "caption"])
def test_npz_label_or_caption_of_one_value_is_a_data_error(tmp_path: Path, key):
    """TypeError: len() of unsized object."""
    np.savez(tmp_path / "one.npz", text=np.ones((3, 2)), image=np.ones((3, 2)),
             **{key: np.array(5 if key == "label" else "a caption")})
    with pytest.raises(DataError, match=rf"one.npz: '{key}' has shape \(\), expected \(N,\): "
                                        r"one per pair"):
        load_pairs(DataConfig(source=str(tmp_path / "one.npz")), SIZE)


def test_npz_members_that_are_not_arrays_are_left_out_with_a_note(tmp_path: Path):
    """np.load hands a member without .npy out as its bytes: a raw "text" raised
    AttributeError: 'bytes' object has no attribute 'ndim'; a raw "label" of 12 bytes was
    read as 12 labels."""
    ones = _npy(np.ones((3, 2), np.float32))
    path = _zip(tmp_path / "raw.npz", {"text.npy": ones, "image.npy": ones,
                                       "label": b"not an array", "README": b"hello"})
    table = load_pairs(DataConfig(source=str(path)), SIZE)
    assert len(table) == 3 and table.labels is None
    assert table.notes == ["raw.npz: 'label', 'README' left out (not .npy arrays)"]
    # Named "text" but not .npy: "text.npy" is what is missing, and the message says so.
    path = _zip(tmp_path / "raw2.npz", {"text": ones, "image.npy": ones})
    with pytest.raises(DataError, match=r"raw2.npz: missing array 'text'; .* it has: image "
                                        r"\(and 'text', not a .npy array\)"):
        load_pairs(DataConfig(source=str(path)), SIZE)


@pytest.mark.parametrize("fmt", ["csv", "coco"])
def test_an_image_path_holding_a_nul_is_a_bad_row(tmp_path: Path, fmt):
    """ValueError: embedded null byte (os.stat in safepath.special_file)."""
    import json
    save_image(tmp_path / "a.png", COLORS[0])
    if fmt == "csv":
        path = tmp_path / "pairs.csv"
        path.write_text("image,text\na.png,a red square\na\x00.png,a nul\n")
    else:
        path = tmp_path / "captions.json"
        path.write_text(json.dumps({
            "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "a\x00.png"}],
            "annotations": [{"image_id": 1, "caption": "a red square"},
                            {"image_id": 2, "caption": "a nul"}]}))
    table = load_pairs(DataConfig(source=str(path), on_error="skip"), SIZE)
    assert table.captions == ["a red square"]
    assert [(p.row, p.reason) for p in table.skipped] == ([
        (3, "image path 'a\\x00.png' holds a NUL character")] if fmt == "csv" else [
        (2, "images entry 2: image path 'a\\x00.png' holds a NUL character"),
        (2, "annotation 2: image_id 2 has a refused images entry")])


def test_a_coco_file_holding_a_number_thousands_of_digits_long_is_a_data_error(tmp_path):
    """ValueError: Exceeds the limit (4300 digits) for integer string conversion."""
    path = tmp_path / "captions.json"
    path.write_text('{"images": [{"id": ' + "1" * 5000 + ', "file_name": "a.png"}], '
                    '"annotations": []}')
    with pytest.raises(DataError, match=r"captions.json: not a COCO captions file: it holds a "
                                        r"number thousands of digits long \(no id is\)"):
        load_pairs(DataConfig(source=str(path)), SIZE)


@pytest.mark.parametrize("value, reason", [
    # RecursionError: maximum recursion depth exceeded while decoding a JSON array
    ("[" * 5000 + "]" * 5000, "nested too deeply to read"),
    # ValueError: Exceeds the limit (4300 digits) for integer string conversion
    ("1" * 5000, "a number thousands of digits long"),
])
def test_a_jsonl_line_json_cannot_read_is_a_bad_row(tmp_path: Path, value, reason):
    save_image(tmp_path / "a.png", COLORS[0])
    (tmp_path / "metadata.jsonl").write_text(
        '{"file_name": "a.png", "text": "a red square"}\n'
        '{"file_name": "a.png", "text": "two", "label": ' + value + "}\n")
    table = load_pairs(DataConfig(source=str(tmp_path), on_error="skip"), SIZE)
    assert [(p.row, p.reason) for p in table.skipped] == [(2, f"not valid JSON ({reason})")]


def test_labels_int_cannot_read_are_sorted_as_text(tmp_path: Path):
    """ValueError: invalid literal for int() with base 10: '²' ("²".isdigit() is true), and
    ValueError: Exceeds the limit (4300 digits) for integer string conversion."""
    for i in range(2):
        save_image(tmp_path / f"{i}.png", COLORS[i])
    long = "1" * 5000
    (tmp_path / "pairs.csv").write_text(
        f"image,text,label\n0.png,one,\u00b2\n1.png,two,10\n0.png,three,{long}\n1.png,four,9\n")
    table = load_pairs(DataConfig(source=str(tmp_path / "pairs.csv")), SIZE)
    assert table.label_names == ["9", "10", long, "\u00b2"]
