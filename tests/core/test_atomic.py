"""Atomic writes: the file is whole after a save, and temporary files left by a killed save
are cleaned up by the next save of that file once they are old, never while they may still
be another process's save in progress."""

from __future__ import annotations

import os
import time

from workbench.core.atomic import STALE_SECONDS, atomic_write_bytes


def test_save_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "preset.toml"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["preset.toml"]


def test_old_leftovers_of_killed_saves_are_removed_young_ones_kept(tmp_path):
    path = tmp_path / "my[preset].toml"  # glob characters in the name must not matter
    stale = tmp_path / ".my[preset].toml.abc123.tmp"
    young = tmp_path / ".my[preset].toml.def456.tmp"
    other = tmp_path / ".other.toml.xyz.tmp"
    for p in (stale, young, other):
        p.write_bytes(b"half")
    old = time.time() - STALE_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_bytes(path, b"whole")
    assert path.read_bytes() == b"whole"
    assert not stale.exists()  # left by a killed save of this file
    assert young.exists()  # may be another process saving right now
    assert other.exists()  # another file's: not this save's business
