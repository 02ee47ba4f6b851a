"""A Qt table model over a :class:`~workbench.core.data.PairTable`: one row per pair.

Tables can hold 100,000 pairs, so nothing is done per row up front: captions and labels are
looked up when the view asks, and a thumbnail pixmap is made only when its row is painted,
then kept in a bounded LRU cache (keyed by image, so the captions of one COCO image share
it). Feature data (``.npz``, no images) shows the source row number instead of a thumbnail.
:func:`summary_rows` is the other view of a table: what the Data panel says about it.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QImage, QPixmap

_Index = QModelIndex | QPersistentModelIndex

# extras shown as their own columns (after the label), and their headers; other extras
# keys are shown too, titled from the key.
_EXTRA_TITLES = {"emoji": "Emoji", "name": "Name"}


class PairTableModel(QAbstractTableModel):
    """Rows are pairs; columns are ``image`` (or ``row`` for feature data), ``caption``,
    ``label`` and any ``extras`` (builtin emoji: the character and its name).

    ``column_key(c)`` names column ``c``; ``thumbnails_made`` counts the pixmaps built so
    far (each is built once while it stays in the cache).
    """

    def __init__(self, table=None, *, thumbnail_size: int = 40, cache_size: int = 2000,
                 parent=None):
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size
        self.cache_size = cache_size
        self.thumbnails_made = 0
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._table = None
        self._columns: list[str] = []
        self._captions = None
        self.set_table(table)

    # -- the table -------------------------------------------------------------------
    @property
    def table(self):
        return self._table

    def set_table(self, table) -> None:
        """Show ``table`` (or nothing for None); drops every cached thumbnail."""
        self.beginResetModel()
        self._table = table
        self._cache.clear()
        self._columns = _columns_of(table)
        self._captions = _captions_of(table) if table is not None else None
        self.endResetModel()

    def column_key(self, column: int) -> str:
        return self._columns[column]

    def column_of(self, key: str) -> int:
        """The column showing ``key``, or -1."""
        return self._columns.index(key) if key in self._columns else -1

    # -- QAbstractTableModel -----------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() or self._table is None else len(self._table)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        key = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return {"image": "Image", "row": "#", "caption": "Caption", "label": "Label"}.get(
                key, _EXTRA_TITLES.get(key, key.replace("_", " ").capitalize()))
        if role == Qt.ItemDataRole.ToolTipRole and key == "label":
            return f"Label column: {self._table.label_column}"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self._table is None:
            return None
        row, key = index.row(), self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, key)
        if role == Qt.ItemDataRole.DecorationRole and key == "image":
            return self.thumbnail(int(self._table.image_index[row]))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, key)
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("row", "emoji"):
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    # -- cells -------------------------------------------------------------------------
    def _text(self, row: int, key: str):
        t = self._table
        if key == "caption":
            return self._captions[row] if self._captions is not None else None
        if key == "label":
            return t.label_names[int(t.labels[row])]
        if key == "row":
            return str(t.rows[row])
        if key == "image":
            return None
        values = t.extras.get(key)
        return None if values is None else str(values[row])

    def _tooltip(self, row: int, key: str) -> str | None:
        lines = []
        if self._captions is not None:
            lines.append(self._captions[row])
        t = self._table
        if key == "image" and t.image_paths is not None:
            lines.append(t.image_paths[int(t.image_index[row])])
        if key == "label" and t.labels is not None:
            lines.append(f"{t.label_column}: {self._text(row, 'label')}")
        if key == "row":
            lines.insert(0, f"row {t.rows[row]} of {t.file}")
        return "\n".join(lines) or None

    def thumbnail(self, image: int) -> QPixmap:
        """The thumbnail of distinct image ``image``, built on first use and cached."""
        pix = self._cache.get(image)
        if pix is not None:
            self._cache.move_to_end(image)
            return pix
        pix = _pixmap(self._table.images[image], self.thumbnail_size)
        self.thumbnails_made += 1
        self._cache[image] = pix
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return pix

    @property
    def cached_thumbnails(self) -> int:
        return len(self._cache)


def _columns_of(table) -> list[str]:
    if table is None:
        return []
    columns = ["image"] if table.images is not None else ["row"]
    if _captions_of(table) is not None:
        columns.append("caption")
    if table.labels is not None:
        columns.append("label")
    columns += [k for k, v in table.extras.items() if k != "caption" and v is not None]
    return columns


def _captions_of(table) -> list[str] | None:
    """The captions, or for feature data (.npz) its ``caption`` extra, or None."""
    return table.captions if table.captions is not None else table.extras.get("caption")


def _pixmap(chw: np.ndarray, size: int) -> QPixmap:
    """A ``size`` x ``size`` pixmap from one (3, H, W) uint8 image."""
    hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
    h, w = hwc.shape[:2]
    # QImage borrows the buffer: copy() detaches it before ``hwc`` goes away.
    image = QImage(hwc.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    if (w, h) != (size, size):
        image = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(image)


def summary_rows(table) -> list[tuple[str, str]]:
    """What the panel says about ``table``: (heading, text) rows. The vocabulary is built
    by the split, so word counts stand in for it here."""
    rows = [("Pairs", f"{len(table):,} from {short_source(table.source)} ({table.kind})"
             if table.sampled_of is None else
             f"{table.sampled_of:,} in {short_source(table.source)} ({table.kind}); the "
             f"figures below are of the first {len(table):,}")]
    if table.images is not None and table.original_sizes is not None:
        sizes, counts = np.unique(table.original_sizes, axis=0, return_counts=True)
        (w, h), s = sizes[counts.argmax()], table.images.shape[-1]
        seen = f"{w}×{h}" if len(sizes) == 1 else (
            f"{sizes[:, 0].min()}×{sizes[:, 1].min()} to {sizes[:, 0].max()}×"
            f"{sizes[:, 1].max()} (most {w}×{h})")
        rows.append(("Images", f"{table.images.shape[0]:,} distinct, {seen}, resized to "
                               f"{s}×{s}"))
    if table.image_features is not None:
        rows.append(("Features", f"text {table.text_features.shape[1]}-d, image "
                                 f"{table.image_features.shape[1]}-d"))
    if table.tokens:
        n = np.fromiter((len(t) for t in table.tokens), dtype=np.int64, count=len(table.tokens))
        rows.append(("Captions", f"{n.min()} words each" if n.min() == n.max() else
                     f"{n.min()} to {n.max()} words (median {np.median(n):g})"))
    elif table.captions is None and not table.extras.get("caption"):
        rows.append(("Captions", "none"))
    counts = sorted(table.label_counts().items(), key=lambda kv: -kv[1])
    if counts:
        top = ", ".join(f"{name} ({c:,})" for name, c in counts[:3])
        rows.append(("Labels", f"{len(counts)} labels in “{table.label_column}”: {top}"
                               + (", …" if len(counts) > 3 else "")))
    else:
        rows.append(("Labels", "none (label-free algorithms only)"))
    rows.append(("Skipped", f"{len(table.skipped):,} rows" if len(table.skipped) != 1
                 else "1 row"))
    rows += [("Note", note) for note in table.notes]
    return rows


def short_source(source: str) -> str:
    return source if source.startswith("builtin:") else (Path(source).name or source)
