"""Streaming training's core (issue 18): hash splits, the scan, each rank's epoch plan over
uneven shards, reading a plan from real Parquet shards, and the bounded shuffle buffer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from data_helpers import save_image
from workbench.core.config import DataConfig
from workbench.core.data.streaming import (ShardCounts, epoch_plan, iter_plan, per_rank,
                                           scan, shuffled, split_of)

VAL, TEST, SEED = 0.2, 0.2, 7
SIZES = [5, 0, 17, 3, 9]  # uneven shards, one without a training sample


# -- split_of ----------------------------------------------------------------------------
def test_split_of_is_a_stable_function_of_seed_and_key():
    keys = [f"img-{i:06d}" for i in range(20_000)]
    splits = [split_of(k, VAL, TEST, SEED) for k in keys]
    assert splits == [split_of(k, VAL, TEST, SEED) for k in keys]  # deterministic
    share = Counter(splits)
    for name, want in (("val", VAL), ("test", TEST), ("train", 1 - VAL - TEST)):
        assert abs(share[name] / len(keys) - want) < 0.015, share  # ~5 standard deviations
    other = [split_of(k, VAL, TEST, SEED + 1) for k in keys]
    assert sum(a != b for a, b in zip(splits, other)) > 0.3 * len(keys)  # seed matters
    # fixed across processes and runs (not Python's salted hash): known values stay put
    assert [split_of(f"img-{i:06d}", VAL, TEST, SEED) for i in range(8)] == [
        "val", "val", "train", "train", "train", "val", "train", "train"]
    assert split_of("x", 0.0, 1.0, SEED) == "test" and split_of("x", 1.0, 0.0, SEED) == "val"


# -- epoch_plan --------------------------------------------------------------------------
def counts_of(sizes) -> list[ShardCounts]:
    return [ShardCounts(Path(f"shard-{i}"), n) for i, n in enumerate(sizes)]


def expand(plan) -> list[tuple[str, int]]:
    """A plan as the (shard, training-sample number) it yields, in order."""
    return [(s.name, k) for s, first, stop in plan for k in range(first, stop)]


@pytest.mark.parametrize("sizes", [SIZES, [1, 0, 2], [0, 0], [4]])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_every_rank_yields_the_same_count_and_every_sample_is_seen(sizes, world):
    counts = counts_of(sizes)
    total = sum(sizes)
    everything = {(f"shard-{i}", k) for i, n in enumerate(sizes) for k in range(n)}
    for epoch in range(3):
        shares = [expand(epoch_plan(counts, epoch, SEED, r, world)) for r in range(world)]
        assert all(len(s) == per_rank(counts, world) for s in shares)
        assert per_rank(counts, world) == -(-total // world)
        seen = Counter(x for s in shares for x in s)
        assert set(seen) == everything  # none dropped, none invented
        assert sum(seen.values()) - total <= world - 1  # padding: at most world - 1 repeats
        if total >= world:
            assert max(seen.values(), default=1) <= 2
            assert sum(v == 2 for v in seen.values()) <= world - 1
        for s in shares:  # each sample once in its own rank's share, but for padding
            assert len(s) - len(set(s)) <= (1 if total >= world else len(s))


def test_the_plan_is_contiguous_per_rank_and_padded_from_its_own_start():
    counts = counts_of(SIZES)  # 34 samples over 3 ranks: 12, 11, 11 -> 12 each
    plans = [epoch_plan(counts, 0, SEED, r, 3) for r in range(3)]
    shares = [expand(p) for p in plans]
    assert [len(s) for s in shares] == [12, 12, 12]
    assert len(set(shares[0])) == 12
    for s in shares[1:]:
        assert s[-1] == s[0]  # the repeat is the first sample of the rank's own range
    assert all(stop > first for p in plans for _, first, stop in p)  # no empty entry
    assert all(s.name != "shard-1" for p in plans for s, _, _ in p)  # the empty shard


def test_the_order_changes_with_the_epoch_and_not_with_the_process():
    counts = counts_of(list(range(1, 21)))
    first = [epoch_plan(counts, 0, SEED, r, 2) for r in range(2)]
    assert first == [epoch_plan(counts, 0, SEED, r, 2) for r in range(2)]
    assert first != [epoch_plan(counts, 1, SEED, r, 2) for r in range(2)]
    assert first != [epoch_plan(counts, 0, SEED + 1, r, 2) for r in range(2)]
    with pytest.raises(ValueError):
        epoch_plan(counts, 0, SEED, 2, 2)


# -- a real Parquet source ---------------------------------------------------------------
@pytest.fixture(scope="module")
def parquet_source(tmp_path_factory):
    """Parquet shards of uneven sizes (one empty) written by pyarrow; every fifth image has
    two captions (a list), which share the image's key."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from workbench.core.data.sources.parquet import ParquetSource

    root = tmp_path_factory.mktemp("streamed")
    png = save_image(root / "dot.png", (200, 20, 20)).read_bytes()
    folder = root / "shards"
    folder.mkdir()
    row = 0
    for i, n in enumerate(SIZES):
        keys = [f"img-{row + j:04d}" for j in range(n)]
        captions = [[f"picture {k}"] + ([f"again {k}"] if (row + j) % 5 == 0 else [])
                    for j, k in enumerate(keys)]
        table = pa.table({"image": pa.array([png] * n, pa.binary()),
                          "text": pa.array(captions, pa.list_(pa.string())),
                          "__key__": pa.array(keys, pa.string())})
        pq.write_table(table, folder / f"part-{i}.parquet")
        row += n
    return ParquetSource(DataConfig(source=str(folder)))


