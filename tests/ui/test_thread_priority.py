"""Training beside the GUI runs at a lower priority, and so do torch's worker threads."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from workbench.ui.thread_priority import TRAINING_NICE, lower_current_thread, thread_nice

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="per-thread nice values: Linux")


def task_nices() -> dict[int, int]:
    """Every thread of this process: its id and nice value (/proc's stat, field 19)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(tid)] = int(fields[16])  # field 19 of the line, counted after "(name)"
    return out


def test_the_calling_thread_and_the_torch_threads_it_starts_are_lowered():
    import torch

    main = thread_nice()
    before = set(task_nices())
    seen = {}

    def train():
        seen["lowered"] = lower_current_thread()
        seen["self"] = thread_nice()
        torch.set_num_threads(2)  # the tests' fixture keeps one; the GUI uses every core
        a = torch.randn(512, 1024)
        for _ in range(20):  # parallel work: torch starts its worker threads now
            (a @ a.T).relu_().sum()
        seen["threads"] = {tid: nice for tid, nice in task_nices().items()
                           if tid not in before}

    t = threading.Thread(target=train)
    t.start()
    t.join()
    want = min(19, main + TRAINING_NICE)
    assert seen["lowered"] and seen["self"] == want
    assert len(seen["threads"]) >= 2  # this thread and at least one torch worker
    assert set(seen["threads"].values()) == {want}
    assert thread_nice() == main  # the GUI thread keeps its priority
