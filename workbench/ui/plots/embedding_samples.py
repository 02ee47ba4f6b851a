"""The Embeddings tab's side panel: a card for the hovered (or selected) sample - its image,
caption and label - and a list of samples (nearest neighbours, or a box selection) with
thumbnails. Samples are rows of the loaded :class:`PairTable`; without a table (a run's
snapshots opened on their own) they are named by row and shown without pictures.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout,
                               QWidget)

THUMB, CARD_THUMB = 40, 96
HINT = ("Hover a point to see its sample; click one for its nearest neighbours in the other "
        "modality.")


def thumbnail(chw: np.ndarray, size: int) -> QPixmap:
    """A ``size`` px pixmap of one (3, H, W) uint8 image."""
    hwc = np.ascontiguousarray(np.asarray(chw, np.uint8).transpose(1, 2, 0))
    h, w = hwc.shape[:2]
    image = QImage(hwc.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))


class SamplePanel(QWidget):
    """The hover card and the sample list. ``table`` is a callable giving the PairTable now
    loaded (or None), so the panel follows whatever the session holds."""

    entry_clicked = Signal(object)  # the key given with the clicked entry

    def __init__(self, table=lambda: None, parent: QWidget | None = None):
        super().__init__(parent)
        self._table = table
        self._icons: dict[int, QIcon] = {}
        self._keys: list = []
        self.card_image = QLabel()
        self.card_image.setFixedSize(CARD_THUMB, CARD_THUMB)
        self.card_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.card_text = QLabel(HINT)
        self.card_text.setWordWrap(True)
        self.card_text.setTextFormat(Qt.TextFormat.RichText)
        self.list_title = QLabel("")
        self.list_title.setWordWrap(True)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        card = QHBoxLayout()
        card.addWidget(self.card_image, 0, Qt.AlignmentFlag.AlignTop)
        card.addWidget(self.card_text, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(card)
        box.addWidget(self.list_title)
        box.addWidget(self.list, 1)
        self.list.itemClicked.connect(self._on_item_clicked)

    # -- what a row is ---------------------------------------------------------------------
    def _fits(self, row: int) -> bool:
        table = self._table()
        return table is not None and 0 <= row < len(table)

    def caption(self, row: int) -> str:
        return self._table().caption(row) if self._fits(row) else f"pair {row}"

    def image_row(self, row: int) -> int | None:
        table = self._table()
        if not self._fits(row) or table.images is None:
            return None
        return int(table.image_index[row])

    def icon(self, row: int) -> QIcon:
        image = self.image_row(row)
        if image is None:
            return QIcon()
        if image not in self._icons:
            self._icons[image] = QIcon(thumbnail(self._table().images[image], THUMB))
        return self._icons[image]

    def forget_images(self) -> None:
        """The table changed: thumbnails made from the old one are wrong now."""
        self._icons.clear()

    # -- showing ---------------------------------------------------------------------------
    def show_card(self, row: int | None, heading: str = "", label: str | None = None) -> None:
        """The sample of dataset row ``row`` in the card (None: the hint)."""
        if row is None:
            self.card_image.clear()
            self.card_text.setText(HINT)
            return
        image = self.image_row(row)
        if image is None:
            self.card_image.clear()
        else:
            self.card_image.setPixmap(thumbnail(self._table().images[image], CARD_THUMB))
        text = f"<b>{_escape(heading)}</b><br>" if heading else ""
        text += f"“{_escape(self.caption(row))}”"
        if label:
            text += f"<br><i>{_escape(label)}</i>"
        self.card_text.setText(text + f"<br><span style='color:#777'>row {row}</span>")

    def show_list(self, title: str, entries: list[tuple[object, int, str]]) -> None:
        """List ``entries``: (key, dataset row, text under the caption), in order."""
        self.list_title.setText(title)
        self.list.clear()
        self._keys = [key for key, _, _ in entries]
        for _, row, note in entries:
            item = QListWidgetItem(self.icon(row), f"{self.caption(row)}\n{note}".strip())
            self.list.addItem(item)

    @property
    def entries(self) -> list[str]:
        """The listed texts, in order (tests read these)."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        self.entry_clicked.emit(self._keys[self.list.row(item)])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
