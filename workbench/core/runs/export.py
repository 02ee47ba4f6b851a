"""Exports of a run for other tools: embeddings (CSV, NPY), metrics (CSV), a TensorBoard log.

Embeddings come from a run's snapshot (``snapshots/embeddings-eNNNN.npz``) or a live
:class:`EmbeddingSnapshot`; captions and labels come from the pair table, by dataset row,
so they do not depend on the split. Layouts:

* **CSV** (``fmt="csv"``): one row per sample and modality, columns ``row`` (dataset row),
  ``source_row`` (row in the source file), ``caption``, ``label``, ``modality`` (text, image,
  fused), then ``d0 … d{D-1}``. When the modalities differ in size (late fusion's decision
  vector), the shorter rows leave their last cells empty.
* **NPY folder** (``fmt="npy"``, ``dest`` a folder): ``text.npy``, ``image.npy``,
  ``fused.npy`` (those the model has; N x D float32, row k of each is sample k),
  ``index.npy`` (N dataset rows), ``labels.npy`` (N label ids, when labelled) and
  ``metadata.csv`` (N rows: ``row``, ``source_row``, ``caption``, ``label``) plus
  ``meta.json`` (epoch, step, modalities, label names).
* **NPZ** (``fmt="npy"``, ``dest`` ending in ``.npz``): the same arrays in one file, with
  ``captions`` and ``label_names`` as string arrays.

No Qt; torch only for the TensorBoard writer.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import WorkbenchError
from .snapshot_files import find_snapshot, load_snapshot, snapshot_files  # noqa: F401
from ..training.events import EmbeddingSnapshot

MODALITIES = ("text", "image", "fused")
FORMATS = ("csv", "npy")
TENSORBOARD_HINT = ("writing a TensorBoard log needs the tensorboard package: "
                    "pip install tensorboard (or pip install 'multimodal-workbench[tensorboard]')")


# ---------------------------------------------------------------- reading a run

def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file; a last line cut short by a crash is left out."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def load_run_table(run_dir: str | Path):
    """The pair table of a run's data (from its ``config.toml``), for captions and labels."""
    from .. import config as C
    from ..data import load_pairs
    cfg = C.load(Path(run_dir) / "config.toml")
    return load_pairs(cfg.data, cfg.preprocess.image_size)


# ---------------------------------------------------------------- embeddings

def _snapshot(snapshot) -> EmbeddingSnapshot:
    return snapshot if isinstance(snapshot, EmbeddingSnapshot) else load_snapshot(snapshot)


def _metadata(snap: EmbeddingSnapshot, table) -> list[tuple[int, str, str, str]]:
    """(row, source_row, caption, label) per sample of the snapshot."""
    out = []
    for k, row in enumerate(snap.index.tolist()):
        caption = table.caption(row) if table is not None else ""
        source_row = str(table.rows[row]) if table is not None else ""
        label = ""
        if snap.labels is not None and snap.label_names:
            label = snap.label_names[int(snap.labels[k])]
        elif snap.labels is not None:
            label = str(int(snap.labels[k]))
        out.append((int(row), source_row, caption, label))
    return out


def _vectors(snap: EmbeddingSnapshot) -> dict[str, np.ndarray]:
    vec = {m: np.asarray(getattr(snap, m), dtype=np.float32) for m in MODALITIES
           if getattr(snap, m) is not None}
    if not vec:
        raise WorkbenchError("the snapshot holds no vectors (text, image or fused)")
    return vec


def export_embeddings(snapshot, table, dest: str | Path, fmt: str = "csv") -> Path:
    """Write a snapshot's vectors with captions and labels to ``dest`` (layouts: module doc).

    ``snapshot`` is an ``embeddings-eNNNN.npz`` path or an :class:`EmbeddingSnapshot`;
    ``table`` the run's :class:`~workbench.core.data.PairTable` (None: captions left empty).
    Returns the file or folder written.
    """
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown export format {fmt!r}; expected one of "
                             f"{', '.join(FORMATS)}")
    snap = _snapshot(snapshot)
    vec = _vectors(snap)
    meta = _metadata(snap, table)
    dest = Path(dest)
    if fmt == "csv":
        return _write_csv(dest, vec, meta)
    if dest.suffix == ".npz":
        return _write_npz(dest, snap, vec, meta)
    return _write_npy_folder(dest, snap, vec, meta)


