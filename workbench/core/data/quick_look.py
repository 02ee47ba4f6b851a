"""A quick look at a large sharded source (issue 18: ``data inspect`` of 1,000,000 Parquet
pairs in seconds): the pair count from the shards' metadata, label counts from the label
column alone where the format allows, and everything else (captions, images, vocabulary,
bad samples) from the first samples, decoded as a load would decode them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..config import DataConfig
from .loader import PairTable, table_from_rows
from .memory import DataEstimate, memory_budget
from .rows import Problems
from .sources import SHARDED, detect
from .sources.shards import read_rows

# Above this many pairs (by the shards' metadata) a sharded source is looked at, not loaded.
QUICK_ABOVE = 20_000
# How many samples the look decodes.
SAMPLE = 1_000


@dataclass
class QuickLook:
    table: PairTable  # the first SAMPLE pairs, loaded
    total: int  # pairs in all shards, from their metadata
    shards: int
    label_counts: dict[str, int] | None  # every shard's, or None: only the sample's are known


def quick_look(cfg: DataConfig, image_size: int, *, above: int | None = None,
               sample: int | None = None) -> QuickLook | None:
    """A look at ``cfg``'s source when it is sharded and holds more than ``above`` pairs by
    its metadata; None otherwise (load it). Bad samples among the first ones are listed,
    never fatal: a look reports, it does not train."""
    above = QUICK_ABOVE if above is None else above
    sample = SAMPLE if sample is None else sample
    kind = detect(cfg.source, cfg.format)
    if kind not in SHARDED:
        return None
    t0 = time.perf_counter()
    source = SHARDED[kind](cfg)
    total = source.total()
    if total is None or total <= above:
        return None
    problems = Problems("skip")
    rows = read_rows(source, problems, limit=sample)
    table = table_from_rows(cfg, rows, problems, image_size, None, None, t0)
    table.sampled_of = total
    streams = cfg.streaming == "on" or (cfg.streaming == "auto" and
                                        needs_streaming(source, total, image_size))
    table.notes.append(f"showing the first {len(table):,} of {total:,} pairs in "
                       f"{len(source.shards):,} shards; training "
                       + ("streams them from the shards (decoding them all would pass the "
                          "memory limit)" if streams else "loads them all"))
    return QuickLook(table, total, len(source.shards), source.label_counts())


def needs_streaming(source, total: int, image_size: int) -> bool:
    """Whether decoding all ``total`` pairs of ``source`` (a ShardedSource) would pass the
    memory limit: ``data.streaming = auto`` then streams."""
    estimate = DataEstimate(total, image_size, source.encoded_bytes())
    return not estimate.fits(memory_budget(source.cfg.max_memory_gb))
