"""Choosing a table's image, caption and label columns when they cannot be detected.

The engine refuses to guess a column (a wrong guess would silently train on the wrong data)
and says so in a :class:`~workbench.core.data.DataError` naming ``data.image_column`` etc.
This dialog turns that error into three combos filled from the file's header, read cheaply
here (the first record of a CSV, the first line of a JSON-lines file; no image is opened).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QVBoxLayout, QWidget)

from ...core.data.columns import CANDIDATES

SETTINGS = {"image": "data.image_column", "text": "data.text_column",
            "label": "data.label_column"}
_HEAD_BYTES = 1 << 16  # a header longer than 64 KiB is not a header


def is_column_error(exc: Exception) -> bool:
    """Whether ``exc`` is the engine saying it could not tell (or find) a column."""
    text = getattr(exc, "summary", None) or str(exc)
    return any(setting in text for setting in SETTINGS.values())


def read_header(source: str, fmt: str = "auto") -> list[str]:
    """The column names of a CSV / TSV, or of an image folder's ``metadata.csv`` /
    ``metadata.jsonl``; ``[]`` for anything else or anything unreadable. ``fmt`` (the
    data.format setting) "csv" reads any file name as a CSV."""
    path = Path(source)
    try:
        if path.is_dir():
            found = [path / n for n in ("metadata.jsonl", "metadata.csv") if (path / n).is_file()]
            if len(found) != 1:
                return []
            path = found[0]
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".tsv", ".jsonl"):
            if fmt != "csv":
                return []
            suffix = ".csv"
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES).decode("utf-8-sig", errors="replace")
    except OSError:
        return []
    if suffix == ".jsonl":
        first = next((line for line in head.split("\n") if line.strip()), "")
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            return []
        return [str(k) for k in obj] if isinstance(obj, dict) else []
    line = head.split("\n", 1)[0]
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    delimiter = "\t" if suffix == ".tsv" else max(counts, key=counts.get)
    if not counts.get(delimiter):
        delimiter = ","
    try:
        header = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return []
    return [h.strip() for h in header if h.strip()]


class ColumnMappingDialog(QDialog):
    """Three combos over ``columns``: image and caption (required, distinct) and label
    (``none`` allowed). :meth:`mapping` gives the chosen ``data.*_column`` settings."""

    def __init__(self, columns: list[str], *, message: str = "", current: dict | None = None,
                 file: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("columnMappingDialog")
        self.setWindowTitle("Choose the columns")
        self.setMinimumWidth(440)
        self.columns = list(columns)
        current = current or {}
        layout = QVBoxLayout(self)
        intro = QLabel(f"Which columns of <b>{Path(file).name or 'the file'}</b> hold the "
                       "image paths, the captions and the labels?")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if message:
            why = QLabel(message, wordWrap=True)
            why.setFrameShape(QLabel.Shape.StyledPanel)
            why.setMargin(6)
            layout.addWidget(why)
        form = QFormLayout()
        self.image_combo = self._combo(current.get("image", ""), "image")
        self.text_combo = self._combo(current.get("text", ""), "text")
        self.label_combo = self._combo(current.get("label", ""), "label")
        form.addRow("Image path:", self.image_combo)
        form.addRow("Caption:", self.text_combo)
        form.addRow("Label:", self.label_combo)
        layout.addLayout(form)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for combo in (self.image_combo, self.text_combo, self.label_combo):
            combo.currentIndexChanged.connect(self._on_choice_changed)
        self._on_choice_changed()

    def _combo(self, explicit: str, role: str) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(f"{role}ColumnCombo")
        if role == "label":
            combo.addItem("(none)", "none")
        for name in self.columns:
            combo.addItem(name, name)
        guess = explicit if explicit in self.columns else _guess(role, self.columns)
        if role == "label" and explicit.lower() == "none":
            guess = "none"
        combo.setCurrentIndex(combo.findData(guess) if guess else (0 if role == "label" else -1))
        return combo

    def choose(self, role: str, column: str) -> None:
        """Pick ``column`` (or ``"none"`` for the label) for ``role``: image, text or label."""
        combo = {"image": self.image_combo, "text": self.text_combo,
                 "label": self.label_combo}[role]
        i = combo.findData(column)
        if i < 0:
            raise ValueError(f"no column {column!r}; the columns are: {self.columns}")
        combo.setCurrentIndex(i)

    def mapping(self) -> dict[str, str]:
        """``{"data.image_column": ..., "data.text_column": ..., "data.label_column": ...}``."""
        return {SETTINGS["image"]: self.image_combo.currentData() or "",
                SETTINGS["text"]: self.text_combo.currentData() or "",
                SETTINGS["label"]: self.label_combo.currentData() or "none"}

    def _on_choice_changed(self, *_) -> None:
        image, text = self.image_combo.currentData(), self.text_combo.currentData()
        problem = ""
        if not image or not text:
            problem = "Choose the image and the caption columns."
        elif image == text:
            problem = "The image paths and the captions must be different columns."
        elif self.label_combo.currentData() in (image, text):
            problem = "The label column must differ from the image and caption columns."
        self.hint.setText(problem)
        self.hint.setVisible(bool(problem))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)


def _guess(role: str, columns: list[str]) -> str:
    """The one column named like ``role``'s usual names, else ""."""
    lower = {c.lower().strip(): c for c in columns}
    found = [lower[n] for n in CANDIDATES[role] if n in lower]
    return found[0] if len(found) == 1 else ""
