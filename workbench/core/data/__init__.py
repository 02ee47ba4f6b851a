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
           "prepare_pretrained", "with_pretrained", "attach_pretrained", "detect", "SOURCES", "DESCRIPTIONS"]


def load_dataset(cfg: "ExperimentConfig", *, progress: "Progress | None" = None
                 ) -> "PairedDataset":
    """The dataset ``cfg`` describes, ready for training (its training split streamed from
    shards when ``data.streaming`` says so: ``streamed``)."""
    from .loader import load_pairs
    from .streamed import load_streamed, wants_streaming
    if wants_streaming(cfg):
        return load_streamed(cfg, progress=progress)
    return dataset_for(cfg, load_pairs(cfg.data, cfg.preprocess.image_size, progress=progress),
                       progress=progress)


def dataset_for(cfg: "ExperimentConfig", table: "PairTable", *, vocab=None,
                progress: "Progress | None" = None) -> "PairedDataset":
    """``table`` split and tokenised as ``cfg`` says (its fractions and split seed; ``vocab``:
    a run's own vocabulary). With a pretrained encoder the captions or images reach the
    model as that model's features (``pretrained.cache``), not as the workbench's words or
    pixels; fine-tuned, as its word pieces or its pixels too."""
    from ..config import split_seed
    from .dataset import build_dataset  # torch: only when a dataset is really built
    table, states = with_pretrained(cfg, table, progress=progress)
    if states is not None:
        vocab = None  # no words: the pretrained model's features
    dataset = build_dataset(table, cfg.preprocess, val_fraction=cfg.data.val_fraction,
                            test_fraction=cfg.data.test_fraction, seed=split_seed(cfg),
                            vocab=vocab)
    attach_pretrained(cfg, dataset, states)
    return dataset


def uses_pretrained(cfg: "ExperimentConfig", side: str) -> bool:
    """Whether ``side`` ("text" or "image") is read by a pretrained model (frozen or
    fine-tuned: either way its frozen features are computed once and cached)."""
    kind = cfg.model.text_encoder if side == "text" else cfg.model.image_encoder
    return kind == "pretrained"


def finetuned(cfg: "ExperimentConfig", side: str) -> bool:
    """Whether ``side`` is read by a pretrained model that trains (its inputs then reach
    it at every step: word pieces, pixels at its own side)."""
    return uses_pretrained(cfg, side) and cfg.model.pretrained_mode == "finetune"


def with_pretrained(cfg: "ExperimentConfig", table: "PairTable", *,
                    data=None, progress: "Progress | None" = None):
    """``(table, states)``: ``table`` as a pretrained encoder feeds the model. Text: its
    captions' words replaced by the model's sentence vectors (its text features), and the
    word-piece states to attach to the dataset (:func:`attach_pretrained`; else None).
    Images: the model's vector of each pair's image as its image features and the patch
    states in ``table.image_states``; the pixels stay, for display, or, fine-tuned, read
    again at the model's own side, for the model. ``data``: where ``table`` was read from,
    when not ``cfg.data`` (the model reads the images again, at its own input size)."""
    states = None
    if uses_pretrained(cfg, "image"):
        found = pretrained_images(cfg, table, data=data, progress=progress)
        table = dataclasses.replace(table, image_features=found.pooled[table.image_index],
                                    image_states=found.states)
        if finetuned(cfg, "image"):
            table = dataclasses.replace(table, images=_images_at_model_side(
                cfg, table, data if data is not None else cfg.data, progress))
    if uses_pretrained(cfg, "text"):
        states = pretrained_captions(cfg, table, progress=progress)
        table = dataclasses.replace(table, tokens=None, text_features=states.pooled)
    return table, states


