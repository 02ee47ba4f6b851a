"""``workbench bench``: speed measured side by side, in one process (issue 6).

Each measure is a module with a ``run(quick: bool) -> list[Result]`` function; ``MEASURES``
names them, so a new measure is one module plus one line here. Modules are imported only
when their measure runs: the training measures import torch, the GUI ones Qt, the data
measures neither.

Every number is a ratio against a baseline timed in the same process, moments apart: the
machines this runs on are shared and noisy, so absolute times mean little on their own.
"""

from __future__ import annotations

import importlib
from typing import Callable

from .result import Result

# name -> "module:function"; the order is the table's order.
MEASURES = {
    "training": "workbench.bench.training:run",
    "gui": "workbench.bench.gui_training:run",
    "plots": "workbench.bench.plots:run",
    "data": "workbench.bench.data:run",
    "projection": "workbench.bench.projection:run",
    "startup": "workbench.bench.startup:run",
    "scale": "workbench.bench.scale:run",
    "retrieval": "workbench.bench.retrieval:run",
    "pretrained": "workbench.bench.pretrained:run",
    "streaming": "workbench.bench.streaming:run",
    "sweep": "workbench.bench.sweep:run",
}


def load(name: str) -> Callable[[bool], list[Result]]:
    module, _, attr = MEASURES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


__all__ = ["MEASURES", "Result", "load"]