def no_problems(where, reason):
    raise AssertionError(f"{where}: {reason}")


def every_sample(source):
    return [s for shard in source.shards for s in source.samples(shard, no_problems)]


def test_scan_counts_training_samples_and_keeps_val_and_test(parquet_source):
    everything = every_sample(parquet_source)
    by_split = {name: [s for s in everything if split_of(s.key, VAL, TEST, SEED) == name]
                for name in ("train", "val", "test")}
    assert all(by_split.values())  # the fixture exercises all three
    kept_keys = {s.key for s in by_split["train"][::3]}
    counts, val, test, kept = scan(parquet_source, VAL, TEST, SEED, no_problems,
                                   keep=lambda s: s.key in kept_keys)
    assert val == by_split["val"] and test == by_split["test"]
    assert [c.shard for c in counts] == parquet_source.shards
    assert sum(c.train for c in counts) == len(by_split["train"])
    for c in counts:
        assert c.train == sum(1 for s in by_split["train"] if s.where.startswith(c.shard.name))
    assert kept == [s for s in by_split["train"] if s.key in kept_keys]
    assert scan(parquet_source, VAL, TEST, SEED, no_problems)[3] == []  # keep=None: none
    # one image's captions land together
    for key, group in Counter(s.key for s in everything).items():
        if group > 1:
            assert len({split_of(s.key, VAL, TEST, SEED) for s in everything
                        if s.key == key}) == 1


@pytest.mark.parametrize("world", [1, 2, 3])
def test_iter_plan_yields_exactly_the_plans_training_samples(parquet_source, world):
    counts = scan(parquet_source, VAL, TEST, SEED, no_problems)[0]
    train = {}  # shard -> its training samples in order
    for shard in parquet_source.shards:
        train[shard] = [s for s in parquet_source.samples(shard, no_problems)
                        if split_of(s.key, VAL, TEST, SEED) == "train"]
    total = sum(len(v) for v in train.values())
    for epoch in (0, 1):
        seen = Counter()
        for rank in range(world):
            plan = epoch_plan(counts, epoch, SEED, rank, world)
            got = list(iter_plan(parquet_source, plan, VAL, TEST, SEED, no_problems))
            want = [train[s][k] for s, first, stop in plan for k in range(first, stop)]
            assert got == want and len(got) == per_rank(counts, world)
            assert all(split_of(s.key, VAL, TEST, SEED) == "train" for s in got)
            seen.update((s.key, s.caption) for s in got)
        assert len(seen) == total and sum(seen.values()) - total <= world - 1


# -- shuffled ----------------------------------------------------------------------------
def test_shuffled_is_a_reproducible_permutation_with_bounded_memory():
    consumed = 0

    def items():
        nonlocal consumed
        for i in range(100):
            consumed += 1
            yield i

    held = []
    out = []
    for x in shuffled(items(), 4, np.random.default_rng(3)):
        held.append(consumed - len(out))  # read but not yet handed out, this one included
        out.append(x)
    assert sorted(out) == list(range(100)) and out != list(range(100))
    assert max(held) == 4  # never more than the buffer
    assert out == list(shuffled(iter(range(100)), 4, np.random.default_rng(3)))
    assert out != list(shuffled(iter(range(100)), 4, np.random.default_rng(4)))
    # a buffer bounds how far an item moves forward: item i comes out at position >= i - 3
    assert all(pos >= x - 3 for pos, x in enumerate(out))


@pytest.mark.parametrize("buffer", [0, 1])
def test_a_buffer_of_one_keeps_the_order(buffer):
    assert list(shuffled(iter(range(10)), buffer, np.random.default_rng(0))) == list(range(10))


def test_a_buffer_larger_than_the_data_shuffles_all_of_it():
    out = list(shuffled(iter(range(10)), 100, np.random.default_rng(0)))
    assert sorted(out) == list(range(10)) and out != list(range(10))
    assert list(shuffled(iter([]), 4, np.random.default_rng(0))) == []