def _write_csv(dest: Path, vec: dict[str, np.ndarray], meta) -> Path:
    width = max(v.shape[1] for v in vec.values())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "source_row", "caption", "label", "modality",
                *(f"d{i}" for i in range(width))])
    for k, (row, source_row, caption, label) in enumerate(meta):
        for name, v in vec.items():
            values = [repr(float(x)) for x in v[k]]
            w.writerow([row, source_row, caption, label, name,
                        *values, *[""] * (width - len(values))])
    return atomic_write_bytes(dest, buf.getvalue().encode("utf-8"))


def _metadata_csv(meta) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "source_row", "caption", "label"])
    w.writerows(meta)
    return buf.getvalue().encode("utf-8")


def _write_npy_folder(dest: Path, snap: EmbeddingSnapshot, vec, meta) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    arrays = {**vec, "index": np.asarray(snap.index, dtype=np.int64)}
    if snap.labels is not None:
        arrays["labels"] = np.asarray(snap.labels, dtype=np.int64)
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        atomic_write_bytes(dest / f"{name}.npy", buf.getvalue())
    atomic_write_bytes(dest / "metadata.csv", _metadata_csv(meta))
    info = {"epoch": snap.epoch, "step": snap.step, "count": len(meta),
            "modalities": list(vec), "label_names": list(snap.label_names)}
    atomic_write_bytes(dest / "meta.json",
                       json.dumps(info, indent=2, ensure_ascii=False).encode("utf-8"))
    return dest


