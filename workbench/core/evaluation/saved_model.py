"""A run's saved model, back in memory over data: its own (split as the run split it) or
other data with the same kinds of inputs (transfer).

Both the Retrieval tab's index and ``workbench evaluate`` open checkpoints through here, so a
saved model is rebuilt one way: its config and data description from the checkpoint, the
captions tokenised with the run's own vocabulary (never a vocabulary rebuilt from the data,
whose ids could differ from the weights'), statistics and graphs prepared, then the weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import config as C
from ..data import attach_pretrained, dataset_for, with_pretrained
from ..data.dataset import PairedDataset
from ..data.info import DataInfo
from ..data.loader import PairTable, load_pairs
from ..data.split import Split
from ..data.text import OOV, Vocabulary
from ..errors import WorkbenchError

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class DataMismatch(WorkbenchError):
    """The data given is not the data the run was trained on (open the run's own data)."""


class TransferError(WorkbenchError):
    """Other data that this run's model cannot be scored on, with the reason."""


@dataclass
class SavedModel:
    """A checkpoint's model (eval mode) over ``dataset``; ``about`` describes it for display
    (run, run folder, checkpoint, epoch, step)."""

    model: object
    dataset: PairedDataset
    config: C.ExperimentConfig
    about: dict


def open_checkpoint(path: str | Path, table: PairTable | None = None, *,
                    progress: Progress | None = None, check: Callable | None = None
                    ) -> SavedModel:
    """The model of checkpoint ``path`` over its run's data: ``table`` when given (it must
    be that data), else the data its config names, loaded again; split as the run split it.
    ``check(model)`` may refuse the model (raise) before the data is loaded."""
    payload, cfg, info, model = _load(path, check)
    if table is None:
        table = load_pairs(cfg.data, cfg.preprocess.image_size, progress=progress)
    else:
        mismatch = table_mismatch(cfg, table)
        if mismatch:
            raise DataMismatch(f"{path}: {mismatch}")
        table = fit_table(table, cfg.preprocess.image_size)
    dataset = run_dataset(cfg, table, _vocab(payload))
    found = dataset.info()
    if found != info:
        diff = ", ".join(f"{k}: run {getattr(info, k)!r}, data {getattr(found, k)!r}"
                         for k in DataInfo.__dataclass_fields__
                         if getattr(info, k) != getattr(found, k))
        raise DataMismatch(f"{path}: the data differs from what this run was trained "
                           f"on ({diff[:300]}); open the run with its own data")
    return _ready(path, payload, cfg, model, dataset)


def open_on_other_data(path: str | Path, data: C.DataConfig, *,
                       progress: Progress | None = None) -> tuple[SavedModel, dict]:
    """The model of checkpoint ``path`` over other data (``data``: a source and how to read
    it), every pair in the ``test`` split: captions tokenised with the run's vocabulary
    (unknown words out-of-vocabulary), images fitted to its size, labels matched to the
    run's by name. Returns the model and what was done (``unknown_labels``: rows left out
    because the run never saw their label; ``oov_share``: the share of caption words the run's
    vocabulary does not know). Raises TransferError when the inputs differ in kind."""
    payload, cfg, info, model = _load(path, None)
    if cfg.algorithm.name == "graph":
        raise TransferError(
            "the graph algorithm is transductive: its model is a graph over the nodes of its "
            "own data (every caption and image it was trained with, and their edges), so a "
            "caption or image from other data is no node of it and has no vector; evaluate "
            "it on its own data (--split)")
    table = load_pairs(data, cfg.preprocess.image_size, progress=progress)
    # its captions and images through the run's pretrained models, when it has them
    table, states = with_pretrained(cfg, table, data=data, progress=progress)
    _check_kinds(info, table, data.source)
    table, notes = _match_labels(table, info, data.source,
                                 needs_labels=cfg.algorithm.name == "classifier")
    vocab = _vocab(payload)
    n = len(table)
    everything = Split(np.zeros(0, np.int64), np.zeros(0, np.int64), np.arange(n))
    dataset = PairedDataset(table, vocab, everything, cfg.preprocess.max_tokens)
    attach_pretrained(cfg, dataset, states)
    found = dataset.info()
    if table.labels is None:  # a label-free algorithm scored on retrieval alone
        found = dataclasses.replace(found, label_names=info.label_names)
    if found != info:
        raise TransferError(f"{data.source}: its inputs do not fit the model ({found} against "
                            f"the run's {info})")
    if vocab is not None and table.tokens is not None:
        words = [w for t in table.tokens for w in t[: cfg.preprocess.max_tokens]]
        notes["oov_share"] = (sum(vocab.id(w) == OOV for w in words) / len(words)
                              if words else 0.0)
    return _ready(path, payload, cfg, model, dataset), notes


# ---------------------------------------------------------------------- helpers

def _load(path, check):
    from ..training.checkpoint import load_checkpoint
    from ..training.model_setup import build_algorithm

    payload = load_checkpoint(Path(path))
    cfg = C.from_dict(payload["config"])
    info = DataInfo.from_dict(payload["info"])
    model = build_algorithm(cfg, info)
    if check is not None:
        check(model)  # before the (slow) data loading
    return payload, cfg, info, model


def _ready(path, payload, cfg, model, dataset) -> SavedModel:
    from ..training.checkpoint import load_model_state

    path = Path(path)
    model.prepare(dataset)  # graphs and statistics; saved statistics are loaded next
    load_model_state(model, payload["model"], path)
    model.eval()
    run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    about = {"run": run.name, "run_dir": str(run), "checkpoint": str(path),
             "epoch": int(payload.get("epoch", 0)), "step": int(payload.get("step", 0))}
    return SavedModel(model, dataset, cfg, about)


def _vocab(payload) -> Vocabulary | None:
    return Vocabulary.from_dict(payload["vocab"]) if payload.get("vocab") else None


def _check_kinds(info: DataInfo, table: PairTable, source: str) -> None:
    """Other data must bring what the model reads: tokens or text features of the same width,
    pixels or image features of the same width."""
    problems = []
    if info.text_is_tokens and table.tokens is None:
        problems.append("the run read captions, this data has text feature vectors")
    if not info.text_is_tokens and (table.text_features is None
                                    or table.text_features.shape[1] != info.text_dim):
        problems.append(f"the run read {info.text_dim}-d text features")
    if info.image_is_pixels and table.images is None:
        problems.append("the run read images, this data has image feature vectors")
    if not info.image_is_pixels and (table.image_features is None
                                     or table.image_features.shape[1] != info.image_dim):
        problems.append(f"the run read {info.image_dim}-d image features")
    if problems:
        raise TransferError(f"{source}: its inputs are not the kind this model reads ("
                            + "; ".join(problems) + ")")


def _match_labels(table: PairTable, info: DataInfo, source: str, *,
                  needs_labels: bool) -> tuple[PairTable, dict]:
    """``table`` with its labels renumbered as the run's; rows whose label the run never saw
    are left out (counted). Without labels the classifier is refused; the label-free
    algorithms are scored on retrieval alone."""
    notes = {"unknown_labels": 0, "pairs": len(table)}
    if table.labels is None and needs_labels:
        raise TransferError(f"{source}: the classifier is scored on labels, and this data "
                            "has none (choose a label column with --label-column)")
    if not info.has_labels or table.labels is None:  # scored on retrieval alone
        return dataclasses.replace(table, labels=None, label_names=[], label_column=None), notes
    position = {name: i for i, name in enumerate(info.label_names)}
    mapped = np.array([position.get(table.label_names[c], -1) for c in table.labels])
    keep = mapped >= 0
    notes["unknown_labels"] = int((~keep).sum())
    if not keep.any():
        raise TransferError(f"{source}: none of its labels ({', '.join(table.label_names[:5])}"
                            f") is one the run knows ({', '.join(info.label_names[:5])}…)")
    table = dataclasses.replace(take_rows(table, np.nonzero(keep)[0]),
                                label_names=list(info.label_names))
    table.labels = mapped[keep].astype(np.int64)
    notes["pairs"] = len(table)
    return table, notes


def take_rows(table: PairTable, rows: np.ndarray) -> PairTable:
    """The pairs ``rows`` of ``table`` (images shared by them kept once, renumbered)."""
    if len(rows) == len(table):
        return table
    used, image_index = np.unique(table.image_index[rows], return_inverse=True)
    pick = (lambda xs: None if xs is None else [xs[i] for i in rows])
    arr = (lambda a: None if a is None else a[rows])
    return dataclasses.replace(
        table, rows=[table.rows[i] for i in rows], captions=pick(table.captions),
        tokens=pick(table.tokens), images=None if table.images is None else table.images[used],
        image_index=image_index.astype(np.int64),
        image_paths=None if table.image_paths is None else [table.image_paths[i] for i in used],
        original_sizes=None if table.original_sizes is None else table.original_sizes[used],
        text_features=arr(table.text_features), image_features=arr(table.image_features),
        labels=arr(table.labels), extras={k: pick(v) for k, v in table.extras.items()},
        image_states=None if table.image_states is None else table.image_states[used])


def table_mismatch(cfg: C.ExperimentConfig, table: PairTable) -> str | None:
    """Why ``table`` is not the data the run with config ``cfg`` was trained on, or None."""
    if table.source != cfg.data.source:
        return (f"the loaded data ({table.source}) is not the data this run was trained on "
                f"({cfg.data.source})")
    col = cfg.data.label_column
    if col and col != "none" and table.label_column not in (None, col):
        return (f"the loaded data is labelled by {table.label_column!r}, the run by {col!r}")
    return None


def fit_table(table: PairTable, image_size: int) -> PairTable:
    """``table`` with its images at ``image_size`` (the session may hold them at another
    size); the same table when they already are."""
    if table.images is None or table.images.shape[-1] == image_size:
        return table
    from ..data.images import resize_array
    return dataclasses.replace(table, images=resize_array(table.images, image_size))


def run_dataset(cfg: C.ExperimentConfig, table: PairTable,
                vocab: Vocabulary | None) -> PairedDataset:
    """``table`` split as the run with ``cfg`` split it, tokenised with the run's ``vocab``
    (not a vocabulary rebuilt from the data, whose ids could differ from the weights')."""
    return dataset_for(cfg, table, vocab=vocab)
