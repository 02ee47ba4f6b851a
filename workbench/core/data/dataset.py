"""The in-memory paired dataset the Trainer draws batches from.

Everything lives in a few tensors (token ids, uint8 images, features, labels); a batch is
gathered with one index tensor per field, so there is no per-item Python ``__getitem__`` on
the training hot path. Bag-of-words vectors are made per batch from the token ids (a
vocabulary-sized dense matrix for 100,000 captions would not fit in memory).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator

import numpy as np
import torch

from ..config import PreprocessConfig
from .info import DataInfo
from .loader import PairTable
from .split import Split, split_indices
from .text import PAD, Vocabulary


@dataclass
class Batch:
    """One batch; absent modalities are None. ``index`` holds the pairs' dataset rows."""

    index: torch.Tensor
    tokens: torch.Tensor | None = None  # (B, L) int64, PAD = 0
    mask: torch.Tensor | None = None  # (B, L) bool, True where a real token is
    bow: torch.Tensor | None = None  # (B, V) float 0/1 word presence
    images: torch.Tensor | None = None  # (B, 3, S, S) float in [0, 1]
    text_features: torch.Tensor | None = None  # (B, Dt)
    image_features: torch.Tensor | None = None  # (B, Di)
    labels: torch.Tensor | None = None  # (B,) int64
    image_ids: torch.Tensor | None = None  # (B,) which distinct image each pair shows
    #: (B, L, D) a pretrained text model's word-piece states (``mask`` marks the real ones)
    text_states: torch.Tensor | None = None
    #: (B, P, D) a pretrained image model's patch states
    image_states: torch.Tensor | None = None
    #: (B, L) a fine-tuned text model's word-piece ids (``mask`` marks the real ones)
    piece_ids: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.index)

    def to(self, device: torch.device | str) -> "Batch":
        moved = {f.name: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
                 for f in fields(self) for v in [getattr(self, f.name)]}
        return Batch(**moved)


