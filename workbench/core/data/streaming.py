"""Streaming training's core (issue 18), free of torch and Qt: hash splits, one scan of the
shards, each rank's share of an epoch, and a bounded shuffle buffer.

A streamed source is never held in memory, so nothing here keeps more than the validation
and test samples (scored every epoch) and a shuffle buffer. The split of a sample is a pure
function of its key, so every process (torchrun ranks, loader workers) agrees on it without
talking to the others; the epoch plan is a pure function of the scan's counts and
(seed, epoch, rank, world), so every rank computes its own share and all shares together
cover every training sample, with every rank yielding the same number (no collective hangs
waiting for a rank that ran out early).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

import numpy as np

if TYPE_CHECKING:
    from .sources.shards import Report, Sample, ShardedSource

T = TypeVar("T")

#: a plan entry: training samples number first..stop-1 of that shard (0-based, counting
#: training samples only, in the shard's order)
Entry = tuple[Path, int, int]


def split_of(key: str, val_fraction: float, test_fraction: float, seed: int) -> str:
    """'train', 'val' or 'test' from a hash of (seed, key).

    blake2b, not Python's ``hash()``: that one is salted per process, and every rank and
    worker (and the next run) must agree. The seed's text cannot hold the separator, so
    (seed, key) pairs never collide as text. Captions sharing a key (one image's several
    captions) land together, so no image is both trained on and scored.
    """
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode("utf-8", "surrogatepass"),
                             digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


@dataclass(frozen=True)
class ShardCounts:
    """A shard and how many training samples it holds (by :func:`split_of`), from a scan:
    metadata counts rows, not the samples left after bad ones and the split."""

    shard: Path
    train: int


def scan(source: ShardedSource, val_fraction: float, test_fraction: float, seed: int,
         report: Report, keep: Callable[[Sample], bool] | None = None,
         ) -> tuple[list[ShardCounts], list[Sample], list[Sample], list[Sample]]:
    """One pass over every shard: (counts, val, test, kept_train).

    ``counts`` has every shard of ``source.shards`` in order (a shard with no training
    sample counts 0). Validation and test samples are kept in memory: they are scored every
    epoch and are a small fraction. ``keep(sample)`` picks training samples to return too
    (a bounded sample for the vocabulary or statistics; None: none), so that needs no second
    pass over the data.
    """
    counts: list[ShardCounts] = []
    held: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    for split, sample in scan_held(source, val_fraction, test_fraction, seed, report, counts,
                                   keep):
        held[split].append(sample)
    return counts, held["val"], held["test"], held["train"]


def scan_held(source: ShardedSource, val_fraction: float, test_fraction: float, seed: int,
              report: Report, counts: list[ShardCounts],
              keep: Callable[[Sample], bool] | None = None,
              read: Callable[[int, int], None] | None = None) -> Iterator[tuple[str, Sample]]:
    """:func:`scan` as a stream: ``(split, sample)`` for each validation and test sample and
    each training sample ``keep`` picks, in the shards' order, as they are read (so a caller
    can decode them and let their encoded bytes go); the shards' counts are appended to
    ``counts``. ``read(done, shards)``: progress, after each shard."""
    for k, shard in enumerate(source.shards):
        train = 0
        for sample in source.samples(shard, report):
            split = split_of(sample.key, val_fraction, test_fraction, seed)
            if split == "train":
                train += 1
                if keep is not None and keep(sample):
                    yield split, sample
            else:
                yield split, sample
        counts.append(ShardCounts(shard, train))
        if read is not None:
            read(k + 1, len(source.shards))


def per_rank(counts: list[ShardCounts], world: int) -> int:
    """How many samples every rank yields per epoch: ceil(total / world)."""
    total = sum(c.train for c in counts)
    return -(-total // world)


def epoch_plan(counts: list[ShardCounts], epoch: int, seed: int, rank: int,
               world: int) -> list[Entry]:
    """This rank's share of one epoch's training samples, as (shard, first, stop) entries.

    The shards go in an order shuffled by (seed, epoch), the same on every rank; the global
    sequence of training samples in that order is cut into ``world`` contiguous ranges whose
    sizes differ by at most one (as ``torch.tensor_split``), so a rank reads few shards and
    each mostly once. Shorter ranges are padded to the longest by repeating samples from the
    start of their own range, as DistributedSampler pads: every rank yields
    :func:`per_rank` samples, at most world - 1 samples repeat, none is dropped. (With
    fewer samples than ranks a rank's range is empty; it repeats from the start of the
    whole sequence instead.) A padded repeat is an extra entry at the end.
    """
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in 0..{world - 1}")
    # SeedSequence takes non-negative integers only; the modulus keeps any int seed usable
    rng = np.random.default_rng([seed % 2**64, epoch % 2**64])
    order = [counts[i] for i in rng.permutation(len(counts))]
    total = sum(c.train for c in order)
    size, extra = divmod(total, world)
    # tensor_split: the first `extra` ranks take one more
    start = rank * size + min(rank, extra)
    stop = start + size + (1 if rank < extra else 0)
    want = per_rank(counts, world)
    plan = _entries(order, start, stop)
    pad = want - (stop - start)
    if pad > 0:
        # from the start of the own range (the shard a rank has just read first), or of
        # the whole sequence when the own range is empty
        base, length = (start, stop - start) if stop > start else (0, total)
        for i in range(pad):
            first = base + i % length
            plan += _entries(order, first, first + 1)
    return _merged(plan)


def _entries(order: list[ShardCounts], start: int, stop: int) -> list[Entry]:
    """The global training-sample range [start, stop) as per-shard entries."""
    out: list[Entry] = []
    offset = 0
    for c in order:
        lo, hi = max(start, offset), min(stop, offset + c.train)
        if lo < hi:
            out.append((c.shard, lo - offset, hi - offset))
        offset += c.train
        if offset >= stop:
            break
    return out


def _merged(plan: list[Entry]) -> list[Entry]:
    """Adjacent entries that continue one another in one shard as one (one read, not two)."""
    out: list[Entry] = []
    for shard, first, stop in plan:
        if out and out[-1][0] == shard and out[-1][2] == first:
            out[-1] = (shard, out[-1][1], stop)
        else:
            out.append((shard, first, stop))
    return out


def iter_plan(source: ShardedSource, plan: list[Entry], val_fraction: float,
              test_fraction: float, seed: int, report: Report,
              read: Callable[[int], None] | None = None) -> Iterator[Sample]:
    """The plan's training samples, in order. Each entry reads its shard from the start
    (formats read forward only), counts the training samples as the scan did, yields those
    in [first, stop) and stops reading once past ``stop``. ``read(k)``: the first ``k``
    entries are read (for progress)."""
    for k, (shard, first, stop) in enumerate(plan):
        if read is not None:
            read(k)
        n = 0
        samples = source.samples(shard, report)
        try:
            for sample in samples:
                if split_of(sample.key, val_fraction, test_fraction, seed) != "train":
                    continue
                if n >= first:
                    yield sample
                n += 1
                if n >= stop:
                    break
        finally:
            samples.close()  # the shard's file now, not when the generator is collected
    if read is not None:
        read(len(plan))


def shuffled(samples: Iterator[T], buffer: int, rng: np.random.Generator) -> Iterator[T]:
    """A bounded shuffle: fill a buffer of ``buffer`` items, then yield a random one and put
    the next item in its place; at the end keep drawing at random until it is empty. Never
    more than ``buffer`` items are held (the next is read only after one is yielded).
    ``buffer`` <= 1: the order unchanged."""
    it = iter(samples)
    if buffer <= 1:
        yield from it
        return
    held: list[T] = []
    for item in it:
        held.append(item)
        if len(held) >= buffer:
            break
    end = object()
    while held:
        i = int(rng.integers(len(held)))
        yield held[i]
        item = next(it, end)
        if item is end:
            held[i] = held[-1]  # drain: remove slot i by moving the last into it
            held.pop()
        else:
            held[i] = item
