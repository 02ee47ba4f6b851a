"""Atomic writes: the file is whole after a save, and temporary files left by a killed save
are cleaned up by the next save of that file: at once when their writer (named in the
temporary's name) is a process of this host that is gone, otherwise once they are old, never
while they may still be another process's save in progress."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from workbench.core.atomic import HOST, STALE_SECONDS, atomic_write, atomic_write_bytes


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


def test_a_temporary_names_its_writer(tmp_path):
    seen = []
    atomic_write(tmp_path / "last.pt", lambda tmp: (seen.append(tmp.name),
                                                    tmp.write_bytes(b"x")))
    assert seen[0].startswith(f".last.pt.{os.getpid()}-{HOST}.") and seen[0].endswith(".tmp")


@pytest.mark.skipif(os.name == "nt", reason="no pid check there: leftovers go when stale")
def test_a_dead_writers_leftover_goes_at_once_a_live_ones_and_other_hosts_stay(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process now
    other_host = "0" * 8 if HOST != "0" * 8 else "1" * 8
    path = tmp_path / "last.pt"
    temps = {
        "dead": tmp_path / f".last.pt.{dead.pid}-{HOST}.abcd1234.tmp",
        "live": tmp_path / f".last.pt.{os.getppid()}-{HOST}.abcd1234.tmp",
        "pid 1": tmp_path / f".last.pt.1-{HOST}.abcd1234.tmp",  # alive (maybe another user's)
        "other host": tmp_path / f".last.pt.{dead.pid}-{other_host}.abcd1234.tmp",
        "other file": tmp_path / f".best.pt.{dead.pid}-{HOST}.abcd1234.tmp",
    }
    for p in temps.values():
        p.write_bytes(b"half")
    atomic_write_bytes(path, b"whole")
    assert {k for k, p in temps.items() if p.exists()} == {"live", "pid 1", "other host",
                                                         "other file"}
    # Another host's pid cannot be checked from here: its leftover goes once it is stale.
    old = time.time() - STALE_SECONDS - 60
    os.utime(temps["other host"], (old, old))
    atomic_write_bytes(path, b"whole again")
    assert not temps["other host"].exists() and temps["live"].exists()
