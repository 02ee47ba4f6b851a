"""Streamed training images decode in worker processes: the same pixels and problems, in
the same order, as decoding here; a failed worker's chunks decoded here instead; no worker
left running when a pass ends early."""

from __future__ import annotations

import io
import sys
import time

import numpy as np
import pytest
from PIL import Image

from workbench.core.data import stream_decode
from workbench.core.data.stream_decode import DecodePool, decode_chunk

SIZE = 8


def png(seed: int, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 256, (5 + seed % 4, 9, 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def chunks() -> list[list[bytes]]:
    """11 chunks of up to 7 images, among them text, empty bytes and a cut PNG."""
    images = [png(i, ("RGB", "L", "RGBA")[i % 3]) for i in range(70)]
    images[3] = b"not an image"
    images[20] = b""
    images[41] = images[40][: len(images[40]) // 2]
    return [images[i:i + 7] for i in range(0, len(images), 7)]


def same(got, want) -> None:
    assert len(got) == len(want)
    for (pg, qg), (pw, qw) in zip(got, want):
        np.testing.assert_array_equal(pg, pw)
        assert qg == qw


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_decode_what_this_process_decodes_in_order(chunks, workers):
    want = [decode_chunk(c, SIZE) for c in chunks]
    assert set(want[0][1]) == {3} and set(want[2][1]) == {6} and set(want[5][1]) == {6}
    with DecodePool(workers, SIZE) as pool:
        assert len(pool._workers) == workers
        same(list(pool.decode(iter(chunks))), want)


@pytest.mark.parametrize("command", [
    "import sys; sys.exit(3)",  # fails at once
    "import sys; sys.stdin.buffer.read(100); sys.exit(1)",  # fails in its first chunk
])
def test_a_failed_worker_costs_time_not_images(chunks, monkeypatch, command):
    want = [decode_chunk(c, SIZE) for c in chunks]
    monkeypatch.setattr(stream_decode, "worker_command",
                        lambda size: [sys.executable, "-c", command])
    with DecodePool(2, SIZE) as pool:
        same(list(pool.decode(iter(chunks))), want)


def test_no_worker_is_left_when_a_pass_ends_early(chunks):
    pool = DecodePool(2, SIZE)
    answers = pool.decode(iter(chunks * 20))
    next(answers)
    answers.close()
    pool.close()
    assert all(w.proc.poll() is not None for w in pool._workers)


def test_a_streamed_epoch_cut_short_ends_its_workers(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    import torch
    from fixtures import make_image_folder, tiny_config
    from workbench.core.config import DataConfig
    from workbench.core.data import load_dataset
    from workbench.core.data.convert import convert

    folder = make_image_folder(tmp_path / "shapes", n_per_class=10)
    convert(DataConfig(source=str(folder)), "parquet", tmp_path / "pq", shard_size=7)
    pools = []
    real = DecodePool.__init__

    def record(self, *args, **kwargs):
        real(self, *args, **kwargs)
        pools.append(self)

    monkeypatch.setattr(DecodePool, "__init__", record)
    ds = load_dataset(tiny_config(tmp_path / "pq", "data.streaming=on", "data.stream_workers=2",
                                  "data.shuffle_buffer=4"))
    # the load decoded its held-out pairs in processes of its own, ended with it
    assert len(pools) == 1 and all(w.proc.poll() is not None for w in pools[0]._workers)
    pools.clear()
    batches = ds.batches("train", 2, shuffle=True, generator=torch.Generator().manual_seed(0))
    next(batches)
    batches.close()
    for _ in range(100):  # the decoding thread notices within its 0.1 s wait
        if pools and all(w.proc.poll() is not None for w in pools[0]._workers):
            break
        time.sleep(0.05)
    assert len(pools) == 1 and len(pools[0]._workers) == 2
    assert all(w.proc.poll() is not None for w in pools[0]._workers)


@pytest.mark.parametrize("setting, cores, world, want", [
    (3, 2, 1, 3),  # asked for: as asked
    (0, 16, 1, 0),  # a thread
    (-1, 1, 1, 0),  # one core: decoding on a thread, in turn with the step
    (-1, 2, 1, 1), (-1, 8, 1, 2), (-1, 64, 1, 4),  # one per four cores, at most four
    (-1, 16, 2, 2), (-1, 2, 2, 1),  # torchrun's processes share the cores
])
def test_automatic_decoding_processes_follow_the_cores(setting, cores, world, want):
    from workbench.core.data.streamed import stream_workers
    assert stream_workers(setting, cores, world) == want
