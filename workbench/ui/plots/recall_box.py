"""The Retrieval tab's R@K box: recall at 1, 5 and 10 and the median rank, text → image and
image → text, of the validation or test split, with what guessing scores beside them.

Sized for a small window: four rows under a two-line header, never scrolled; columns as
narrow as a percentage, a header too narrow for its title cut with "…" and whole in its
tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGroupBox, QHBoxLayout,
                               QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from ..compact import ElidedLabel, elide_headers

RECALL_ROWS = (("text \u2192 image", "t2i"), ("image \u2192 text", "i2t"),
               ("chance t \u2192 i", "chance_t2i"), ("chance i \u2192 t", "chance_i2t"))
# "median rank" on two lines: the column is as narrow as the recall columns
RECALL_COLUMNS = (("R@1", "r1"), ("R@5", "r5"), ("R@10", "r10"),
                  ("median\nrank", "median_rank"))
RECALL_TIPS = {0: "Recall at 1: the share of queries whose match is ranked first",
               1: "Recall at 5: the share of queries whose match is among the first 5",
               2: "Recall at 10: the share of queries whose match is among the first 10",
               3: "The median rank of the true match (1 is best)"}
RECALL_SPLITS = {"Validation split": "val", "Test split": "test"}
CHANCE_GREY = "#777777"


class RecallBox(QGroupBox):
    """The R@K table of one split; the view gives it the index's ``recall_table`` with
    :meth:`show_table` and asks again when ``split_changed``."""

    split_changed = Signal(str)  # the split now chosen: "val" or "test"

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Recall at K, both ways", parent)
        self.values: dict[str, float] = {}
        self.table = table = QTableWidget(
            len(RECALL_ROWS), len(RECALL_COLUMNS),
            editTriggers=QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setHorizontalHeaderLabels([c for c, _ in RECALL_COLUMNS])
        table.setVerticalHeaderLabels([r for r, _ in RECALL_ROWS])
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        fm = table.fontMetrics()
        table.horizontalHeader().setMinimumSectionSize(  # a percentage, or "median"
            max(fm.horizontalAdvance(w) for w in ("100.0%", "median", "rank")) + 12)
        elide_headers(table, RECALL_TIPS)
        table.verticalHeader().setDefaultSectionSize(fm.lineSpacing() + 6)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_height()
        # Every number shown without scrolling; not 1,000 px of four numbers either.
        rows = table.verticalHeader().sizeHint().width() + 2 * table.frameWidth()
        section = table.horizontalHeader().minimumSectionSize()
        table.setMinimumWidth(rows + len(RECALL_COLUMNS) * section)
        table.setMaximumWidth(rows + len(RECALL_COLUMNS) * 2 * section)
        table.setToolTip("Recall at K: the share of queries whose true match is among the "
                         "first K (ties counted as a random order would); median rank: of "
                         "the true match. The grey rows are what guessing scores on this "
                         "split.")
        self.split_combo = QComboBox()
        self.split_combo.addItems(list(RECALL_SPLITS))
        self.split_combo.setToolTip("Score the model on the validation split (what settings "
                                    "are picked on) or the test split (held out from both "
                                    "training and picking)")
        self.split_combo.currentIndexChanged.connect(
            lambda _index: self.split_changed.emit(self.split()))
        self.title = ElidedLabel("")  # one line: the table keeps the height
        head = QHBoxLayout()
        head.addWidget(self.split_combo)
        head.addWidget(self.title, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(table)

    def split(self) -> str:
        return RECALL_SPLITS[self.split_combo.currentText()]

    def show_table(self, values: dict[str, float], *, has_model: bool) -> None:
        """Show ``values`` (a ``recall_table``; empty: the split holds no pairs, or
        ``has_model`` is false: there is nothing to score)."""
        self.values = dict(values)
        if values:
            self.title.setText(f"{int(values['pairs']):,} captions, {int(values['images']):,} "
                               "images, each ranked among the split's own")
        else:
            self.title.setText(f"no {self.split_combo.currentText().lower()}: the run held "
                               "no pairs out for it" if has_model else "")
        for r, (_, way) in enumerate(RECALL_ROWS):
            for c, (_, what) in enumerate(RECALL_COLUMNS):
                value = values.get(f"{way}_{what}")
                text = "" if value is None else (f"{value:.4g}" if what == "median_rank"
                                                 else f"{100 * value:.1f}%")
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if way.startswith("chance"):
                    item.setForeground(QColor(CHANCE_GREY))
                self.table.setItem(r, c, item)

    def showEvent(self, event) -> None:
        self._fit_height()  # the header's height depends on the font the style gives it
        super().showEvent(event)

    def _fit_height(self) -> None:
        """The table exactly as tall as its header and its four rows."""
        table = self.table
        table.setFixedHeight(table.horizontalHeader().sizeHint().height() + len(RECALL_ROWS)
                             * table.verticalHeader().defaultSectionSize()
                             + 2 * table.frameWidth())
