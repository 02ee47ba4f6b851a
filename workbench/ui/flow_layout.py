"""A row of controls that wraps onto further rows when it is too narrow for them (Qt's "Flow
Layout" example): a toolbar row that no longer sets how narrow its view may get."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Items left to right, wrapping to a new row where the next one would not fit. Items
    keep their size hint; rows are as tall as their tallest item, items centred in them.
    ``add_break()`` keeps what follows on the same row as what precedes it only when the
    whole group fits (for a label and its field)."""

    def __init__(self, parent: QWidget | None = None, *, spacing: int = 6):
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._glued: set[int] = set()  # item indices kept on the row of the item before them
        self.setContentsMargins(0, 0, 0, 0)

    def add_widgets(self, *widgets: QWidget) -> None:
        """Add ``widgets`` kept together on one row (a label with its field)."""
        for i, w in enumerate(widgets):
            if i:
                self._glued.add(len(self._items))
            self.addWidget(w)

    # -- QLayout -------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        if not 0 <= index < len(self._items):
            return None
        self._glued = {i - (i > index) for i in self._glued if i != index}
        return self._items.pop(index)

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        """All on one row."""
        m = self.contentsMargins()
        shown = [i.sizeHint() for i in self._shown()]
        width = sum(s.width() for s in shown) + self._spacing * max(0, len(shown) - 1)
        height = max((s.height() for s in shown), default=0)
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:
        """The widest group of glued items, one row tall (the rows' height comes from
        heightForWidth)."""
        m = self.contentsMargins()
        width = max((w for w, _ in self._groups()), default=0)
        height = max((i.minimumSize().height() for i in self._shown()), default=0)
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    # -- placing ---------------------------------------------------------------------------
    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]

    def _groups(self) -> list[tuple[int, list[QLayoutItem]]]:
        """(width, items) of each run of items that stays on one row."""
        groups: list[tuple[int, list[QLayoutItem]]] = []
        for index, item in enumerate(self._items):
            if item.isEmpty():
                continue
            w = item.sizeHint().width()
            if groups and index in self._glued:
                width, items = groups[-1]
                groups[-1] = (width + self._spacing + w, items + [item])
            else:
                groups.append((w, [item]))
        return groups

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        """Place the items in ``rect`` (when ``move``); the height they take."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        rows: list[list[QLayoutItem]] = [[]]
        x = 0
        for width, items in self._groups():
            if rows[-1] and x + self._spacing + width > area.width():
                rows.append([])
                x = 0
            x += (self._spacing if rows[-1] else 0) + width
            rows[-1].extend(items)
        y = area.y()
        for row in rows:
            height = max((i.sizeHint().height() for i in row), default=0)
            x = area.x()
            for item in row:
                size = item.sizeHint()
                if move:
                    item.setGeometry(QRect(QPoint(x, y + (height - size.height()) // 2), size))
                x += size.width() + self._spacing
            y += height + self._spacing
        return y - self._spacing - area.y() + m.top() + m.bottom() if rows[0] else 0
