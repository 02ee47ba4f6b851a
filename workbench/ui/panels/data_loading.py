"""What the Data panel's worker threads run: the load, the pretrained features, and the
progress they report for a GUI timer to read. Plain Python (no Qt), so it can be tested
without a GUI."""

from __future__ import annotations

import threading

from ...core import config as C
from ...core.data import load_pairs
from ...core.data.quick_look import quick_look
from ...core.data.sources.builtin import BUILTINS
from ..thread_priority import lower_current_thread

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


class Cancelled(Exception):
    """Raised from a :class:`CancellableProgress` once cancelled: it unwinds the work."""


class CancellableProgress(LoadProgress):
    """A :class:`LoadProgress` that stops the work reporting to it: after :meth:`cancel`
    (from the GUI thread) its next report raises :class:`Cancelled` on the worker thread."""

    def __init__(self):
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        super().__call__(stage, done, total)


def prepare_features(cfg: C.ExperimentConfig, table, progress: CancellableProgress
                     ) -> list[str]:
    """Runs on the worker thread: every pretrained feature ``cfg`` trains on, computed (and
    cached) or read back; one line per model. The thread runs below the GUI's priority, as
    training does, so the window answers while the model runs."""
    from ...core.data import prepare_pretrained
    lower_current_thread()
    if progress.cancelled:  # cancelled before it started: build no model
        raise Cancelled()
    return prepare_pretrained(cfg, table, progress=progress)


def load_table(data: C.DataConfig, image_size: int, progress: LoadProgress):
    """Runs on the worker thread: the table and the label columns it could use instead."""
    # A large Parquet / WebDataset source: its first pairs, at once (training reads them all)
    look = quick_look(data, image_size)
    table = look.table if look else load_pairs(data, image_size, progress=progress)
    choices = [table.label_column] if table.label_column else []
    if table.kind == "builtin":
        name = data.source.partition(":")[2]
        if name not in _builtin_labels:  # read once: a built-in never changes
            _builtin_labels[name] = list(BUILTINS[name](data).labels)
        choices = _builtin_labels[name]
    return table, choices
