"""The rows a load left out (``data.on_error = "skip"``), listed with the reason for each."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from .pair_table_model import short_source

_TOOLTIP_ROWS = 1000  # full texts on hover for this many rows, where it is cheap


class SkippedRowsDialog(QDialog):
    """The skipped rows of ``table`` (a :class:`~workbench.core.data.PairTable`): file, row
    and reason, one a line; the full path and reason show on hover."""

    def __init__(self, table, parent: QWidget | None = None):
        super().__init__(parent, objectName="skippedRowsDialog",
                         windowTitle=f"Skipped rows of {short_source(table.source)}")
        self.tree = tree = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True)
        tree.setHeaderLabels(["File", "Row", "Reason"])
        tree.addTopLevelItems([QTreeWidgetItem([Path(p.file).name, "" if p.row is None
                                                else str(p.row), p.reason])
                               for p in table.skipped])
        for i, p in enumerate(table.skipped[:_TOOLTIP_ROWS]):
            tree.topLevelItem(i).setToolTip(0, p.file)
            tree.topLevelItem(i).setToolTip(2, p.reason)
        tree.resizeColumnToContents(0)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(table.skipped):,} rows were left out (data.on_error = "
                                "skip):"))
        layout.addWidget(tree)
        self.resize(640, 360)
