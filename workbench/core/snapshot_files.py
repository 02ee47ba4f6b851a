"""What a run folder gives back to the views that showed it live: attention snapshots written
with every array and word the Attention tab needs (so reopening a run shows its heatmaps, token
axes, probe images and graph neighbours as they were during training), and the logged steps
and epochs as the Trainer's events (so its curves can be drawn again).

``attention-eNNNN.npz`` holds the maps (``map_<name>``), the probe images (``probe_images``,
(n, 3, S, S) uint8, when every probe has one) and one JSON string (``meta``) with the epoch,
step, probes (row, caption, tokens, label), modality names, patch grid and graph neighbours.
Read back with ``allow_pickle=False``: a snapshot file is data, never code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .errors import WorkbenchError
from .run_store import read_metrics, read_steps
from .training.events import AttentionSnapshot, EpochEnded, Probe, StepLogged

PATTERN = "attention-e*.npz"


def attention_arrays(snap: AttentionSnapshot) -> dict[str, np.ndarray]:
    """What :func:`load_attention` reads back, as arrays for ``np.savez``."""
    arrays = {f"map_{k}": np.asarray(v) for k, v in snap.maps.items()}
    arrays["probe_index"] = np.array([p.index for p in snap.probes], dtype=np.int64)
    if snap.probes and all(p.image is not None for p in snap.probes):
        arrays["probe_images"] = np.stack([p.image for p in snap.probes])
    meta = {"epoch": snap.epoch, "step": snap.step, "modality_names": list(snap.modality_names),
            "grid": list(snap.grid) if snap.grid else None, "graph": snap.graph,
            "probes": [{"index": int(p.index), "caption": p.caption, "tokens": list(p.tokens),
                        "label": p.label} for p in snap.probes]}
    arrays["meta"] = np.array(json.dumps(meta, default=float))
    return arrays


def load_attention(path: str | Path) -> AttentionSnapshot:
    """An ``attention-eNNNN.npz`` written by the run writer."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
    except KeyError:
        raise WorkbenchError(f"{path}: written by an older version without the probes' words "
                             "and images; retrain to see its attention") from None
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"{path}: not a readable attention snapshot ({exc})") from None
    images = arrays.pop("probe_images", None)
    probes = [Probe(int(p["index"]), str(p["caption"]), [str(t) for t in p["tokens"]],
                    images[i] if images is not None else None, p.get("label"))
              for i, p in enumerate(meta.get("probes", []))]
    maps = {k[len("map_"):]: v for k, v in arrays.items() if k.startswith("map_")}
    grid = meta.get("grid")
    return AttentionSnapshot(int(meta.get("epoch", _epoch_of(path))), int(meta.get("step", 0)),
                             probes, list(meta.get("modality_names", [])), maps,
                             tuple(grid) if grid else None, meta.get("graph"))


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
