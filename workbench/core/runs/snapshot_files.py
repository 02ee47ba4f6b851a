"""What a run folder gives back to the views that showed it live: attention snapshots written
with every array and word the Attention tab needs (so reopening a run shows its heatmaps, token
axes, probe images and graph neighbours as they were during training), and the logged steps
and epochs as the Trainer's events (so its curves can be drawn again).

``attention-eNNNN.npz`` holds the maps (``map_<name>``), the probe images (``probe_images``,
(n, 3, S, S) uint8, when every probe has one) and one JSON string (``meta``) with the epoch,
step, probes (row, caption, tokens, label), modality names, patch grid and graph neighbours;
the composite probes' snapshot, where the run made composites, as the same arrays under
``composites__``.
Read back with ``allow_pickle=False``: a snapshot file is data, never code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import WorkbenchError
from .store import read_metrics, read_steps
from ..training.events import (AttentionSnapshot, EmbeddingSnapshot, EpochEnded, Probe,
                              StepLogged)

PATTERN = "attention-e*.npz"


# The composite probes' own snapshot is kept in the same file, its arrays under this prefix.
COMPOSITES = "composites__"


def attention_arrays(snap: AttentionSnapshot) -> dict[str, np.ndarray]:
    """What :func:`load_attention` reads back, as arrays for ``np.savez``."""
    arrays = {f"map_{k}": np.asarray(v) for k, v in snap.maps.items()}
    arrays["probe_index"] = np.array([p.index for p in snap.probes], dtype=np.int64)
    if snap.probes and all(p.image is not None for p in snap.probes):
        arrays["probe_images"] = np.stack([p.image for p in snap.probes])
    meta = {"epoch": snap.epoch, "step": snap.step, "modality_names": list(snap.modality_names),
            "grid": list(snap.grid) if snap.grid else None, "graph": snap.graph,
            "probes": [{"index": int(p.index), "caption": p.caption, "tokens": list(p.tokens),
                        "label": p.label, "captioned": p.captioned} for p in snap.probes]}
    arrays["meta"] = np.array(json.dumps(meta, default=float))
    if snap.composites is not None:
        arrays.update({COMPOSITES + k: v for k, v in attention_arrays(snap.composites).items()})
    return arrays


def load_attention(path: str | Path) -> AttentionSnapshot:
    """An ``attention-eNNNN.npz`` written by the run writer (with its composite probes'
    snapshot where the run had one; files from before they were kept have none)."""
    path = Path(path)
    arrays = _read_arrays(path, "attention snapshot")
    inner = {k[len(COMPOSITES):]: arrays.pop(k) for k in list(arrays)
             if k.startswith(COMPOSITES)}
    snap = _snapshot(path, arrays)
    if inner:
        snap.composites = _snapshot(path, inner)
    return snap


def _snapshot(path: Path, arrays: dict[str, np.ndarray]) -> AttentionSnapshot:
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except KeyError:
        raise WorkbenchError(f"{path}: written by an older version without the probes' words "
                             "and images; retrain to see its attention") from None
    except ValueError as exc:  # meta is not JSON
        raise WorkbenchError(f"{path}: not a readable attention snapshot ({exc})") from None
    images = arrays.pop("probe_images", None)
    probes = [Probe(int(p["index"]), str(p["caption"]), [str(t) for t in p["tokens"]],
                    images[i] if images is not None else None, p.get("label"),
                    p.get("captioned"))
              for i, p in enumerate(meta.get("probes", []))]
    maps = {k[len("map_"):]: v for k, v in arrays.items() if k.startswith("map_")}
    grid = meta.get("grid")
    return AttentionSnapshot(int(meta.get("epoch", _epoch_of(path))), int(meta.get("step", 0)),
                             probes, list(meta.get("modality_names", [])), maps,
                             tuple(grid) if grid else None, meta.get("graph"))


def snapshot_files(run_dir: str | Path) -> list[Path]:
    """A run's embedding snapshots, oldest epoch first."""
    return sorted((Path(run_dir) / "snapshots").glob("embeddings-e*.npz"))


def find_snapshot(run_dir: str | Path, epoch: int | None = None) -> Path:
    """The snapshot of ``epoch`` (default: the last one) of a run folder."""
    run_dir = Path(run_dir)
    files = snapshot_files(run_dir)
    if not files:
        raise WorkbenchError(f"{run_dir}: no embedding snapshots (snapshots/embeddings-e*.npz);"
                             " is this a run folder, and did the run finish an epoch?")
    if epoch is None:
        return files[-1]
    path = run_dir / "snapshots" / f"embeddings-e{epoch:04d}.npz"
    if not path.is_file():
        have = ", ".join(str(int(f.stem.rsplit("-e", 1)[1])) for f in files)
        raise WorkbenchError(f"{run_dir}: no embedding snapshot for epoch {epoch}; "
                             f"snapshots exist for epochs {have}")
    return path


def load_snapshot(path: str | Path) -> EmbeddingSnapshot:
    """An ``embeddings-eNNNN.npz`` written by :class:`~workbench.core.runs.writer.RunWriter`."""
    path = Path(path)
    arrays = _read_arrays(path, "embedding snapshot")
    return EmbeddingSnapshot(
        epoch=_epoch_of(path), step=0, index=arrays["index"], text=arrays.get("text"),
        image=arrays.get("image"), fused=arrays.get("fused"), labels=arrays.get("labels"),
        label_names=[str(n) for n in arrays.get("label_names", [])])


def _read_arrays(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of a run's ``.npz`` file, read as data only (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"{path}: not a readable {what} ({exc})") from None


def latest_attention(run_dir: str | Path) -> AttentionSnapshot | None:
    """The run's last attention snapshot, or None when it has none."""
    files = sorted((Path(run_dir) / "snapshots").glob(PATTERN))
    return load_attention(files[-1]) if files else None


def _epoch_of(path: Path) -> int:
    found = re.search(r"-e(\d+)\.npz$", path.name)
    return int(found.group(1)) if found else 0


def logged_events(run_dir: str | Path) -> tuple[list[StepLogged], list[EpochEnded]]:
    """The run's steps.jsonl and metrics.jsonl as events (what the loss plots take)."""
    steps = [StepLogged(int(d["step"]), int(d.get("epoch", 0)), 1.0, dict(d.get("losses", {})),
                        float(d.get("lr") or 0.0), 0, float(d.get("seconds") or 0.0))
             for d in read_steps(run_dir) if "step" in d]
    epochs = [EpochEnded(int(d["epoch"]), int(d.get("step", 0)), dict(d.get("train", {})),
                         dict(d.get("val", {})), float(d.get("seconds") or 0.0),
                         float(d.get("lr") or 0.0))
              for d in read_metrics(run_dir) if "epoch" in d]
    return steps, epochs
