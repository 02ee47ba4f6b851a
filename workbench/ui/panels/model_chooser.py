"""Choosing a pretrained model: the models on this machine first, then "Add folder…".

:class:`ModelChooser` is the Model panel's editor of ``model.text_model`` and
``model.image_model`` (registered in :data:`.param_form.EDITORS` at the bottom of this
module): an editable list of the models of its kind that :func:`catalog.available` finds
(installed packages, the local Hugging Face cache), the folders added before, and "Add
folder…", which asks for a folder and takes it only when it holds a model of that kind. A
name may still be typed. A value that is not on this machine says so under the list, with
the ways to get it (nothing is ever downloaded from here).
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QVBoxLayout, QWidget

from ...core.atomic import atomic_write_bytes
from ...core.params import ParamInfo
from ...core.paths import user_config_dir
from ...core.pretrained import catalog
from ...core.pretrained.locate import PretrainedError, locate
from .param_form import EDITORS, HINT_STYLE, FieldEditor, NoWheelCombo

log = logging.getLogger(__name__)

ADD_FOLDER = "Add folder…"
_ADD = "\x00add-folder"  # the item data of "Add folder…" (no model is named that)
#: the config keys that name a pretrained model, and the kind of model each takes
MODEL_KEYS = {"model.text_model": "text", "model.image_model": "image"}
_SOURCES = {"package": "installed package", "huggingface cache": "Hugging Face cache",
            "folder": "folder"}


class ModelChooser(FieldEditor):
    """An editable list of the pretrained models of ``kind`` ("text" or "image") found here."""

    def __init__(self, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self._value = ""
        self._listed: dict[str, str] = {}  # name -> tooltip of the models found
        self.combo = _PopupCombo()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.combo.lineEdit().setPlaceholderText("a Hugging Face name or a folder")
        self.hint = QLabel(wordWrap=True, visible=False)
        self.hint.setStyleSheet(HINT_STYLE)
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.combo)
        layout.addWidget(self.hint)
        self.combo.popup_about_to_show.connect(self.refresh)
        self.combo.activated.connect(self._on_item_activated)
        self.combo.lineEdit().editingFinished.connect(self._on_text_edited)
        self.refresh()

    # -- FieldEditor -------------------------------------------------------------------
    def value(self) -> str:
        return self._value

    def set_value(self, value) -> None:
        self._value = str(value)
        self.refresh()

    # -- the list ----------------------------------------------------------------------
    def refresh(self) -> None:
        """List what is on this machine now (a model copied in since shows up on opening)."""
        found = [*catalog.available(self.kind), *_remembered(self.kind)]
        self._listed = {}
        for model in found:
            self._listed.setdefault(model.name, f"{_SOURCES.get(model.source, model.source)}: "
                                                f"{model.path}")
        with QSignalBlocker(self.combo):
            self.combo.clear()
            # An item's text says where the model is; its data is the name the config takes
            # (what the edit field shows once it is chosen).
            for name, where in self._listed.items():
                self._add_item(f"{name}   ({where.partition(':')[0]})", name, where)
            if self._value and self._value not in self._listed:
                self._add_item(f"{self._value}   (not on this machine)", self._value,
                               "Not found on this machine")
                self.combo.setItemData(self.combo.count() - 1,
                                       self.palette().placeholderText(),
                                       Qt.ItemDataRole.ForegroundRole)
            self.combo.insertSeparator(self.combo.count())
            self._add_item(ADD_FOLDER, _ADD, f"Choose a folder holding {_a(self.kind)} model "
                           "(written by save_pretrained)")
            self._show_value()
        # the list as wide as its longest name (the form's column is narrow)
        view = self.combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 24)
        self._update_hint()

    def _add_item(self, text: str, data: str, tooltip: str) -> None:
        self.combo.addItem(text, data)
        self.combo.setItemData(self.combo.count() - 1, tooltip, Qt.ItemDataRole.ToolTipRole)

    def names(self) -> list[str]:
        """The models listed (found on this machine), in order."""
        return list(self._listed)

    def _show_value(self) -> None:
        with QSignalBlocker(self.combo):
            index = self.combo.findData(self._value)
            if index >= 0:
                self.combo.setCurrentIndex(index)
            self.combo.setEditText(self._value)
            self.combo.lineEdit().setCursorPosition(0)  # a long folder shows its start
            where = self._listed.get(self._value, "")
            self.combo.setToolTip(where or self.toolTip())

    def _update_hint(self) -> None:
        # An unused model (its encoder not pretrained: greyed out) needs no warning, and one
        # not on screen is not looked for (the first look imports huggingface_hub).
        short, full = self._problem() if self.isEnabled() and self.isVisible() else ("", "")
        self.hint.setText(short)
        self.hint.setToolTip(full)
        self.hint.setVisible(bool(short))

    def _problem(self) -> tuple[str, str]:
        """Why the value cannot be used here, in a line and in full (("", "") when it can).
        The full reason (with the ways to get the model) is the hint's tooltip: the form's
        column is narrow."""
        if not self._value or self._value in self._listed:
            return "", ""
        try:
            located = locate(self._value)  # not listed: an unlisted folder, or not here
        except PretrainedError as exc:
            return ("Not found on this machine, and nothing is downloaded: choose a model "
                    "listed or add a folder (hover here for how to get this one)."), str(exc)
        kind = catalog.kind_of(located.path)
        if kind is not None and kind != self.kind:
            text = f"This is {_a(kind)} model, not {_a(self.kind)} model."
            return text, f"{located.path}: {text}"
        return "", ""

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.EnabledChange:
            self._update_hint()
        super().changeEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self._update_hint()

    # -- the user's choices ------------------------------------------------------------
    def _on_item_activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        # the edit field shows the name, not the item's text ("Add folder…", a place)
        self._show_value()
        if data == _ADD:
            self.add_folder()
        elif data is not None:
            self._choose(str(data))

    def _on_text_edited(self) -> None:
        text = self.combo.currentText().strip()
        index = self.combo.findText(text)
        if index >= 0:  # an item's text left in the field: the item's name
            text = self.combo.itemData(index)
        if text and text != _ADD:
            self._choose(text)

    def _choose(self, name: str) -> None:
        if name != self._value:
            self._value = name
            self.refresh()
            self.edited.emit(name)

    def add_folder(self) -> None:
        """Ask for a folder; take it when it holds a model of this kind, else say why."""
        start = self._value if Path(self._value).expanduser().is_dir() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, f"Choose a folder holding a "
                                                  f"{self.kind} model", start)
        if not folder:
            return
        try:
            model = catalog.check_folder(folder, self.kind)
        except PretrainedError as exc:
            self.refused.emit(str(exc))
            return
        _remember(self.kind, model.name)
        self._choose(model.name)


class _PopupCombo(NoWheelCombo):
    popup_about_to_show = Signal()  # before the list opens (to list what is there now)

    def showPopup(self) -> None:  # noqa: N802 (Qt override)
        self.popup_about_to_show.emit()
        super().showPopup()


# ---------------------------------------------------------------- folders added before

def _folders_file() -> Path:
    return user_config_dir() / "model_folders.json"


def _remembered(kind: str) -> list[catalog.Found]:
    """The folders added before that still hold a model of ``kind``."""
    try:
        items = json.loads(_folders_file().read_text("utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:  # a damaged list costs only the list
        log.warning("ignoring %s: %s", _folders_file(), exc)
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("kind") == kind and item.get("path"):
            path = Path(str(item["path"]))
            if catalog.kind_of(path) == kind:
                out.append(catalog.Found(str(path), path, "folder", kind))
    return out


def _remember(kind: str, folder: str) -> None:
    try:
        items = json.loads(_folders_file().read_text("utf-8"))
        items = items if isinstance(items, list) else []
    except (OSError, ValueError):
        items = []
    items = [{"kind": kind, "path": folder}] + [
        i for i in items
        if isinstance(i, dict) and (i.get("kind"), i.get("path")) != (kind, folder)]
    try:
        atomic_write_bytes(_folders_file(), json.dumps(items[:20], indent=1).encode("utf-8"))
    except OSError as exc:  # a read-only config folder: chosen now, not listed next time
        log.warning("cannot save the model folders: %s", exc)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _chooser(info: ParamInfo, *, kind: str) -> ModelChooser:
    return ModelChooser(kind)


for _key, _kind in MODEL_KEYS.items():
    EDITORS[_key] = functools.partial(_chooser, kind=_kind)


if __name__ == "__main__":  # preview: python -m workbench.ui.panels.model_chooser
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    chooser = ModelChooser("text")
    chooser.set_value("sentence-transformers/all-MiniLM-L6-v2")
    chooser.edited.connect(lambda value: print("chose", value))
    chooser.refused.connect(lambda why: print("refused:", why))
    chooser.resize(380, chooser.sizeHint().height())
    chooser.show()
    sys.exit(app.exec())