def attach_pretrained(cfg: "ExperimentConfig", dataset: "PairedDataset", states) -> None:
    """Give ``dataset`` what ``cfg``'s pretrained encoders read beside the table's features:
    the word-piece states of the captions (``states``), and for a fine-tuned text model the
    word-piece ids it reads; a fine-tuned image model reads the pixels."""
    if states is not None:
        dataset.attach_text_states(states)
    if finetuned(cfg, "text"):
        from ..pretrained.text import TextModel
        model = TextModel(cfg.model.text_model, allow_download=cfg.pretrained.allow_download,
                          weights=False)
        ids, lengths = model.piece_ids(dataset.table.captions,
                                       keep=cfg.preprocess.max_tokens + 2)
        dataset.attach_text_pieces(ids, lengths)
    dataset.pixels_to_model = dataset.image_states is None or finetuned(cfg, "image")


def _images_at_model_side(cfg, table, data, progress):
    from ..pretrained.image import processor_side
    from .loader import load_pairs
    side = processor_side(cfg.model.image_model, allow_download=cfg.pretrained.allow_download)
    if table.images.shape[-1] == side:
        return table.images
    large = load_pairs(data, side, progress=progress)
    if large.images is None or len(large.images) != len(table.images):
        raise DataError(f"{table.source}: its images changed while being read again at "
                        f"{side} px for {cfg.model.image_model}; load the data again")
    return large.images


def prepare_pretrained(cfg: "ExperimentConfig", table: "PairTable", *,
                       progress: "Progress | None" = None) -> list[str]:
    """Compute (or find cached) every pretrained feature ``cfg`` trains on from ``table``, so
    training starts without waiting; one line per model saying what was done. A
    ``progress`` callback that raises stops it, and nothing half-made is kept."""
    lines = []
    for side, what, compute in (("text", "captions", pretrained_captions),
                                ("image", "images", pretrained_images)):
        if uses_pretrained(cfg, side):
            found = compute(cfg, table, progress=progress)
            lines.append(f"{found.model}: {len(found.pooled):,} {what} "
                         f"{'read from the cache' if found.from_cache else 'encoded and cached'}")
    return lines


def pretrained_captions(cfg: "ExperimentConfig", table: "PairTable", *,
                        progress: "Progress | None" = None):
    """The captions of ``table`` through ``cfg``'s pretrained text model, cached (word pieces
    kept: ``preprocess.max_tokens`` plus the model's two markers, [CLS] and [SEP])."""
    from ..pretrained.cache import caption_states
    from ..training.model_setup import resolve_device
    if table.captions is None:
        raise DataError(f"{table.source}: a pretrained text model reads captions, and this "
                        "data holds text feature vectors (an .npz); set model.text_encoder = "
                        "bow")
    return caption_states(cfg.model.text_model, table.captions,
                          keep=cfg.preprocess.max_tokens + 2,
                          device=str(resolve_device(cfg.device)), progress=progress,
                          allow_download=cfg.pretrained.allow_download)


#: the largest patch grid kept of a pretrained image model (a ViT-B/16's 14 x 14 is pooled
#: to 7 x 7): the Attention tab's maps stay readable and the cache small
IMAGE_GRID = 8


def pretrained_images(cfg: "ExperimentConfig", table: "PairTable", *, data=None,
                      progress: "Progress | None" = None):
    """The distinct images of ``table`` through ``cfg``'s pretrained image model, cached.
    On a miss the model reads them again from ``data`` (default ``cfg.data``) at its own
    input size, not at the table's."""
    from ..pretrained.cache import image_states
    from ..training.model_setup import resolve_device
    from .loader import load_pairs
    data = data if data is not None else cfg.data
    if table.images is None:
        raise DataError(f"{table.source}: a pretrained image model reads images, and this "
                        "data holds image feature vectors (an .npz); set model.image_encoder "
                        "= cnn")

    def load(size: int):
        large = load_pairs(data, size, progress=progress)
        if large.images is None or len(large.images) != len(table.images) or (
                table.image_paths is not None and large.image_paths != table.image_paths):
            raise DataError(f"{table.source}: its images changed while being read again at "
                            f"{size} px for {cfg.model.image_model}; load the data again")
        return large.images

    return image_states(cfg.model.image_model, table.images, load=load,
                        about=f"{data.source}|{data.images}", grid=IMAGE_GRID,
                        device=str(resolve_device(cfg.device)), progress=progress,
                        allow_download=cfg.pretrained.allow_download)
