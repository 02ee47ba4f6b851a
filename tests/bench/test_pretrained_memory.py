"""``tools/pretrained_memory``: issue 15's memory check (frozen MiniLM features of N captions,
memory-mapped, one epoch) run end to end at a small N, and what it measures.

The figures themselves are not asserted beyond sanity: the check is run by hand at 100,000.
"""

from __future__ import annotations

import argparse
import json
import mmap
import sys

import numpy as np
import pytest

from workbench.tools import pretrained_memory as PM

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc/self/status")


def test_captions_vary_in_length_and_keep_what_the_image_shows():
    base = [f"a small {c} circle" for c in ("red", "blue")] * 200
    captions = PM.varied_captions(base, seed=3)
    assert captions == PM.varied_captions(base, seed=3)  # the cache key stays the same
    assert all(c.lower().startswith(b) for c, b in zip(captions, base))
    words = np.array([len(c.split()) for c in captions])
    assert words.min() == 4 and words.max() >= 18 and len(set(words)) >= 8


@linux_only
def test_the_sampler_counts_private_memory_and_not_a_mapped_file(tmp_path):
    path = tmp_path / "mapped.bin"
    path.write_bytes(b"\x01" * (64 * 2**20))
    sampler = PM.MemorySampler(0.005)
    try:
        base = sampler.phase()
        mapped = np.memmap(path, dtype=np.uint8, mode="r")
        assert int(mapped[::4096].sum()) == 64 * 256  # every page read: resident, file-backed
        read = sampler.phase()
        # Private pages the process surely did not have: a fresh anonymous mapping, each page
        # written. (np.ones could reuse heap pages an earlier test in this worker freed but
        # the allocator kept, still counted as private: then nothing grew.)
        owned = mmap.mmap(-1, 64 * 2**20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        owned.write(b"\x01" * (64 * 2**20))
        own = sampler.phase()
        owned.close()
        del mapped
    finally:
        sampler.close()
    assert read["peak_rss_mb"] - base["peak_anon_mb"] > 0
    assert read["peak_anon_mb"] - base["peak_anon_mb"] < 32
    assert read["file_at_peak_rss_mb"] >= 60
    assert own["peak_anon_mb"] - base["peak_anon_mb"] >= 60


def test_a_child_step_reports_json_and_streams_its_progress(capsys):
    script = ("import sys; print('  half way', file=sys.stderr); print('noise'); "
              "print('{\"a\": 1}')")
    ok = PM.child_json([sys.executable, "-c", script])
    assert ok == {"a": 1} and "half way" in capsys.readouterr().err
    failed = PM.child_json([sys.executable, "-c", "raise SystemExit('it broke')"])
    assert "exit 1" in failed["error"] and "it broke" in failed["error"]


@linux_only
def test_the_check_runs_end_to_end_on_a_few_captions(tmp_path, capsys, monkeypatch):
    """Every step at N = 24, in this process (a fresh interpreter per step, as the real check
    starts, would take most of a minute here: the launch is tested above)."""
    pytest.importorskip("transformers")

    def in_process(args, step):
        return json.loads(json.dumps(PM.child(argparse.Namespace(**{**vars(args),
                                                                      "child": step}))))
    monkeypatch.setattr(PM, "run_child", in_process)
    out = tmp_path / "result.json"
    code = PM.main(["--n", "24", "--dir", str(tmp_path / "check"), "--max-tokens", "6",
                    "--batch", "8", "--val-fraction", "0.25", "--test-fraction", "0.0",
                    "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    result = json.loads(out.read_text())
    encode = result["encode"]
    assert not encode["from_cache"] and encode["states_shape"] == [24, 8, 384]
    assert encode["states_dtype"] == "float16" and encode["pieces_max"] == 8
    assert result["cache"]["entries"] == 1
    assert result["cache"]["states_bytes"] >= 24 * 8 * 384 * 2
    for run in PM.RUNS:
        r = result[f"train:{run}"]
        assert r["status"] == "finished", r["reason"]
        assert r["mapped"] and r["pairs"] == 24 and r["steps"] >= 1
        assert 0 < r["train"]["peak_anon_mb"] <= r["train"]["peak_rss_mb"] < PM.TARGET_MB
        assert list(r["phases"]) == ["setup", "epoch", "final"]
        assert f"train {run} on" in printed
    assert "cache on disk" in printed and "under 2000 MB" in printed
