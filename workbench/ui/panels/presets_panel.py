"""The Presets panel: load, save, rename, delete, import and export saved configs.

Built-in presets are read-only (listed under their own heading); the user's own live in the
user config folder (:mod:`workbench.core.presets` does every file operation and every check).
The panel follows the Session's ``preset_changed`` to show which preset is loaded and a "*"
once it has been changed. Every dialog goes through one small method (``_ask_name``,
``_ask_description``, ``_ask_open_path``, ``_ask_save_path``, ``_confirm``, ``_show_error``)
so tests can answer it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QInputDialog, QLabel, QListWidget,
                               QListWidgetItem, QMessageBox, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from ...core import presets as P
from ...core.errors import ConfigError
from ..session import Session
from .param_form import HINT_STYLE

_INFO_ROLE = Qt.ItemDataRole.UserRole  # the PresetInfo of a preset row (headers have none)
_FILTER = "Presets (*.toml);;All files (*)"
# Put before a changed preset's old description when asking for a new one: left as is, the
# saved description still says it is not the original's.
EDIT_MARK = "[Edit me: settings changed from {preset}] "


class PresetsPanel(QWidget):
    """Built-in and user presets, and the actions on them."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.current_label = QLabel()
        self.current_label.setWordWrap(True)
        self.current_label.setToolTip("The preset the current settings came from; "
                                      "* marks changes not saved yet.")
        self.list = QListWidget()
        self.list.setObjectName("presets")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet(HINT_STYLE)
        self.status = QLabel()  # what the last action did
        self.status.setWordWrap(True)
        self.status.setStyleSheet(HINT_STYLE)

        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setSpacing(4)
        # At most three a row: four do not fit the panel in an 800-pixel-wide window.
        rows = (("Load", "Save", "Save as…"), ("Rename…", "Delete"), ("Import…", "Export…"))
        actions = {"Load": self.load_selected, "Save": self.save, "Save as…": self.save_as,
                   "Rename…": self.rename_selected, "Delete": self.delete_selected,
                   "Import…": self.import_file, "Export…": self.export_selected}
        for r, names in enumerate(rows):
            for c, name in enumerate(names):
                button = QPushButton(name)
                # narrower than the style's 80 px: three to a row in a narrow panel
                button.setMinimumWidth(button.fontMetrics().horizontalAdvance(name) + 16)
                button.setObjectName(name.rstrip("…").lower().replace(" ", "_"))
                button.clicked.connect(lambda _=False, act=actions[name]: act())
                # 3 buttons over 6 columns, or 2: each fills its row
                span = 6 // len(names)
                grid.addWidget(button, r, c * span, 1, span)
                self.buttons[name] = button
        self.buttons["Load"].setToolTip("Load the selected preset (or double-click it).")
        self.buttons["Save as…"].setToolTip("Save the current settings as a new user preset.")
        self.buttons["Rename…"].setToolTip("Rename the selected user preset.")
        self.buttons["Delete"].setToolTip("Delete the selected user preset.")
        self.buttons["Import…"].setToolTip("Check a preset file and copy it into your presets.")
        self.buttons["Export…"].setToolTip("Copy the selected preset to a file to share.")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addWidget(self.current_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.description)
        layout.addLayout(grid)
        layout.addWidget(self.status)

        self.list.currentItemChanged.connect(self._on_selection_changed)
        self.list.itemDoubleClicked.connect(self._on_item_double_clicked)
        session.preset_changed.connect(self._on_preset_changed)
        self.refresh()

    # -- the list -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the preset folders, keeping the selection when that preset still exists."""
        keep = self.selected_name() or self._session.preset_name
        self.list.clear()
        infos = P.list_presets()
        for heading, builtin in (("Built-in (read-only)", True), ("Your presets", False)):
            self._add_heading(heading)
            mine = [i for i in infos if i.builtin == builtin]
            for info in mine:
                self._add_preset(info)
            if not mine:
                self._add_heading("  none yet: use Save as… or Import…", hint=True)
        self.select(keep)
        self._update_current()

    def presets(self) -> list[P.PresetInfo]:
        return [info for info in map(self._info, self._items()) if info is not None]

    def selected(self) -> P.PresetInfo | None:
        return self._info(self.list.currentItem())

    def selected_name(self) -> str | None:
        info = self.selected()
        return info.name if info else None

    def select(self, name: str | None) -> bool:
        for item in self._items():
            info = self._info(item)
            if info is not None and info.name == name:
                self.list.setCurrentItem(item)
                return True
        return False

    def _add_heading(self, text: str, *, hint: bool = False) -> None:
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        font = item.font()
        font.setBold(not hint)
        font.setItalic(hint)
        item.setFont(font)
        if not hint:  # a heading is not selectable, yet must not look greyed out
            item.setForeground(self.palette().windowText())
        self.list.addItem(item)

    def _add_preset(self, info: P.PresetInfo) -> None:
        item = QListWidgetItem(f"  {info.name}")
        item.setData(_INFO_ROLE, info)
        kind = "Built-in preset (read-only)" if info.builtin else "Your preset"
        item.setToolTip(f"{info.description or '(no description)'}\n\n{kind}: {info.path}")
        self.list.addItem(item)

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    @staticmethod
    def _info(item: QListWidgetItem | None) -> P.PresetInfo | None:
        return item.data(_INFO_ROLE) if item is not None else None

    # -- actions ------------------------------------------------------------------------
    def load_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        if self._session.modified and not self._confirm(
                f"Discard the unsaved changes to {self._current_title()}?"):
            return
        try:
            cfg = P.load_preset(info.path)
            self._session.replace_config(cfg, preset=info.name)
        except ConfigError as exc:
            self._show_error("Cannot load preset", str(exc))
            return
        self._done(f"Loaded {info.name}.")

    def save(self) -> None:
        """Overwrite the loaded user preset with the current settings."""
        name = self._session.preset_name
        if not name or P.is_builtin(name):
            self.save_as()  # a built-in is never overwritten (the button is disabled anyway)
            return
        self._save(name)

    def save_as(self) -> None:
        current = self._session.preset_name
        default = current if current and not P.is_builtin(current) else \
            f"my-{current}" if current else "my-preset"
        name = self._ask_name("Save preset as", default)
        if not name:
            return
        name = name.strip()
        if (name != current and self._user_exists(name)
                and not self._confirm(f"Replace your preset {name!r}?")):
            return
        if not self._describe_changes():
            return
        self._save(name)

    def _describe_changes(self) -> bool:
        """Settings changed since a preset was loaded leave its description behind, likely
        no longer true: ask for one (the old one, marked as needing an edit) unless the user
        has already rewritten it. False when the user cancels."""
        session, current = self._session, self._session.preset_name
        old = session.config.description
        if not (current and session.modified and old == session.saved_description):
            return True
        text = self._ask_description(
            "Describe the preset",
            f"These settings differ from {current}'s, so its description below may no "
            "longer be true. Say what this preset does:",
            EDIT_MARK.format(preset=current) + old)
        if text is None:
            return False
        try:
            session.set_value("description", text.strip())
        except ConfigError as exc:
            self._show_error("Cannot save preset", str(exc))
            return False
        return True

    def rename_selected(self) -> None:
        info = self.selected()
        if info is None or info.builtin:
            return
        new = self._ask_name("Rename preset", info.name)
        if not new or new.strip() == info.name:
            return
        try:
            path = P.rename_user_preset(info.name, new)
        except (ConfigError, OSError) as exc:
            self._show_error("Cannot rename preset", str(exc))
            return
        if self._session.preset_name == info.name:
            self._follow_rename(path.stem)
        self._done(f"Renamed {info.name} to {path.stem}.", select=path.stem)

    def delete_selected(self) -> None:
        info = self.selected()
        if info is None or info.builtin:
            return
        if not self._confirm(f"Delete your preset {info.name!r}? This cannot be undone."):
            return
        try:
            P.delete_user_preset(info.name)
        except (ConfigError, OSError) as exc:
            self._show_error("Cannot delete preset", str(exc))
            return
        self._done(f"Deleted {info.name}.")

    def import_file(self) -> None:
        path = self._ask_open_path()
        if not path:
            return
        try:
            P.load_preset(Path(path))  # refuse a bad file before asking anything else
        except ConfigError as exc:
            self._show_error("Cannot import preset", str(exc))
            return
        name = Path(path).stem
        try:
            P.check_name(name)
            usable = not P.is_builtin(name)
        except ConfigError:
            usable = False
        if not usable:
            name = self._ask_name("Import preset as", "imported") or ""
            if not name:
                return
        elif self._user_exists(name) and not self._confirm(f"Replace your preset {name!r}?"):
            return
        try:
            saved = P.import_preset(path, name)
        except (ConfigError, OSError) as exc:
            self._show_error("Cannot import preset", str(exc))
            return
        self._done(f"Imported {saved.stem} from {path}.", select=saved.stem)

    def export_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        dest = self._ask_save_path(str(Path.home() / f"{info.name}.toml"))
        if not dest:
            return
        if not Path(dest).suffix and not Path(dest).is_dir():
            dest += ".toml"
        try:
            written = P.export_preset(info.path, dest)
        except (ConfigError, OSError) as exc:
            self._show_error("Cannot export preset", str(exc))
            return
        self._done(f"Exported {info.name} to {written}.")

    def _save(self, name: str) -> None:
        try:
            path = P.save_user_preset(self._session.config, name)
        except (ConfigError, OSError) as exc:
            self._show_error("Cannot save preset", str(exc))
            return
        self._session.mark_saved(path.stem)
        self._done(f"Saved {path.stem}.", select=path.stem)

    def _done(self, message: str, *, select: str | None = None) -> None:
        self.refresh()
        if select:
            self.select(select)
        self.status.setText(message)

    def _user_exists(self, name: str) -> bool:
        return any(i.name == name and not i.builtin for i in self.presets())

    def _follow_rename(self, new: str) -> None:
        self._session.rename_preset(new)

    # -- dialogs (tests replace these) ----------------------------------------------------
    def _ask_name(self, title: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, "Preset name:", text=default)
        return text if ok and text.strip() else None

    def _ask_description(self, title: str, label: str, text: str) -> str | None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.setOption(QInputDialog.InputDialogOption.UsePlainTextEditForTextInput)
        dialog.setTextValue(text)
        dialog.resize(560, 280)
        edit = dialog.findChild(QPlainTextEdit)

        def select_mark() -> None:  # the "[Edit me: …]" mark, to type over (once shown:
            cursor = edit.textCursor()  # showing the dialog selects all of the text)
            cursor.setPosition(text.find("] ") + 2 if text.startswith("[") else 0)
            cursor.setPosition(0, QTextCursor.MoveMode.KeepAnchor)
            edit.setTextCursor(cursor)

        if edit is not None:
            edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
            QTimer.singleShot(0, select_mark)
        return dialog.textValue() if dialog.exec() else None

    def _ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Import preset", str(Path.home()), _FILTER)
        return path or None

    def _ask_save_path(self, default: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export preset", default, _FILTER)
        return path or None

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Presets", text)
        return answer == QMessageBox.StandardButton.Yes

    def _show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    # -- state ------------------------------------------------------------------------
    def _on_preset_changed(self, name: str, modified: bool) -> None:
        self._update_current()

    def _update_current(self) -> None:
        mark = " *" if self._session.modified else ""
        self.current_label.setText(f"Current: {self._current_title()}{mark}")
        self._update_marks()
        self._update_buttons()

    def _on_selection_changed(self, item: QListWidgetItem | None, _previous=None) -> None:
        info = self._info(item)
        self.description.setText(info.description if info else "")
        self._update_buttons()

    def _on_item_double_clicked(self, item: QListWidgetItem) -> None:
        if self._info(item) is not None:
            self.load_selected()

    def _current_title(self) -> str:
        name = self._session.preset_name
        if not name:
            return "no preset"
        return name if any(i.name == name for i in self.presets()) else f"{name} (deleted)"

    def _update_marks(self) -> None:
        """The loaded preset in bold."""
        for item in self._items():
            info = self._info(item)
            if info is not None:
                font = item.font()
                font.setBold(info.name == self._session.preset_name)
                item.setFont(font)

    def _update_buttons(self) -> None:
        info = self.selected()
        own = info is not None and not info.builtin
        for name in ("Load", "Export…"):
            self.buttons[name].setEnabled(info is not None)
        for name in ("Rename…", "Delete"):
            self.buttons[name].setEnabled(own)
        current = self._session.preset_name
        savable = bool(current) and not P.is_builtin(current)
        save = self.buttons["Save"]
        save.setEnabled(savable)
        save.setToolTip(f"Save the current settings into {current!r}." if savable else
                        "Built-in presets are read-only: use Save as… to keep your changes.")


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    session = Session()
    panel = PresetsPanel(session)
    panel.resize(380, 420)
    panel.show()
    sys.exit(app.exec())
