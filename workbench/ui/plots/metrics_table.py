"""The latest and the best value of every validation metric, updated once per epoch, with
each metric's chance level beside it and the algorithm's primary metric marked."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ...core.evaluation.rules import at_chance
from ...core.evaluation.names import LOWER_IS_BETTER, title
from ...core.training.events import EpochEnded, FitStarted
from ..compact import elide_headers

# Metrics where lower is better besides the loss terms (ranks: names.LOWER_IS_BETTER) and
# reconstruction errors.
LOWER_PREFIXES = ("recon_error",)
PRIMARY_MARK = " \u2605"  # after the primary metric's name
# Values that describe the model rather than grade it (D's outputs, a temperature, the
# modality weights): no direction, so no "best".
NEUTRAL = frozenset({"d_real", "d_fake", "d_wrong", "temperature"})
NEUTRAL_PREFIXES = ("weight_",)
ARROWS = {1: "\u2191", -1: "\u2193"}  # shown with the best value: which way is better
HEADER_TIPS = {1: "The value at the latest validation", 2: "The best value so far",
               3: "The epoch of the best value", 4: "What guessing scores on this split"}


def direction(name: str, loss_terms: set[str] | frozenset[str] = frozenset()) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither."""
    if name in NEUTRAL or name.startswith(NEUTRAL_PREFIXES):
        return 0
    if (name in loss_terms or name in LOWER_IS_BETTER or name.startswith(LOWER_PREFIXES)
            or name == "loss" or name.endswith("_loss")):
        return -1
    return 1


class MetricsTable(QWidget):
    """A row per validation metric: its latest value, its best value, the epoch of the
    best and its chance level on the validation split. Best is the maximum, the minimum for
    losses, ranks and reconstruction errors. The primary metric (the one that ranks runs of
    this algorithm) is bold and starred."""

    COLUMNS = ("metric", "latest", "best", "epoch", "chance")  # epoch: of the best value

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        # The start of a name tells rows apart ("accuracy_te…", "accuracy_im…"; cut in the
        # middle both read "accur…_only"); the tooltip has the whole name.
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().lineSpacing() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        elide_headers(self.table, HEADER_TIPS)
        for col in range(1, len(self.COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self.setMinimumWidth(240)
        self._rows: dict[str, list[QTableWidgetItem]] = {}
        self._latest: dict[str, float] = {}
        self._best: dict[str, tuple[float, int]] = {}
        self._loss_terms: set[str] = set()
        self.primary: str | None = None
        self.chance: dict[str, float] = {}
        self.chance_spread: float | None = None

    def reset(self, started: FitStarted | None = None) -> None:
        self.table.setRowCount(0)
        self._rows.clear()
        self._latest.clear()
        self._best.clear()
        self._loss_terms.clear()
        self.primary = started.primary if started is not None else None
        self.chance = dict(started.chance) if started is not None else {}
        self.chance_spread = started.chance_spread if started is not None else None

    def at_chance(self) -> bool | None:
        """Whether the primary metric's latest value is within two standard errors of its
        chance level (None before it has one)."""
        value = self._latest.get(self.primary) if self.primary else None
        if value is None or self.chance_spread is None:
            return None
        return at_chance(value, self.chance.get(self.primary), self.chance_spread, self.primary)

    def latest(self, name: str) -> float | None:
        return self._latest.get(name)

    def best(self, name: str) -> tuple[float, int] | None:
        """(value, epoch) of the best so far, None for a metric without a direction."""
        return self._best.get(name)

    def add_epochs(self, epochs: list[EpochEnded]) -> None:
        for e in epochs:
            self._loss_terms.update(e.train)
            for name, value in e.val.items():
                self._update(name, float(value), e.epoch)

    def _update(self, name: str, value: float, epoch: int) -> None:
        items = self._rows.get(name) or self._add_row(name)
        self._latest[name] = value
        items[1].setText(_fmt(value))
        sign = direction(name, self._loss_terms)
        if sign == 0 or not math.isfinite(value):
            return
        best = self._best.get(name)
        if best is None or sign * value > sign * best[0]:
            self._best[name] = (value, epoch)
            items[2].setText(f"{ARROWS[sign]} {_fmt(value)}")
            items[3].setText(str(epoch))

    def _add_row(self, name: str) -> list[QTableWidgetItem]:
        primary = name == self.primary
        row = 0 if primary else self.table.rowCount()  # the primary metric on top
        self.table.insertRow(row)
        sign = direction(name, self._loss_terms)
        chance = self.chance.get(name)
        items = [QTableWidgetItem(name + (PRIMARY_MARK if primary else "")),
                 QTableWidgetItem(""), QTableWidgetItem("\u2013" if sign == 0 else ""),
                 QTableWidgetItem(""), QTableWidgetItem("" if chance is None else _fmt(chance))]
        named = name if title(name) == name else f"{name} ({title(name)})"
        tip = f"{named}: " + {1: "higher is better", -1: "lower is better",
                              0: "describes the model; no better or worse"}[sign]
        if chance is not None:
            tip += f"; guessing scores {_fmt(chance)} on this validation split"
        if primary:
            tip += ("\n\u2605 the primary metric: the one that ranks runs of this algorithm "
                    "(Compare, keep the best epoch)")
            font = QFont(self.table.font())
            font.setBold(True)
            for item in items:
                item.setFont(font)
        for item in items:
            item.setToolTip(tip)
        for col, item in enumerate(items):
            if col:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, col, item)
        self._rows[name] = items
        return items


def _fmt(v: float) -> str:
    return f"{v:.4g}"


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = MetricsTable()
    view.add_epochs([EpochEnded(e, 10 * e, {"loss": 1 / e},
                                {"loss": 1.2 / e + 0.01 * e * e, "accuracy": 0.5 + 0.04 * e,
                                 "median_rank": 10 - e, "weight_text": 0.5}, e)
                     for e in range(1, 8)])
    view.resize(320, 240)
    view.show()
    app.exec()
    # Free the Qt objects before Python tears down: PySide6 can crash at exit otherwise.
    view.deleteLater()
    app.processEvents()
