"""Paired text/image data: sources, checks, decoding, vocabulary, splits, batches.

Two steps, so the slow one is not repeated needlessly: :func:`load_pairs` reads and decodes
(cached), :func:`build_dataset` tokenises and splits. :func:`load_dataset` does both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import DataError, RowProblem
from .loader import PairTable, Progress, load_pairs
from .sources import DESCRIPTIONS, SOURCES, detect

if TYPE_CHECKING:
    from ..config import ExperimentConfig
    from .dataset import PairedDataset

__all__ = ["DataError", "RowProblem", "PairTable", "load_pairs", "load_dataset", "detect",
           "SOURCES", "DESCRIPTIONS"]


def load_dataset(cfg: "ExperimentConfig", *, progress: Progress | None = None) -> "PairedDataset":
    """The dataset ``cfg`` describes, ready for training."""
    from .dataset import build_dataset  # torch: only when a dataset is really built
    table = load_pairs(cfg.data, cfg.preprocess.image_size, progress=progress)
    return build_dataset(table, cfg.preprocess, val_fraction=cfg.data.val_fraction,
                         test_fraction=cfg.data.test_fraction, seed=cfg.seed)
