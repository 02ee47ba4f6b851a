"""The note the Model panel shows after the user switches algorithm: which settings the new
algorithm's recommendations changed, with a one-click way back ("Keep my settings")."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton,
                               QVBoxLayout, QWidget)


class SwitchNote(QFrame):
    """A framed message with a "Keep my settings" button and a close button."""

    undo_requested = Signal()  # "Keep my settings" was clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("switchNote")
        self.setStyleSheet("#switchNote { background: palette(alternate-base); "
                           "border: 1px solid palette(mid); border-radius: 4px; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.keep_button = QPushButton("Keep my settings")
        self.keep_button.setObjectName("keep_my_settings")
        self.keep_button.setToolTip("Put back the settings you had before switching; the "
                                    "algorithm and its parameters stay.")
        self.keep_button.clicked.connect(self.undo_requested)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide this note")
        self.close_button.clicked.connect(self.dismiss)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.label, 1)
        top.addWidget(self.close_button, 0)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.keep_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 4, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(buttons)
        self.setVisible(False)

    def show_message(self, text: str, *, undoable: bool) -> None:
        """Show ``text``; ``undoable`` shows the "Keep my settings" button."""
        self.label.setText(text)
        self.keep_button.setVisible(undoable)
        self.setVisible(True)

    def dismiss(self) -> None:
        self.setVisible(False)
