"""Training that streams from shards instead of holding every pair in memory (issue 18).

A sharded source (Parquet / WebDataset) is read once when it loads
(``streaming.scan_held``): each sample's split comes from a hash of its key, the validation
and test samples and a bounded sample of the training split are decoded as they are read
(in worker processes, keeping their pixels only) into an ordinary in-memory
:class:`PairedDataset` (validation, test, the vocabulary, input statistics, probes and
snapshots use it), and only the number of training samples per shard is kept of the rest.
Each training epoch then reads the shards again in a shuffled order, through a bounded
shuffle buffer, on a thread of its own, its images decoded by worker processes
(``stream_decode``) while the model trains.

Not streamed (refused with the reason): the graph algorithm (one full-graph step over every
node) and pretrained encoders (their features are computed for the whole data set at once).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .. import config as C
from ..errors import ConfigError, DataError
from .dataset import Batch, PairedDataset, bag_of_words
from .stream_decode import CHUNK as DECODE_CHUNK
from .stream_decode import DecodePool, decode_items
from .loader import table_from_rows
from .quick_look import needs_streaming
from .rows import Problems, SourceRows, natural_key
from .sources import SHARDED, detect
from .split import Split
from .streaming import epoch_plan, iter_plan, per_rank, scan_held, shuffled
from .text import PAD, Vocabulary, tokenize

# Training samples decoded into memory at load: the vocabulary is built on them, and input
# statistics, probes and snapshots read them.
TRAIN_SAMPLE = 5_000
# Images a decoding process takes at once while the load decodes the held-out samples.
LOAD_CHUNK = 256
# Batches decoded ahead of the training step.
PREFETCH = 4

# data.stream_workers = -1: one decoding process per this many cores of each training
# process (torchrun's processes on one machine share its cores), at most MAX_AUTO_WORKERS.
# The training step keeps the rest busy. On two cores one decoding process measured level
# with decoding on a thread (1.03x, python -m workbench.tools.stream_check); processes are
# the default because they scale with the cores, where a thread's decode holds the GIL.
CORES_PER_WORKER = 4
MAX_AUTO_WORKERS = 4

STREAM_REFUSED = {
    "graph": "the graph algorithm takes one full-graph step over every node each epoch, so "
             "it needs every pair in memory",
}


def stream_workers(setting: int, cores: int | None = None, local_world: int | None = None
                   ) -> int:
    """Decoding processes for ``data.stream_workers``: -1 picks from the machine's cores
    and how many training processes share them (torchrun's LOCAL_WORLD_SIZE); at least one
    where there are two cores or more (a process decodes beside the step, not in turn with
    it), none on one core."""
    if setting >= 0:
        return setting
    cores = cores if cores is not None else os.cpu_count() or 1
    if local_world is None:
        try:
            local_world = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        except ValueError:
            local_world = 1
    if cores < 2:
        return 0
    return max(1, min(MAX_AUTO_WORKERS, cores // (CORES_PER_WORKER * local_world)))


def wants_streaming(cfg: C.ExperimentConfig) -> bool:
    """Whether ``cfg``'s training split streams: ``data.streaming`` on, or auto and decoding
    every image would pass the memory limit (a sharded source only)."""
    mode = cfg.data.streaming
    if mode == "off":
        return False
    kind = detect(cfg.data.source, cfg.data.format)
    if kind not in SHARDED:
        if mode == "on":
            raise ConfigError("streaming reads Parquet or WebDataset shards, and this source "
                              f"is {kind}; write it as shards first (workbench data convert "
                              "SOURCE --to parquet OUT) or set data.streaming = off",
                              key="data.streaming", value=mode)
        return False
    if mode == "on":
        return True
    source = SHARDED[kind](cfg.data)
    total = source.total()
    return total is not None and needs_streaming(source, total, cfg.preprocess.image_size)


def check_streamable(cfg: C.ExperimentConfig) -> None:
    reason = STREAM_REFUSED.get(cfg.algorithm.name)
    if reason:
        raise ConfigError(f"streamed data cannot train {cfg.algorithm.name}: {reason}; set "
                          "data.streaming = off (and data.max_memory_gb) or pick another "
                          "algorithm", key="algorithm.name", value=cfg.algorithm.name)
    for side in ("text", "image"):
        encoder = getattr(cfg.model, f"{side}_encoder")
        if encoder == "pretrained":
            raise ConfigError(f"streamed data cannot use a pretrained {side} model yet (its "
                              "features are computed for the whole data set at once); set "
                              "data.streaming = off", key=f"model.{side}_encoder",
                              value=encoder)


class StreamSplit(Split):
    """The in-memory split, but with the training split's true size (streamed)."""

    def __init__(self, train, val, test, streamed_train: int):
        super().__init__(train, val, test)
        object.__setattr__(self, "streamed_train", streamed_train)

    def sizes(self) -> dict[str, int]:
        return {**super().sizes(), "train": self.streamed_train}


class StreamedDataset(PairedDataset):
    """A dataset whose training batches stream from the shards; everything else (validation,
    test, a training sample) is the in-memory dataset it extends."""

    streamed = True

    def setup_stream(self, source, counts, cfg: C.ExperimentConfig, seed: int,
                     label_ids: dict[str, int]) -> None:
        self.source, self.counts, self.seed = source, counts, seed
        self.val_fraction, self.test_fraction = cfg.data.val_fraction, cfg.data.test_fraction
        self.buffer = cfg.data.shuffle_buffer
        self.decode_size = cfg.preprocess.image_size
        self.on_error = cfg.data.on_error
        self.decode_workers = stream_workers(cfg.data.stream_workers)
        self.label_ids = label_ids
        self.stream_skipped = 0  # bad samples left out while streaming (skip mode)
        self._shards = (0, 0)  # (shards read, shards to read) this epoch

    def shards_read(self) -> tuple[int, int] | None:
        """Shards read so far this epoch and how many it reads (of this process's share;
        read ahead of training by the shuffle buffer and the decoding)."""
        return self._shards if self._shards[1] else None

    @property
    def split_notes(self) -> list[str]:
        n = len(self.source.shards)
        sample = len(self.split.train)
        return super().split_notes + [
            f"the training split streams from {n:,} shard{'s' if n != 1 else ''} "
            f"({self.split.sizes()['train']:,} pairs, shuffled {self.buffer:,} at a time); "
            f"the vocabulary and input statistics come from {sample:,} of them; splits are "
            "drawn by a hash of each sample's key, not stratified by label"]

    def training_warnings(self) -> list[str]:
        n = self.stream_skipped
        if not n:
            return []
        return [f"a streamed training image did not decode {n:,} time{'s' if n != 1 else ''} "
                "(counted every epoch; data.on_error = skip): each was made up by repeating "
                "the sample before it"]

    def kept_pairs(self, split: str, batch_size: int, drop_last: bool = False) -> int:
        if split != "train":
            return super().kept_pairs(split, batch_size, drop_last)
        n = per_rank(self.counts, 1)
        return n - n % batch_size if drop_last and n >= batch_size else n

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None, drop_last: bool = False,
                shard: tuple[int, int] | None = None, states: bool = True) -> Iterator[Batch]:
        """Training batches (shuffled) stream from the shards; any other pass over a split
        (statistics, scores) reads the in-memory part."""
        if split != "train" or not shuffle:
            yield from super().batches(split, batch_size, shuffle=shuffle, generator=generator,
                                       drop_last=drop_last, shard=shard, states=states)
            return
        rank, world = shard or (0, 1)
        local = max(1, batch_size // world)  # every rank the same: the same step count
        n = per_rank(self.counts, world)
        ignore = lambda where, reason: None  # noqa: E731
        # (A bad sample of a shard's structure was reported when the shards were scanned, and
        # failed the load in fail mode: not again every epoch.)
        if world == 1 and n <= self.buffer:
            # The whole split fits in the shuffle buffer: the order is a permutation drawn as
            # the in-memory path draws it, over the samples in the shards' order, so a split
            # small enough streams the very batches it would train on in memory.
            # (drawn here, on the caller's thread, where the run's generator is used)
            order = torch.randperm(n, generator=generator).tolist()
            plan = [(c.shard, 0, c.train) for c in self.counts if c.train]
            arrange = lambda samples: _permuted(samples, order)  # noqa: E731
        else:
            # One draw from the run's shuffling generator per epoch: every rank draws the
            # same, so all cut the same epoch plan, and a resumed run continues the sequence.
            epoch_seed = int(torch.randint(2 ** 31 - 1, (1,), generator=generator))
            plan = epoch_plan(self.counts, epoch_seed, self.seed, rank, world)
            rng = np.random.default_rng(epoch_seed + rank)
            arrange = lambda samples: shuffled(samples, self.buffer, rng)  # noqa: E731
        samples = arrange(iter_plan(self.source, plan, self.val_fraction, self.test_fraction,
                                    self.seed, ignore, self._read(plan)))
        stop = n - n % local if drop_last and n >= local else n
        yield from _prefetched(self._batches(samples, local, stop), PREFETCH)

    def _read(self, plan: list) -> Callable[[int], None]:
        self._shards = (0, len(plan))

        def read(k: int) -> None:
            self._shards = (k, len(plan))  # one tuple: read whole by the training thread
        return read

    def _bad(self, where: str, reason: str) -> None:
        if self.on_error == "fail":
            raise DataError(f"{where}: {reason} (set data.on_error = \"skip\" to leave bad "
                            "samples out)")
        self.stream_skipped += 1

    def _batches(self, samples, size: int, stop: int) -> Iterator[Batch]:
        """Exactly ``stop`` samples in batches of ``size``, whatever the shards hold now:
        under torchrun a rank with fewer batches than the others would leave them waiting at
        a collective. A sample whose image does not decode (skip mode), or a shard that
        yields fewer samples than when it was scanned, is made up by repeating the last
        good sample."""
        chunk, taken, last = [], 0, None
        for sample, pixels, problem in self._decoded(samples):
            if taken >= stop:
                break
            if problem is not None:
                self._bad(sample.where, problem)
                if last is None:
                    continue  # nothing to repeat yet: the shortfall is made up at the end
                item = last
            else:
                item = (sample, pixels)
            last = item
            chunk.append(item)
            taken += 1
            if len(chunk) == size:
                yield self._batch(chunk)
                chunk = []
        while taken < stop and last is not None:
            chunk.append(last)
            taken += 1
            if len(chunk) == size:
                yield self._batch(chunk)
                chunk = []
        if chunk:
            yield self._batch(chunk)

    def _decoded(self, samples) -> Iterator[tuple]:
        """``(sample, pixels, None)``, or ``(sample, None, reason)`` for an image that does
        not decode, in the order of ``samples``: decoded by worker processes (or here, with
        ``data.stream_workers = 0``), the same pixels either way."""
        with DecodePool(self.decode_workers, self.decode_size) as pool:
            yield from decode_items(pool, samples, lambda s: s.image, DECODE_CHUNK)

    def _batch(self, chunk) -> Batch:
        """A batch built as :meth:`PairedDataset.batch` builds one from memory."""
        samples = [s for s, _ in chunk]
        b = Batch(index=torch.full((len(chunk),), -1, dtype=torch.int64))
        if self.vocab is not None:
            ids, lengths = self.vocab.encode_batch([tokenize(s.caption) for s in samples],
                                                   self.max_tokens)
            length = max(1, int(lengths.max()))
            b.tokens = torch.from_numpy(ids[:, :length])
            b.mask = b.tokens != PAD
            b.bow = bag_of_words(b.tokens, len(self.vocab))
        keys: dict[str, int] = {}
        b.image_ids = torch.tensor([keys.setdefault(s.key, len(keys)) for s in samples])
        b.images = torch.from_numpy(np.stack([p for _, p in chunk])).float().div_(255.0)
        if self.labels is not None:
            b.labels = torch.tensor([self.label_ids.get(s.label, 0) for s in samples])
        return b


def _permuted(samples: Iterator, order: list[int]) -> Iterator:
    """``samples`` (read when first asked for) in ``order``; an index past the samples there
    are now (a shard that shrank since the scan) is passed over."""
    held = list(samples)
    yield from (held[i] for i in order if i < len(held))


def _prefetched(batches: Iterator[Batch], depth: int) -> Iterator[Batch]:
    """``batches`` made on a thread of its own, ``depth`` ahead of the consumer (decoding
    and training overlap; an error on the thread is raised here)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for b in batches:
                while not stop.is_set():
                    try:
                        q.put(b, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)
        finally:
            # at once, on this thread: ends the decoding processes of an epoch cut short
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="stream-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def load_streamed(cfg: C.ExperimentConfig, *, progress=None) -> StreamedDataset:
    """Scan ``cfg``'s shards and build the dataset whose training split streams."""
    from ..config import split_seed
    check_streamable(cfg)
    t0 = time.perf_counter()
    kind = detect(cfg.data.source, cfg.data.format)
    source = SHARDED[kind](cfg.data)
    problems = Problems(cfg.data.on_error)
    seed = split_seed(cfg)
    labels: set[str] = set()
    kept = 0

    def keep(sample) -> bool:
        nonlocal kept
        if sample.label is not None:
            labels.add(sample.label)
        kept += 1
        return kept <= TRAIN_SAMPLE

    def report(where: str, reason: str) -> None:
        problems.add(where, None, reason)

    counts: list = []

    def shards_read(done: int, total: int) -> None:
        if progress is not None:
            progress("reading shards", done, total)

    held = scan_held(source, cfg.data.val_fraction, cfg.data.test_fraction, seed, report,
                     counts, keep=keep, read=shards_read)
    # Decoded as they are read, in worker processes: only their pixels are kept, so the
    # load never holds every validation and test image encoded and decoded at once.
    groups: dict[str, list] = {"train": [], "val": [], "test": []}
    for split, sample, pixels, problem in _decode_held(held, cfg.preprocess.image_size):
        if problem is not None:
            report(sample.where, problem)
        else:
            groups[split].append((sample, pixels))
    problems.check(str(source.source))
    parts = [(name, item) for name in ("train", "val", "test") for item in groups[name]]
    groups.clear()
    if not parts:
        raise DataError(f"{source.source}: no usable samples in its shards")
    samples = [s for _, (s, _) in parts]
    labels.update(s.label for s in samples if s.label is not None)
    has_labels = bool(labels)
    images = np.stack([pixels for _, (_, pixels) in parts])
    src = SourceRows(
        kind=kind, file=_path(source), root=_path(source), rows=list(range(1, len(samples) + 1)),
        captions=[s.caption for s in samples], images=images,
        labels={"label": [s.label for s in samples]} if has_labels else {},
        label_column="label" if has_labels else None,
        extras={"split": [name for name, _ in parts]},
        places=[s.where for s in samples], notes=list(source.notes))
    del parts, samples
    table = table_from_rows(cfg.data, src, problems, cfg.preprocess.image_size, progress,
                            None, t0)
    names = sorted(labels, key=natural_key)
    if has_labels:  # ids over every label the shards hold, not only the in-memory ones
        remap = np.array([names.index(n) for n in table.label_names], dtype=np.int64)
        table.labels, table.label_names = remap[table.labels], names
    where = np.array(table.extras["split"])
    split = StreamSplit(*(np.flatnonzero(where == name) for name in ("train", "val", "test")),
                        streamed_train=per_rank(counts, 1))
    vocab = None if table.tokens is None else Vocabulary.build(
        (table.tokens[i] for i in split.train), max_size=cfg.preprocess.vocab_size,
        min_count=cfg.preprocess.min_count)
    ds = StreamedDataset(table, vocab, split, cfg.preprocess.max_tokens)
    ds.setup_stream(source, counts, cfg, seed, {n: i for i, n in enumerate(names)})
    return ds


def _decode_held(held, size: int) -> Iterator[tuple]:
    """``(split, sample, pixels, problem)`` for each ``(split, sample)`` of ``held``, in
    order, the images decoded in chunks by worker processes (every core but this one's:
    nothing else runs during the load); a sample's encoded bytes are let go once it is
    decoded."""
    from .images import default_workers
    with DecodePool(max(1, default_workers() - 1), size) as pool:
        for (split, sample), pixels, reason in decode_items(pool, held, lambda x: x[1].image,
                                                            LOAD_CHUNK):
            yield split, _without_image(sample), pixels, reason


def _without_image(sample):
    """``sample`` with its encoded image let go (decoded, it is no longer needed)."""
    from dataclasses import replace
    return replace(sample, image=None)


def _path(source) -> Path:
    return Path(str(source.source))