def _write_npz(dest: Path, snap: EmbeddingSnapshot, vec, meta) -> Path:
    arrays = {**vec, "index": np.asarray(snap.index, dtype=np.int64),
              "captions": np.array([m[2] for m in meta], dtype=str),
              "label_names": np.array(snap.label_names, dtype=str)}
    if snap.labels is not None:
        arrays["labels"] = np.asarray(snap.labels, dtype=np.int64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(dest, buf.getvalue())


# ---------------------------------------------------------------- metrics

def metrics_rows(run_dir: str | Path) -> tuple[list[str], list[dict]]:
    """The columns and rows of a run's per-epoch metrics: ``epoch``, ``step``, ``seconds``,
    ``lr``, then ``train_<term>`` and ``val_<name>`` in order of first appearance."""
    records = read_jsonl(Path(run_dir) / "metrics.jsonl")
    columns = ["epoch", "step", "seconds", "lr"]
    rows = []
    for r in records:
        row = {k: r.get(k) for k in columns}
        for part in ("train", "val"):
            for name, value in (r.get(part) or {}).items():
                row[f"{part}_{name}"] = value
        rows.append(row)
    extra = dict.fromkeys(k for row in rows for k in row if k not in columns)
    ordered = sorted(extra, key=lambda k: not k.startswith("train_"))  # train, then val
    return columns + ordered, rows


def export_metrics_csv(run_dir: str | Path, dest: str | Path) -> Path:
    """One row per epoch of a run folder's ``metrics.jsonl``: ``epoch``, ``step``,
    ``seconds``, ``lr``, every ``train_*`` then every ``val_*`` column (empty where an epoch
    was not validated)."""
    run_dir = Path(run_dir)
    if not (run_dir / "metrics.jsonl").is_file():
        raise WorkbenchError(f"{run_dir}: no metrics.jsonl; is this a run folder?")
    columns, rows = metrics_rows(run_dir)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return atomic_write_bytes(Path(dest), buf.getvalue().encode("utf-8"))


# ---------------------------------------------------------------- TensorBoard

def tensorboard_missing() -> str | None:
    """:data:`TENSORBOARD_HINT` when the tensorboard package is not installed, else None;
    asked without importing it (or torch), so a menu can grey its entry out at once."""
    if "tensorboard" in sys.modules:  # imported, or blocked (None) on purpose
        return None if sys.modules["tensorboard"] is not None else TENSORBOARD_HINT
    try:
        return None if importlib.util.find_spec("tensorboard") is not None else TENSORBOARD_HINT
    except (ImportError, ValueError):
        return TENSORBOARD_HINT


def require_tensorboard():
    """torch's SummaryWriter, or a WorkbenchError saying how to install tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises it when the tensorboard package is missing
        raise WorkbenchError(TENSORBOARD_HINT) from None
    return SummaryWriter


def write_tensorboard(run_dir: str | Path, logdir: str | Path, *, table=None) -> Path:
    """Convert a run folder to a TensorBoard log in ``logdir``.

    Scalars: every loss term per step (``step/<term>``, with ``step/lr``), the epoch means
    (``train/<term>``) and validation values (``val/<name>``) at each epoch's last step, and
    ``epoch``. Projector: the last snapshot's ``text``, ``image`` and ``fused`` vectors, each
    with caption, label and row as metadata, and, for algorithms whose text and image vectors
    share one space, ``text+image`` with a modality column (where pairs should meet).
    ``table`` gives the captions; without it the run's data is read again from its config
    (and captions are left out if the data is gone).

    Needs the ``tensorboard`` package; without it a :class:`WorkbenchError` says how to
    install it.
    """
    SummaryWriter = require_tensorboard()
    run_dir, logdir = Path(run_dir), Path(logdir)
    if not (run_dir / "metrics.jsonl").is_file() and not (run_dir / "steps.jsonl").is_file():
        raise WorkbenchError(f"{run_dir}: no metrics.jsonl or steps.jsonl; is this a run folder?")
    writer = SummaryWriter(log_dir=str(logdir))
    try:
        for r in read_jsonl(run_dir / "steps.jsonl"):
            for name, value in r.get("losses", {}).items():
                writer.add_scalar(f"step/{name}", value, r["step"])
            if "lr" in r:
                writer.add_scalar("step/lr", r["lr"], r["step"])
        for r in read_jsonl(run_dir / "metrics.jsonl"):
            writer.add_scalar("epoch", r["epoch"], r["step"])
            for part in ("train", "val"):
                for name, value in (r.get(part) or {}).items():
                    writer.add_scalar(f"{part}/{name}", value, r["step"])
        if snapshot_files(run_dir):
            if table is None:
                try:
                    table = load_run_table(run_dir)
                except WorkbenchError:
                    table = None  # the data moved: rows and labels still identify samples
            _add_embeddings(writer, load_snapshot(find_snapshot(run_dir)), table,
                            joint=_joint_space(run_dir))
    finally:
        writer.close()
    return logdir


def _joint_space(run_dir: Path) -> bool:
    """Whether the run's text and image vectors live in one space (as the algorithms'
    ``joint_space`` says): not the classifier's fusion inputs, nor the generating GAN's."""
    from .. import config as C
    try:
        cfg = C.load(run_dir / "config.toml")
    except WorkbenchError:
        return True
    if cfg.algorithm.name == "classifier":
        return False
    return not (cfg.algorithm.name == "adversarial" and cfg.algorithm.params.mode == "generate")


def _clean(text: str) -> str:
    # The projector's metadata is TSV: a tab or a newline in a caption would shift columns.
    return " ".join(text.split()) or "-"


def _add_embeddings(writer, snap: EmbeddingSnapshot, table, *, joint: bool) -> None:
    import torch

    vec = _vectors(snap)
    meta = [(str(row), _clean(caption), _clean(label))
            for row, _, caption, label in _metadata(snap, table)]
    header = ["row", "caption", "label"]
    for name, v in vec.items():
        writer.add_embedding(torch.from_numpy(v), metadata=[list(m) for m in meta],
                             metadata_header=header, tag=name, global_step=snap.epoch)
    if joint and "text" in vec and "image" in vec \
            and vec["text"].shape[1] == vec["image"].shape[1]:
        both = np.concatenate([vec["text"], vec["image"]])
        rows = [[*m, "text"] for m in meta] + [[*m, "image"] for m in meta]
        writer.add_embedding(torch.from_numpy(both), metadata=rows,
                             metadata_header=[*header, "modality"], tag="text+image",
                             global_step=snap.epoch)
