"""The bad-input matrix from the command line (issue 17): each case builds a bad input, runs
``python -m workbench ...`` in a fresh process as a user would, and expects a non-zero exit,
a message naming the file and the row or key, and no Python traceback.

One table, ``CASES``; each row says which item of issue 17 it covers. The library-level
matrices (``tests/core/test_bad_input.py``, ``tests/core/data/test_bad_input.py``,
``tests/core/data/test_bad_files.py``) test the same readers in depth; here only the path
from the command line to the message is checked, one case per way of going wrong.
A few rows are inputs the issue says must be *accepted* (an .npz with extra arrays, training
with ``--on-error skip``): those expect exit 0 with the note, still without a traceback.
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from data_helpers import COLORS, save_image
from fixtures import make_image_folder, resave_checkpoint, tiny_config
from workbench.core import config as C


class Stock:
    """What several cases start from, made once per module (per xdist worker): a tiny
    preset over a generated image folder, and (on first use) a checkpoint it trained."""

    def __init__(self, root: Path):
        self.root = root
        self.preset = C.save(tiny_config(make_image_folder(root / "shapes", n_per_class=3),
                                         "algorithm.name=classifier", "fusion.name=late"),
                             root / "tiny.toml")

    @functools.cached_property
    def checkpoint(self) -> Path:
        """``checkpoints/last.pt`` of one epoch of the tiny preset (trained in this process:
        about a second)."""
        from workbench.cli import main
        out = self.root / "trained"
        assert main(["train", str(self.preset), "--epochs", "1", "--out", str(out)]) == 0
        return out / "checkpoints" / "last.pt"


@dataclass
class Case:
    item: int  # the item of issue 17 it covers
    build: Callable[[Path, Stock], list[str]]  # makes the input in tmp; returns the argv
    says: tuple[str, ...]  # what the output must hold: the file, and the row or key
    exit: int | None = None  # None: any non-zero status
    signal_after_steps: int | None = None  # send this signal once the run has logged steps
    skip: str = ""  # why it cannot run on this machine


# ---------------------------------------------------------------- builders

def _three_images(tmp: Path) -> None:
    for i in range(3):
        save_image(tmp / "img" / f"{i}.png", COLORS[i])


def _csv(tmp: Path, name: str, n: int, replace: dict[int, str]) -> Path:
    """A CSV of ``n`` rows over three images; ``replace`` maps a line number (1: the header)
    to the text written there instead."""
    _three_images(tmp)
    lines = ["image,text,label"] + [f"img/{i % 3}.png,shape number {i},c{i % 3}"
                                    for i in range(n)]
    for line, text in replace.items():
        lines[line - 1] = text
    path = tmp / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _shapes_csv(tmp: Path, name: str, replace: dict[int, str]) -> Path:
    """A CSV over a small generated image folder (12 pairs, enough to train the tiny
    preset), with lines replaced as in :func:`_csv`."""
    folder = make_image_folder(tmp / "shapes", n_per_class=3)
    records = [json.loads(x) for x in (folder / "metadata.jsonl").read_text().splitlines()]
    lines = ["image,text,label"] + [f"{r['file_name']},{r['text']},{r['label']}"
                                    for r in records]
    for line, text in replace.items():
        lines[line - 1] = text
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _npz(tmp: Path, name: str, **arrays) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"text": rng.normal(size=(6, 5)).astype(np.float32),
              "image": rng.normal(size=(6, 3)).astype(np.float32), **arrays}
    np.savez(tmp / name, **arrays)
    return tmp / name


def _npy_member(array_header: dict, data: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, array_header)
    return buf.getvalue() + data


def _forged_npz(tmp: Path, name: str, *, text_shape, declared_size: int | None = None
                ) -> Path:
    """An .npz whose 'text' header declares ``text_shape`` over 64 bytes of data; with
    ``declared_size`` its zip entry also claims that many bytes uncompressed (what a zip
    bomb's directory says: the issue's 2.9 MB file inflated to 3.9 GB)."""
    with zipfile.ZipFile(tmp / name, "w") as z:
        z.writestr("text.npy", _npy_member({"descr": "<f4", "fortran_order": False,
                                            "shape": text_shape}, b"\0" * 64))
        buf = io.BytesIO()
        np.save(buf, np.zeros((4, 2), np.float32))
        z.writestr("image.npy", buf.getvalue())
        if declared_size is not None:
            z.getinfo("text.npy").file_size = declared_size  # written to the directory
    return tmp / name


def _coco(tmp: Path, name: str, doc) -> Path:
    _three_images(tmp)
    path = tmp / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _torch():
    import torch
    return torch


def _checkpoint(tmp: Path, **changes) -> Path:
    """A checkpoint file holding the parts every checkpoint has, with ``changes`` (None
    removes a part)."""
    import torch
    payload = {"format": 1, "model": {}, "optim": {}, "epoch": 1, "step": 1, "config": {},
               "info": {}, "vocab": None, "rng": {}}
    payload.update(changes)
    payload = {k: v for k, v in payload.items() if v is not None}
    torch.save(payload, tmp / "bad.pt")
    return tmp / "bad.pt"


def _fifo(tmp: Path, name: str) -> Path:
    os.mkfifo(tmp / name)
    return tmp / name


def _used_folder(tmp: Path, files: dict[str, str]) -> Path:
    out = tmp / "used"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    return out


def _locked_folder(tmp: Path) -> Path:
    out = tmp / "busy"
    out.mkdir()
    # Held by this test's process: alive, on this host, so never stale.
    (out / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                           "started": "2026-01-01 00:00:00"}))
    return out


def _deep_toml(tmp: Path) -> Path:
    path = tmp / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _read_only(tmp: Path) -> Path:
    folder = tmp / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def _fifo_image_csv(tmp: Path) -> Path:
    path = _csv(tmp, "pipe.csv", 6, {5: "img/pipe.png,a pipe,c0"})
    _fifo(tmp / "img", "pipe.png")
    return path


def _train(stock: Stock, *more: str) -> list[str]:
    return ["train", str(stock.preset), *more]


def _inspect(path: Path, *more: str) -> list[str]:
    return ["data", "inspect", str(path), *more]


# ---------------------------------------------------------------- the table

HAS_FIFO = hasattr(os, "mkfifo")
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

CASES = {
    # 1. A run folder belongs to one run.
    "out-is-another-run": Case(1, lambda t, s: _train(s, "--out", str(_used_folder(
        t, {"config.toml": "", "metrics.jsonl": ""}))), ("used is not empty (a run folder)",
                                                         "--overwrite")),
    "overwrite-a-non-run-folder": Case(1, lambda t, s: _train(s, "--overwrite", "--out", str(
        _used_folder(t, {"notes.txt": "mine"}))), ("--overwrite:", "used is not a run folder")),
    "out-locked-by-a-live-run": Case(1, lambda t, s: _train(
        s, "--out", str(_locked_folder(t))), ("busy is being written by another run",
                                              f"pid {os.getpid()}")),
    # 2. An unclosed quote never swallows the rest of a CSV; a label never spans lines.
    "csv-unclosed-quote": Case(2, lambda t, s: _inspect(_csv(
        t, "quote.csv", 200, {12: 'img/1.png,shape number 10,"c1'})),
        ("quote.csv: line 12: a quoted field opens here", "data.max_caption_lines")),
    "csv-unclosed-quote-skip-mode": Case(2, lambda t, s: _inspect(_csv(
        t, "quote.csv", 200, {12: 'img/1.png,shape number 10,"c1'}), "--on-error", "skip"),
        ("quote.csv: line 12: a quoted field opens here",)),
    "csv-label-over-lines": Case(2, lambda t, s: _inspect(_csv(
        t, "late.csv", 30, {28: 'img/0.png,shape number 26,"c0'})),
        ("late.csv: line 28: the label in column 'label' runs over 4 lines",)),
    # 3. Extra arrays in an .npz are left out with a note; integer labels take their names.
    "npz-extra-arrays-accepted": Case(3, lambda t, s: _inspect(_npz(
        t, "named.npz", label=np.array([0, 1, 0, 1, 0, 1]), label_names=np.array(["cat", "dog"]),
        ids=np.arange(6))), ("named.npz: array 'ids' left out", "cat", "dog"), exit=0),
    "npz-label-without-a-name": Case(3, lambda t, s: _inspect(_npz(
        t, "named.npz", label=np.array([0, 1, 0, 5, 0, 1]), label_names=np.array(["cat", "dog"]))),
        ("named.npz: row 4: label 5 has no name in 'label_names'",)),
    # 4. Fail mode lists every bad row of every kind at once.
    "csv-every-bad-row-at-once": Case(4, lambda t, s: _inspect(_csv(t, "bad.csv", 20, {
        4: "img/0.png,,c0", 10: "img/0.png,,c0", 6: "img/gone5.png,five,c1",
        13: "img/gone12.png,twelve,c1", 18: "img/gone17.png,seventeen,c1"})),
        ("bad.csv", "row 4", "row 10", "gone5.png", "gone12.png", "gone17.png")),
    # 5. A COCO image id given twice with other files.
    "coco-duplicate-image-id": Case(5, lambda t, s: _inspect(_coco(t, "captions.json", {
        "images": [{"id": 1, "file_name": "img/0.png"}, {"id": 2, "file_name": "img/1.png"},
                   {"id": 1, "file_name": "img/2.png"}],
        "annotations": [{"id": 10, "image_id": 1, "caption": "which one"},
                        {"id": 11, "image_id": 2, "caption": "a green square"}]})),
        ("captions.json", "images entry 1 repeats the id of images entry 1",
         "images entries 1 and 3")),
    # 6. The output is checked before the data loads.
    "out-is-a-file": Case(6, lambda t, s: _train(s, "--out", str(_used_folder(
        t, {"config.toml": ""}) / "config.toml")), ("config.toml is a file, not a folder",)),
    "out-read-only": Case(6, lambda t, s: _train(s, "--out", str(_read_only(t) / "run")),
                          ("locked is not writable",),
                          skip="root writes into read-only folders" if ROOT else ""),
    # 7. An .npz's headers are read before any array.
    "npz-huge-declared-shape": Case(7, lambda t, s: _inspect(_forged_npz(
        t, "huge.npz", text_shape=(10**9, 10**4))),
        ("huge.npz: array 'text' declares shape (1000000000, 10000)", "192 bytes")),
    "npz-zip-bomb": Case(7, lambda t, s: _inspect(_forged_npz(
        t, "bomb.npz", text_shape=(1 << 40,), declared_size=4 << 40)),
        ("bomb.npz: its arrays take", "data may take (half of the")),
    "npz-not-a-zip": Case(7, lambda t, s: _inspect(_write(
        t / "text.npz", b"\x80\x04 a pickle, not a zip")), ("text.npz", "not a zip archive")),
    # 8. Decoded images are estimated before decoding, and refused over the limit.
    "images-over-the-memory-limit": Case(8, lambda t, s: _inspect(_csv(t, "big.csv", 6, {}),
        "--set", "preprocess.image_size=256", "--set", "data.max_memory_gb=0.0001"),
        ("big.csv: holding its 3 images at preprocess.image_size = 256 needs 576.0 KB",
         "data.max_memory_gb = 0.0001", "preprocess.image_size = 109 or less would fit")),
    # 9. Nested thousands deep; damaged checkpoints.
    "coco-nested-deep": Case(9, lambda t, s: _inspect(_coco(
        t, "deep.json", '{"images": ' + "[" * 100_000 + "]" * 100_000 + ', "annotations": []}')),
        ("deep.json", "nested too deeply")),
    "preset-nested-deep": Case(9, lambda t, s: ["train", str(_deep_toml(t))],
                               ("deep.toml", "nested too deeply")),
    "checkpoint-missing-part": Case(9, lambda t, s: _train(
        s, "--resume", str(_checkpoint(t, rng=None))), ("bad.pt", "'rng'", "missing")),
    "checkpoint-string-epoch": Case(9, lambda t, s: _train(
        s, "--resume", str(_checkpoint(t, epoch="1"))), ("bad.pt", "'epoch'", "str '1'")),
    "checkpoint-bad-rng": Case(9, lambda t, s: _train(s, "--epochs", "2", "--resume", str(
        resave_checkpoint(s.checkpoint, t / "bad.pt", rng={"torch": _torch().zeros(3)}))),
        ("bad.pt", "random-number state ('rng') cannot be restored")),
    # 10. A FIFO is refused, not waited on.
    "fifo-as-the-csv": Case(10, lambda t, s: _inspect(_fifo(t, "pairs.csv")),
                            ("pairs.csv: is a FIFO (named pipe), not a regular file",),
                            skip="" if HAS_FIFO else "no FIFOs here"),
    "fifo-as-an-image": Case(10, lambda t, s: _inspect(_fifo_image_csv(t)),
                             ("pipe.csv", "row 5", "a FIFO (named pipe), not an image file"),
                             skip="" if HAS_FIFO else "no FIFOs here"),
    # 11. A killed or stopped torchrun peer: two-process runs, so with the other torchrun
    # runs in tests/core/test_distributed.py (test_a_lost_peer_ends_the_run_in_one_line_...).
    # 12. SIGTERM stops a run as Ctrl-C does: exit 130 and a checkpoint, not exit 143.
    "sigterm-during-training": Case(12, lambda t, s: _train(
        s, "--epochs", "10000", "--out", str(t / "run")),
        ("SIGTERM received", "stopped", "run folder:"), exit=130,
        signal_after_steps=signal.SIGTERM),
    # 14. Resuming with other settings names what differs; nothing left to train says so.
    "resume-with-another-algorithm": Case(14, lambda t, s: _train(
        s, "--set", "algorithm.name=contrastive", "--set", "fusion.name=mean", "--epochs",
        "2", "--resume", str(s.checkpoint)),
        ("last.pt", "algorithm 'classifier' then, 'contrastive' now")),
    "resume-nothing-left-to-train": Case(14, lambda t, s: _train(
        s, "--epochs", "1", "--resume", str(s.checkpoint)),
        ("last.pt: nothing left to train", "training.epochs = 1")),
    # 15. train takes --on-error: fail names the rows, skip reports them and trains.
    "train-bad-rows-fail": Case(15, lambda t, s: _train(s, "--data", str(_shapes_csv(
        t, "rows.csv", {3: "gone.png,a missing image,red", 5: "red_square_0.png,,red"}))),
        ("rows.csv", "row 3", "gone.png", "row 5", "empty caption")),
    "train-bad-rows-skip": Case(15, lambda t, s: _train(s, "--on-error", "skip", "--data", str(
        _shapes_csv(t, "rows.csv", {3: "gone.png,a missing image,red"}))),
        ("skipped 1 row of", "rows.csv, row 3", "gone.png"), exit=0),
    # 16. Data that cannot be trained or validated is refused with the split's sizes.
    "train-one-pair": Case(16, lambda t, s: _train(s, "--data", str(_csv(t, "one.csv", 1, {}))),
        ("too little data to train: 1 pair loaded: 1 for training", "load 3 or more")),
    "train-labels-with-one-example-each": Case(16, lambda t, s: _train(s, "--data", str(_npz(
        t, "unique.npz", text=np.ones((30, 4)), image=np.ones((30, 3)), label=np.arange(30)))),
        ("nothing to validate on: 30 pairs loaded", "each of the 30 labels has one example")),
    "train-an-empty-preset": Case(16, lambda t, s: ["train", str(_write(t / "empty.toml", b""))],
                                  ("empty.toml: the preset holds no settings",)),
}



# ---------------------------------------------------------------- the test

@pytest.fixture(scope="module")
def stock(tmp_path_factory) -> Stock:
    return Stock(tmp_path_factory.mktemp("stock"))


def _run(argv: list[str], case: Case, tmp: Path, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "workbench", *argv]
    if case.signal_after_steps is None:
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp,
                              timeout=180)
    steps = Path(argv[argv.index("--out") + 1]) / "steps.jsonl"
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp)
    try:
        deadline = time.monotonic() + 120
        while not steps.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(case.signal_after_steps)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_from_the_command_line(name, stock, tmp_path, _workbench_home):
    case = CASES[name]
    if case.skip:
        pytest.skip(case.skip)
    argv = case.build(tmp_path, stock)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "WORKBENCH_HOME": str(_workbench_home)}
    done = _run(argv, case, tmp_path, env)
    output = done.stdout + done.stderr
    where = f"workbench {' '.join(argv)}\nexit {done.returncode}\n{output[-3000:]}"
    assert "Traceback" not in output, where
    if case.exit is None:
        assert done.returncode != 0, where
    else:
        assert done.returncode == case.exit, where
    missing = [s for s in case.says if s not in output]
    assert not missing, f"{missing} not in the output of {where}"
