"""Python's cyclic garbage collector paused while a bulk load builds many small objects.

Loading 20,000 pairs builds a few hundred thousand dicts, lists and strings and frees none
of them: every allocation threshold crossed starts a collection that finds nothing, and
the oldest generation's walks cover the whole heap (torch and Qt make it large). Measured
in a process with torch and the GUI imported: a cached load of 20,000 pairs took 0.27 s
with the collector on, 0.17 s paused. A load makes no reference cycles worth collecting
early, and the collector runs as usual afterwards.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """Automatic collection off inside the block; on again after it if it was on before
    (the GUI turns it off for its own reasons: see ``workbench.ui.gui_gc``)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
