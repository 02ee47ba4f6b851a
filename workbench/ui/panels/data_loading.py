"""What the Data panel's worker thread runs: the load, and the progress it reports for a
GUI timer to read. Plain Python (no Qt), so it can be tested without a GUI."""

from __future__ import annotations

import threading

from ...core import config as C
from ...core.data import load_pairs
from ...core.data.sources.builtin import BUILTINS

_builtin_labels: dict[str, list[str]] = {}  # builtin source -> its label columns (fixed)


class LoadProgress:
    """The loader's latest (stage, done, total), written by the worker, read by a timer."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value: tuple[str, int, int] = ("", 0, 0)

    def __call__(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self._value = (stage, done, total)

    def get(self) -> tuple[str, int, int]:
        with self._lock:
            return self._value


def load_table(data: C.DataConfig, image_size: int, progress: LoadProgress):
    """Runs on the worker thread: the table and the label columns it could use instead."""
    table = load_pairs(data, image_size, progress=progress)
    choices = [table.label_column] if table.label_column else []
    if table.kind == "builtin":
        name = data.source.partition(":")[2]
        if name not in _builtin_labels:  # read once: a built-in never changes
            _builtin_labels[name] = list(BUILTINS[name](data).labels)
        choices = _builtin_labels[name]
    return table, choices
