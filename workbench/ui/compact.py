"""Widgets that keep their text readable in a small window (800 × 600 and up).

A label, button or progress bar narrower than its text shows as much of it as fits, ending
in "…", and its tooltip holds the whole text while it is cut; table headers do the same
(:func:`elide_headers`). :func:`scrolled` puts a side panel in a scroll area so its contents'
minimum width no longer sets the window's.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (QHeaderView, QLabel, QProgressBar, QScrollArea, QSizePolicy,
                               QStyle, QStyleOptionToolButton, QStylePainter, QTableWidget,
                               QToolButton, QWidget)

ELLIPSIS_CHARS = 4  # the narrowest an elided widget gets: about this many characters and "…"


def _narrowest(widget: QWidget, text: str) -> int:
    fm = widget.fontMetrics()
    return min(fm.horizontalAdvance(text), fm.horizontalAdvance(text[:ELLIPSIS_CHARS] + "…"))


def _tip(full: str, shown: str, own: str) -> str:
    """The tooltip: the widget's own, after the whole text when the text is cut."""
    if shown == full or not full:
        return own
    return f"{full}\n{own}" if own else full


class _TipFollowsElision:
    """The whole text in the tooltip whenever what is drawn is cut (then the widget's own
    tooltip, ``setToolTip``, after it), kept up to date as the text and the width change.
    Mixed in before the Qt class; the widget gives ``full_text_and_shown()``."""

    _own_tip = ""

    def full_text_and_shown(self) -> tuple[str, str]:
        return self.text(), self.shown_text()

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tip()

    def setToolTip(self, tip: str) -> None:
        self._own_tip = tip
        self._update_tip()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_tip()

    def _update_tip(self) -> None:
        super().setToolTip(_tip(*self.full_text_and_shown(), self._own_tip))


class ElidedLabel(_TipFollowsElision, QLabel):
    """A one-line plain-text label that may be narrower than its text: it shows the start
    (``mode``: or the middle cut out) and "…", and the whole text in its tooltip.
    ``text()`` is always the whole text."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight):
        super().__init__(text, parent)
        self._mode = mode
        self._own_tip = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._update_tip()

    def shown_text(self) -> str:
        """The text as drawn now (elided to the label's width)."""
        width = self.contentsRect().width() - 2 * self.margin()
        return self.fontMetrics().elidedText(self.text(), self._mode, max(0, width))

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        m = self.contentsMargins()
        width = _narrowest(self, self.text()) + m.left() + m.right() + 2 * self.margin()
        return QSize(min(hint.width(), width), hint.height())


    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        rect = self.contentsRect().adjusted(self.margin(), self.margin(), -self.margin(),
                                            -self.margin())
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(),
                                  self.isEnabled(), self.shown_text(),
                                  QPalette.ColorRole.WindowText)


class ElidedToolButton(_TipFollowsElision, QToolButton):
    """A tool button (a section heading) whose text ends in "…" when the button is narrower
    than it, with the whole text in its tooltip. ``text()`` is always the whole text."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._own_tip = ""

    def _label_width(self, option: QStyleOptionToolButton) -> int:
        """The width left for the text beside the arrow or icon."""
        full = self.sizeHint().width()
        return self.width() - (full - self.fontMetrics().horizontalAdvance(option.text))

    def shown_text(self) -> str:
        option = QStyleOptionToolButton()
        self.initStyleOption(option)
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight,
                                             max(0, self._label_width(option)))

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        cut = self.fontMetrics().horizontalAdvance(self.text()) - _narrowest(self, self.text())
        return QSize(hint.width() - cut, hint.height())


    def paintEvent(self, event) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionToolButton()
        self.initStyleOption(option)
        option.text = self.fontMetrics().elidedText(option.text, Qt.TextElideMode.ElideRight,
                                                    max(0, self._label_width(option)))
        painter.drawComplexControl(QStyle.ComplexControl.CC_ToolButton, option)


class ElidedProgressBar(_TipFollowsElision, QProgressBar):
    """A progress bar whose text ends in "…" when the bar is narrower than it, with the
    whole text (then the bar's own tooltip) in its tooltip. ``format()`` is untouched."""

    MARGIN = 12  # the bar's frame and a little air either side of the text

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._own_tip = ""

    def full_text(self) -> str:
        return super().text()

    def text(self) -> str:  # what the style draws
        return self.fontMetrics().elidedText(self.full_text(), Qt.TextElideMode.ElideRight,
                                             max(0, self.width() - self.MARGIN))

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 60), hint.height())

    def setFormat(self, text: str) -> None:
        super().setFormat(text)
        self._update_tip()

    def setValue(self, value: int) -> None:
        super().setValue(value)
        self._update_tip()

    def full_text_and_shown(self) -> tuple[str, str]:
        return self.full_text(), self.text()


def elide_headers(view, tooltips: dict[int, str] | None = None) -> None:
    """Let ``view``'s horizontal header sections be narrower than their titles (cut with
    "…" instead of clipped at both ends); a ``QTableWidget``'s header items get their title,
    then ``tooltips[column]``, as tooltip (a model-based view's model answers
    ``ToolTipRole`` in ``headerData`` itself)."""
    header: QHeaderView = view.horizontalHeader()
    header.setTextElideMode(Qt.TextElideMode.ElideRight)
    if isinstance(view, QTableWidget):
        for column in range(view.columnCount()):
            item = view.horizontalHeaderItem(column)
            if item is not None:
                extra = (tooltips or {}).get(column, "")
                title = item.text().replace("\n", " ")
                item.setToolTip(f"{title}\n{extra}" if extra else title)


def scrolled(widget: QWidget, *, horizontal: bool = True) -> QScrollArea:
    """``widget`` in a frameless scroll area that gives it all the room there is and scrolls
    only below its minimum size: a side panel that no longer decides how small the window
    may get."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if horizontal
                                      else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area
