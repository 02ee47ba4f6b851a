"""A process killed with SIGKILL while saving a preset or a checkpoint leaves the previous file
whole (issue 7, item 2), and the next save removes what the kill left (issue 17, item 13).
Nothing in the process can react to SIGKILL, so only the atomic write
(workbench/core/atomic.py: a temporary file beside the target, fsync, then os.replace) stands
between a kill and a half-written file.

A child process saves two alternating versions in a loop, announcing each save on stdout; the
test kills it at once, or a few milliseconds, after a save begins, several times, and then
reads the file back: it must load, and be exactly the version saved before or the one being
saved. The next writer's first saves, and a last save after the kills, must leave no
temporary file. ``python -m workbench.tools.kill_loop`` runs the same functions at random
moments, 50 times per kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.presets import list_presets, user_path
from workbench.tools.kill_loop import (kill_inside_a_write, kill_while_saving, next_save,
                                       read_version, writer_env)

# When to kill, after a save began: this many seconds later (at once: mid-serialisation), or
# "mid-write": as soon as the save's temporary file appears (between its creation and the
# rename, the moment a non-atomic save would leave half a file behind).
WHEN = {"preset": [0.0, 0.005, "mid-write", "mid-write"],
        "checkpoint": [0.0, "mid-write"]}


@pytest.fixture
def env(_workbench_home):
    return writer_env(_workbench_home)


def kill_several_times(kind: str, path: Path, env: dict) -> None:
    for when in WHEN[kind]:
        if when == "mid-write":
            kill = kill_inside_a_write(kind, path, env)
        else:
            kill = kill_while_saving(kind, path, when, env)
        # The writer's first saves came after the previous kill: its leftovers are gone.
        assert kill.after_first_saves == []
        assert read_version(kind, path) in kill.possible  # loads, one whole version
        if kind == "preset":
            # The preset list shows the preset, never the temporary file the kill left.
            assert [p.name for p in list_presets() if not p.builtin] == ["mine"]
    assert next_save(kind, path, env) == []  # the next run leaves no temporary behind


def test_killed_while_saving_a_preset(env):
    kill_several_times("preset", user_path("mine"), env)


def test_killed_while_saving_a_checkpoint(env, tmp_path):
    kill_several_times("checkpoint", tmp_path / "checkpoints" / "last.pt", env)