class PairedDataset:
    """Tensors for every pair, the vocabulary, the label names and the split."""

    def __init__(self, table: PairTable, vocab: Vocabulary | None, split: Split,
                 max_tokens: int):
        self.table = table
        self.vocab = vocab
        self.split = split
        self.max_tokens = max_tokens
        self.tokens = self.lengths = None
        if vocab is not None and table.tokens is not None:
            ids, lengths = vocab.encode_batch(table.tokens, max_tokens)
            self.tokens, self.lengths = torch.from_numpy(ids), torch.from_numpy(lengths)
        self.images = torch.from_numpy(table.images) if table.images is not None else None
        self.image_index = torch.from_numpy(table.image_index)
        self.text_features = _tensor(table.text_features)
        self.image_features = _tensor(table.image_features)
        self.labels = torch.from_numpy(table.labels) if table.labels is not None else None
        self._splits = {k: torch.from_numpy(v) for k, v in
                        (("train", split.train), ("val", split.val), ("test", split.test))}
        # A frozen pretrained text model's word-piece states (``attach_text_states``).
        self.text_states: np.ndarray | None = None  # (N, L, D) float16, memory-mapped
        self.text_lengths: torch.Tensor | None = None
        self.text_pieces: list[list[str]] | None = None
        # A pretrained image model's patch states, per distinct image; the pixels then
        # reach batches only for a model that reads them (fine-tuned), else are for display.
        self.image_states: np.ndarray | None = table.image_states  # (M, P, D) float16
        self.pixels_to_model = self.image_states is None
        # A fine-tuned text model's word-piece ids (``attach_text_pieces``).
        self.piece_ids: torch.Tensor | None = None
        self.piece_lengths: torch.Tensor | None = None

    def attach_text_states(self, states) -> None:
        """Give every pair its caption's word-piece states (a ``pretrained.cache
        .CaptionStates``; its pooled vectors are the table's text features)."""
        self.text_states = states.states
        self.text_lengths = torch.from_numpy(np.asarray(states.lengths, dtype=np.int64))
        self.text_pieces = states.pieces

    def attach_text_pieces(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        """Give every pair its caption's word-piece ids (N, L) and their counts (N,), read by
        a fine-tuned text model at every step."""
        self.piece_ids = torch.from_numpy(ids)
        self.piece_lengths = torch.from_numpy(lengths)

    def __len__(self) -> int:
        return len(self.table)

    # -- what the models need to know ------------------------------------------------
    @property
    def label_names(self) -> list[str]:
        return self.table.label_names

    @property
    def num_classes(self) -> int:
        return len(self.table.label_names)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) if self.vocab is not None else 0

    @property
    def image_size(self) -> int | None:
        """The side of the images the model reads as pixels (None: it reads features, a
        pretrained model's, even when a fine-tuned one gets the pixels too)."""
        if self.images is None or self.image_states is not None:
            return None
        return int(self.images.shape[-1])

    @property
    def text_dim(self) -> int | None:
        return None if self.text_features is None else int(self.text_features.shape[1])

    @property
    def image_dim(self) -> int | None:
        return None if self.image_features is None else int(self.image_features.shape[1])

    def training_warnings(self) -> list[str]:
        """What training met in the data that the run's summary should say (nothing for
        data held in memory: every row was checked when it loaded)."""
        return []

    @property
    def split_notes(self) -> list[str]:
        """What the split had to do that a user should know of."""
        if not self.split.single:
            return []
        names = [self.label_names[c] for c in self.split.single]
        shown = ", ".join(repr(n) for n in names[:5]) + (
            f" and {len(names) - 5} more" if len(names) > 5 else "")
        return [f"{len(names)} label{'s' if len(names) > 1 else ''} ({shown}) "
                f"{'have' if len(names) > 1 else 'has'} one example: kept in the training "
                "split, so validation and test never score "
                f"{'them' if len(names) > 1 else 'it'}"]

    def info(self) -> DataInfo:
        return DataInfo(vocab_size=self.vocab_size,
                        max_tokens=self.max_tokens if self.tokens is not None else 0,
                        image_size=self.image_size or 0, text_dim=self.text_dim or 0,
                        image_dim=self.image_dim or 0, label_names=tuple(self.label_names),
                        text_states=0 if self.text_states is None else
                        int(self.text_states.shape[1]),
                        image_states=0 if self.image_states is None else
                        int(self.image_states.shape[1]),
                        image_state_dim=0 if self.image_states is None else
                        int(self.image_states.shape[2]))

    def indices(self, split: str) -> torch.Tensor:
        return self._splits[split]

    def image_ids(self, index: torch.Tensor) -> torch.Tensor:
        """Which distinct image each pair at ``index`` shows, as a batch's ``image_ids``
        (feature vectors: every pair its own)."""
        return self.image_index[index] if self.images is not None else index

    def split_labels(self, split: str) -> torch.Tensor | None:
        return None if self.labels is None else self.labels[self._splits[split]]

    # -- batches ---------------------------------------------------------------------
    def batch(self, index: torch.Tensor, *, states: bool = True) -> Batch:
        """Gather the pairs at ``index`` (a 1-D int64 tensor of dataset rows); without
        ``states`` a pretrained model's word-piece and patch states are left out (nothing
        reads them)."""
        b = Batch(index=index)
        if self.tokens is not None:
            # Trim padding columns no pair in this batch uses: shorter sequences, same result.
            length = int(self.lengths[index].max().clamp(min=1))
            b.tokens = self.tokens[index, :length]
            b.mask = b.tokens != PAD
            b.bow = bag_of_words(b.tokens, len(self.vocab))
        if self.images is not None:
            b.image_ids = self.image_ids(index)
            if self.pixels_to_model:
                b.images = self.images[b.image_ids].float().div_(255.0)
            if self.image_states is not None and states:
                b.image_states = torch.from_numpy(
                    np.asarray(self.image_states[b.image_ids.numpy()], dtype=np.float32))
        if self.text_features is not None:
            b.text_features = self.text_features[index]
        if self.text_states is not None and states:
            # Cut to the longest caption of the batch, as token ids are; float16 on disk.
            length = int(self.text_lengths[index].max().clamp(min=1))
            rows = index.numpy()
            b.text_states = torch.from_numpy(
                np.asarray(self.text_states[rows, :length], dtype=np.float32))
            b.mask = torch.arange(length)[None, :] < self.text_lengths[index][:, None]
        if self.piece_ids is not None:  # a fine-tuned text model's input
            length = int(self.piece_lengths[index].max().clamp(min=1))
            b.piece_ids = self.piece_ids[index, :length]
            b.mask = torch.arange(length)[None, :] < self.piece_lengths[index][:, None]
        if self.image_features is not None:
            b.image_features = self.image_features[index]
            if self.images is None:  # feature vectors only: every pair its own image
                b.image_ids = index
        if self.labels is not None:
            b.labels = self.labels[index]
        return b

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None, drop_last: bool = False,
                shard: tuple[int, int] | None = None,
                states: bool = True) -> Iterator[Batch]:
        """Batches of one split, shuffled with ``generator`` when asked.

        ``drop_last``: leave out a last batch smaller than ``batch_size`` (see
        :meth:`kept_pairs`), unless it is the only one: a split smaller than one batch is
        still one batch.

        ``shard=(rank, world_size)`` (multi-process training): every rank draws the same
        permutation and batches of ``batch_size``, and gets its contiguous share of each, so
        ``batch_size`` stays the global batch. A last batch with fewer pairs than processes
        is dropped: some process would have none.
        """
        idx = self._splits[split]
        if shuffle:
            idx = idx[torch.randperm(len(idx), generator=generator)]
        stop = self.kept_pairs(split, batch_size, drop_last)
        for start in range(0, stop, batch_size):
            index = idx[start:start + batch_size]
            if shard is not None:
                rank, world = shard
                if len(index) < world:
                    break
                index = torch.tensor_split(index, world)[rank]
            yield self.batch(index, states=states)

    def kept_pairs(self, split: str, batch_size: int, drop_last: bool = False) -> int:
        """How many of the split's pairs :meth:`batches` yields: all of them, or with
        ``drop_last`` all but the last ``len % batch_size`` (a different few each shuffled
        epoch) while at least one whole batch remains."""
        n = len(self._splits[split])
        return n - n % batch_size if drop_last and n >= batch_size else n

    def batch_count(self, split: str, batch_size: int, drop_last: bool = False) -> int:
        """How many batches :meth:`batches` yields (unsharded)."""
        return -(-self.kept_pairs(split, batch_size, drop_last) // batch_size)


def bag_of_words(tokens: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(B, L) token ids -> (B, V) 0/1 presence of each word; PAD is never present."""
    bow = torch.zeros(tokens.shape[0], vocab_size, dtype=torch.float32, device=tokens.device)
    bow.scatter_(1, tokens, 1.0)
    bow[:, PAD] = 0.0
    return bow


def _tensor(a: np.ndarray | None) -> torch.Tensor | None:
    return None if a is None else torch.from_numpy(a)


def build_dataset(table: PairTable, pre: PreprocessConfig, *, val_fraction: float,
                  test_fraction: float, seed: int,
                  vocab: Vocabulary | None = None) -> PairedDataset:
    """Split ``table`` (stratified by label, grouped by image) and build the vocabulary on
    the training split only, so validation words the model never saw stay out-of-vocabulary
    (``vocab``: a run's own, used as it is)."""
    groups = table.image_index if table.images is not None and \
        len(np.unique(table.image_index)) < len(table) else None
    split = split_indices(len(table), val_fraction, test_fraction, seed, labels=table.labels,
                          groups=groups)
    if vocab is None and table.tokens is not None:
        vocab = Vocabulary.build((table.tokens[i] for i in split.train), max_size=pre.vocab_size,
                                 min_count=pre.min_count)
    return PairedDataset(table, vocab, split, pre.max_tokens)
