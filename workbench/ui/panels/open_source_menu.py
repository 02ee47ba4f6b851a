"""The Data panel's Open menu: a file dialog for each kind of source."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

_OPEN = {  # menu entry -> (dialog title, file pattern; None: a folder)
    "Open folder…": ("Open an image folder", None),
    "Open CSV…": ("Open a CSV of image paths and captions", "CSV (*.csv *.tsv)"),
    "Open COCO JSON…": ("Open a COCO captions JSON", "COCO captions (*.json)"),
    "Open features (.npz)…": ("Open precomputed features", "Features (*.npz)"),
    # a folder of shards (or a save_to_disk folder) opens with "Open folder…"
    "Open Parquet / Arrow…": ("Open a Parquet or Arrow file (Hugging Face datasets)",
                              "Parquet / Arrow (*.parquet *.arrow)"),
    "Open WebDataset shard…": ("Open a WebDataset .tar shard",
                               "WebDataset (*.tar *.tgz *.tar.gz)"),
}


class OpenSourceMenu(QMenu):
    """One entry per kind of source; each asks for a file (or folder) with a dialog over
    ``parent``, starting next to ``current_source()``, and reports what was picked."""

    opened = Signal(str, str)  # the source, and the image folder of a COCO file ("" else)

    def __init__(self, current_source: Callable[[], str], parent: QWidget):
        super().__init__(parent)
        self._current_source = current_source
        for text, (title, pattern) in _OPEN.items():
            self.addAction(text, lambda t=title, p=pattern: self._open(t, p))

    def _open(self, title: str, pattern: str | None) -> None:
        """A file dialog (a folder one for ``pattern`` None), then :attr:`opened`."""
        parent = self.parentWidget()
        if pattern is None:
            path = QFileDialog.getExistingDirectory(parent, title, self._start_dir())
        else:
            path, _ = QFileDialog.getOpenFileName(parent, title, self._start_dir(), pattern)
        images = ""
        if path and pattern and pattern.startswith("COCO"):  # its images live elsewhere
            images = QFileDialog.getExistingDirectory(parent, "Folder of the captions' images",
                                                      str(Path(path).parent))
            path = path if images else ""
        if path:
            self.opened.emit(path, images)

    def _start_dir(self) -> str:
        current = self._current_source()
        source = Path(current)
        if current.startswith("builtin:") or not source.exists():
            return str(Path.home())
        return str(source if source.is_dir() else source.parent)
