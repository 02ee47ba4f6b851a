"""Widgets for a small window (``workbench.ui.compact``, ``workbench.ui.flow_layout``): text
cut with "…" keeps its whole in the tooltip and in ``text()``; a row of controls wraps."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QTableWidget, QVBoxLayout, QWidget

from workbench.ui.compact import (ElidedLabel, ElidedProgressBar, ElidedToolButton,
                                  elide_headers)
from workbench.ui.flow_layout import FlowLayout

LONG = "20261205-053724-contrastive-mean-emoji: finished, epoch 3 of 3"


def test_an_elided_label_cuts_its_text_and_tips_the_whole(qtbot):
    label = ElidedLabel(LONG)
    label.setToolTip("what it is")
    qtbot.addWidget(label)
    label.show()
    label.resize(label.fontMetrics().horizontalAdvance(LONG) + 10, 20)
    assert label.shown_text() == LONG and label.toolTip() == "what it is"
    label.resize(120, 20)
    shown = label.shown_text()
    assert shown.endswith("…") and label.fontMetrics().horizontalAdvance(shown) <= 120
    assert label.text() == LONG and label.toolTip() == f"{LONG}\nwhat it is"
    assert label.minimumSizeHint().width() < 120  # may be narrower than its text


def test_an_elided_tool_button_keeps_its_text(qtbot):
    button = ElidedToolButton()
    qtbot.addWidget(button)
    button.setText(LONG)
    button.show()
    button.resize(button.sizeHint().width(), 24)
    assert button.shown_text() == LONG and button.toolTip() == ""
    button.resize(100, 24)
    assert button.shown_text().endswith("…") and button.toolTip() == LONG
    assert button.text() == LONG and button.minimumSizeHint().width() < 100


def test_an_elided_progress_bar_tips_its_whole_format(qtbot):
    bar = ElidedProgressBar()
    qtbot.addWidget(bar)
    bar.setToolTip("10 steps per epoch")
    bar.setFormat(LONG)
    bar.setValue(30)
    bar.show()
    bar.resize(150, 20)
    assert bar.text().endswith("…") and bar.format() == LONG
    assert bar.toolTip() == f"{LONG}\n10 steps per epoch"
    bar.resize(bar.fontMetrics().horizontalAdvance(LONG) + 40, 20)
    assert bar.text() == LONG and bar.toolTip() == "10 steps per epoch"


def test_elided_headers_cut_with_an_ellipsis_and_tip_the_title(qtbot):
    table = QTableWidget(1, 2)
    qtbot.addWidget(table)
    table.setHorizontalHeaderLabels(["median\nrank", "R@1"])
    elide_headers(table, {0: "of the true match"})
    assert table.horizontalHeader().textElideMode() == Qt.TextElideMode.ElideRight
    assert table.horizontalHeaderItem(0).toolTip() == "median rank\nof the true match"
    assert table.horizontalHeaderItem(1).toolTip() == "R@1"


def row_of(widget: QWidget) -> int:
    """The centre line of ``widget`` (a flow layout centres each item in its row)."""
    return widget.geometry().center().y() // 4


def test_a_flow_layout_wraps_its_groups_when_narrow(qtbot):
    box = QWidget()
    qtbot.addWidget(box)
    column = QVBoxLayout(box)
    row = FlowLayout()
    label, field, other = QLabel("Labels:"), QPushButton("a long field"), QPushButton("other")
    row.add_widgets(label, field)
    row.addWidget(other)
    column.addLayout(row)
    column.addStretch(1)
    one_row = row.sizeHint().width()
    box.resize(one_row + 60, 200)  # the column's margins and some
    box.show()
    qtbot.waitExposed(box)
    assert row_of(label) == row_of(field) == row_of(other)
    # Narrower than the row: "other" wraps, the label stays beside its field.
    box.resize(label.sizeHint().width() + field.sizeHint().width() + 50, 200)
    qtbot.waitUntil(lambda: row_of(other) > row_of(field))
    assert row_of(label) == row_of(field) and field.x() > label.x()
    assert row.minimumSize().width() >= label.sizeHint().width() + field.sizeHint().width()
    assert row.heightForWidth(one_row) < row.heightForWidth(field.sizeHint().width() + 40)
