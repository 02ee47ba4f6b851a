"""Training beside the GUI at a lower scheduling priority than the GUI thread.

The GUI trains on every core torch would use, as the command line does, and the window
still answers at once: the training thread, and the OpenMP worker threads torch starts
from it (they inherit the priority of the thread that starts them), run at a higher nice
value, so when the GUI thread wakes (a timer, a click, a frame) the scheduler runs it
straight away instead of sharing a core with training.

Measured with the document's autoencoder on 2 cores (the GUI measure of ``workbench
bench``, four alternated runs each, in a process whose GUI thread ran no torch, as the
application's does): one torch thread trained in 1.39 s at best (median 1.68 s), 10 ms
heartbeat p99 6.5-16.4 ms; two at nice 0 in 0.99 s (median 1.36 s), p99 11.2-19.3 ms, max
69 ms; two at nice 10 in 1.00 s (median 1.22 s), p99 5.6-12.5 ms, max 30 ms.
"""

from __future__ import annotations

import os
import sys
import threading

TRAINING_NICE = 10  # added to the process's nice value; 19 is the lowest priority


def lower_current_thread(increment: int = TRAINING_NICE) -> bool:
    """Lower the calling thread's priority by ``increment`` nice steps; True when done.

    Linux only (per-thread nice values); elsewhere the thread keeps its priority. Call it
    before the thread's first parallel torch operation, so torch's worker threads inherit
    it. It cannot be undone without privileges: call it only on a thread that ends with
    its work (the GUI's training thread does)."""
    if not sys.platform.startswith("linux") or increment <= 0:
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       min(19, thread_nice() + increment))
    except OSError:  # a sandbox that forbids it: train at the same priority
        return False
    return True


def thread_nice() -> int:
    """The calling thread's nice value (Linux), else the process's."""
    if sys.platform.startswith("linux"):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    return os.getpriority(os.PRIO_PROCESS, 0)
