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
    from workbench.core.data.sources import npz
    monkeypatch.setattr(npz, "available_memory", lambda: 200)  # a machine with 200 bytes
    with pytest.raises(DataError, match=r"ok.npz: its arrays take 336 bytes once read, more "
                                        r"than half of the memory available \(200 bytes\)"):
        load_pairs(DataConfig(source=str(tmp_path / "ok.npz")), SIZE)
