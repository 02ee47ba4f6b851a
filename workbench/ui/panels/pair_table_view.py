"""The Data panel's preview of the loaded pairs: a table view over a
:class:`~.pair_table_model.PairTableModel`, laid out for it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from .pair_table_model import PairTableModel

# emoji and name repeat the thumbnail and the caption's start: off by default, on from the
# header's context menu
_HIDDEN = ("emoji", "name")
_WIDTHS = {"row": 56, "label": 116, "emoji": 44, "name": 160}  # image: the thumbnail's


class PairTableView(QTableView):
    """Read-only rows of ``model``, one selected at a time, with a header menu to show or hide
    each column. Call :meth:`layout_columns` when the model's table has changed."""

    def __init__(self, model: PairTableModel, parent: QWidget | None = None):
        super().__init__(parent, wordWrap=True, showGrid=False, alternatingRowColors=True,
                         selectionBehavior=QAbstractItemView.SelectionBehavior.SelectRows,
                         selectionMode=QAbstractItemView.SelectionMode.SingleSelection,
                         editTriggers=QAbstractItemView.EditTrigger.NoEditTriggers,
                         verticalScrollMode=QAbstractItemView.ScrollMode.ScrollPerPixel)
        self._pairs = model
        self.setModel(model)
        self.verticalHeader().hide()
        # Fixed heights: the view never measures rows, so 100k rows cost what 20 do.
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def sizeHint(self) -> QSize:
        """Three rows' height: the table takes what the panel has left (its stretch), and a
        taller hint would scroll the whole panel in a 600-pixel window (a scroll area asks
        the panel for its preferred height at its width)."""
        hint = super().sizeHint()
        rows = 3 * self.verticalHeader().defaultSectionSize()
        return QSize(hint.width(), min(hint.height(), self.horizontalHeader().sizeHint().height()
                                       + rows + 2 * self.frameWidth()))

    def layout_columns(self) -> None:
        """Widths, default visibility, the header menu and the row height, for the model's
        current columns."""
        model, header = self._pairs, self.horizontalHeader()
        thumbnail = model.thumbnail_size
        widths = {"image": thumbnail + 8, **_WIDTHS}
        for action in header.actions():
            header.removeAction(action)
        for c in range(model.columnCount()):
            key = model.column_key(c)
            self.setColumnHidden(c, key in _HIDDEN)
            action = QAction(model.headerData(c, Qt.Orientation.Horizontal), header,
                             checkable=True, checked=key not in _HIDDEN)
            action.toggled.connect(lambda on, c=c: self.setColumnHidden(c, not on))
            header.addAction(action)
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Stretch if key == "caption"
                                        else QHeaderView.ResizeMode.Interactive)
            if key in widths:
                header.resizeSection(c, widths[key])
        header.setStretchLastSection(model.column_of("caption") < 0)
        line = self.fontMetrics().height()
        self.verticalHeader().setDefaultSectionSize(
            thumbnail + 6 if model.column_of("image") >= 0 else line + 8)
