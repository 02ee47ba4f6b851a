"""Paired text/image data: sources, checks, decoding, vocabulary, splits, batches.

Two steps, so the slow one is not repeated needlessly: :func:`load_pairs` reads and decodes
(cached), :func:`build_dataset` tokenises and splits. :func:`load_dataset` does both.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING

from ..errors import DataError, RowProblem

if TYPE_CHECKING:
    from ..config import ExperimentConfig
    from .dataset import PairedDataset
    from .loader import PairTable, Progress, load_pairs
    from .sources import DESCRIPTIONS, SOURCES, detect

# Imported on first use: a submodule alone (the image decoder in a worker process) then
# starts without the loader and every source behind it.
_LAZY = {"PairTable": "loader", "Progress": "loader", "load_pairs": "loader",
         "SOURCES": "sources", "DESCRIPTIONS": "sources", "detect": "sources"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["DataError", "RowProblem", "PairTable", "load_pairs", "load_dataset", "dataset_for",
           "detect", "SOURCES", "DESCRIPTIONS"]


def load_dataset(cfg: "ExperimentConfig", *, progress: "Progress | None" = None
                 ) -> "PairedDataset":
    """The dataset ``cfg`` describes, ready for training."""
    from .loader import load_pairs
    return dataset_for(cfg, load_pairs(cfg.data, cfg.preprocess.image_size, progress=progress),
                       progress=progress)


def dataset_for(cfg: "ExperimentConfig", table: "PairTable", *, vocab=None,
                progress: "Progress | None" = None) -> "PairedDataset":
    """``table`` split and tokenised as ``cfg`` says (its fractions and split seed; ``vocab``:
    a run's own vocabulary). With a pretrained text encoder the captions reach the model as
    that model's features (``pretrained.cache``), not as the workbench's words."""
    from ..config import split_seed
    from .dataset import build_dataset  # torch: only when a dataset is really built
    table, states = with_pretrained_text(cfg, table, progress=progress)
    if states is not None:
        vocab = None  # no words: the pretrained model's features
    dataset = build_dataset(table, cfg.preprocess, val_fraction=cfg.data.val_fraction,
                            test_fraction=cfg.data.test_fraction, seed=split_seed(cfg),
                            vocab=vocab)
    if states is not None:
        dataset.attach_text_states(states)
    return dataset


def with_pretrained_text(cfg: "ExperimentConfig", table: "PairTable", *,
                         progress: "Progress | None" = None):
    """``(table, states)``: with a pretrained text encoder, ``table`` with its captions' words
    replaced by that model's sentence vectors (its text features) and the states to attach
    to the dataset (``PairedDataset.attach_text_states``); else ``(table, None)``."""
    if cfg.model.text_encoder != "pretrained":
        return table, None
    states = pretrained_captions(cfg, table, progress=progress)
    return dataclasses.replace(table, tokens=None, text_features=states.pooled), states


def pretrained_captions(cfg: "ExperimentConfig", table: "PairTable", *,
                        progress: "Progress | None" = None):
    """The captions of ``table`` through ``cfg``'s pretrained text model, cached (word pieces
    kept: ``preprocess.max_tokens`` plus the model's two markers, [CLS] and [SEP])."""
    from ..errors import DataError
    from ..pretrained.cache import caption_states
    from ..training.trainer import resolve_device
    if table.captions is None:
        raise DataError(f"{table.source}: a pretrained text model reads captions, and this "
                        "data holds text feature vectors (an .npz); set model.text_encoder = "
                        "bow")
    return caption_states(cfg.model.text_model, table.captions,
                          keep=cfg.preprocess.max_tokens + 2,
                          device=str(resolve_device(cfg.device)), progress=progress)
