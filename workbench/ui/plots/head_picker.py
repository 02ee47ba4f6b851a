"""The Attention tab's Head box: the mean over a co-attention's heads, or one head."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget


class HeadPicker(QWidget):
    """"Head: [all N heads (mean) | head 1 | …]", hidden while fewer than two heads have
    maps of their own. :attr:`head` is the chosen head from 0, -1 for the mean;
    :attr:`changed` fires when the user picks another."""

    changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setToolTip(
            "Each attention head has its own map; the drawn map and its figures are their "
            "mean unless one head is chosen. Heads that look at different places make a mean "
            "broader than any of them.")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Head:"))
        row.addWidget(self.combo)
        row.addStretch(1)
        self.head = -1
        self.combo.currentIndexChanged.connect(self._on_changed)
        self.setVisible(False)

    @property
    def count(self) -> int:
        """How many heads are offered (0 while hidden)."""
        return max(self.combo.count() - 1, 0)

    def sync(self, count: int) -> None:
        """Offer heads 1..``count`` besides their mean (none, hidden, for fewer than two),
        keeping the chosen head where it still exists; never fires :attr:`changed`."""
        count = count if count >= 2 else 0
        if count == self.count:
            return
        with QSignalBlocker(self.combo):
            self.combo.clear()
            if count:
                self.combo.addItem(f"all {count} heads (mean)", -1)
                for h in range(count):
                    self.combo.addItem(f"head {h + 1}", h)
            if self.head >= count:
                self.head = -1
            self.combo.setCurrentIndex(max(self.combo.findData(self.head), 0))
        self.setVisible(count > 0)

    def select(self, head: int) -> None:
        """Choose ``head`` (-1: the mean) as the user would."""
        i = self.combo.findData(head)
        if i >= 0:
            self.combo.setCurrentIndex(i)

    def _on_changed(self, index: int) -> None:
        data = self.combo.itemData(index)
        self.head = -1 if data is None else int(data)
        self.changed.emit(self.head)
