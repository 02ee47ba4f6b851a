"""A hyperparameter form generated from a config dataclass.

:func:`workbench.core.params.describe` says what each field is (type, range, choices, help);
:class:`ParamForm` turns that into one editor per field, so a new parameter in any params
dataclass appears in the GUI with no GUI change. The form holds no config: it reports edits
through ``value_edited`` and shows whatever :meth:`ParamForm.set_values` gives it, so the
owner decides (through the Session) whether an edit is accepted.

A key can have an editor of its own instead of the one its type gives (the model chooser of
``model.text_model``): a :class:`FieldEditor` subclass registered in :data:`EDITORS`.
"""

from __future__ import annotations

import functools
import html
import math
from typing import Any, Callable

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QSpinBox, QToolButton, QWidget)

from ...core.params import ParamInfo, describe

_INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
_FLOAT_LIMIT = 1e15
ERROR_STYLE = "color: #c62828;"
LABEL_WIDTH = 120  # the widest a field's label gets; longer ones wrap
HINT_STYLE = "color: palette(placeholder-text);"
SEARCH_GLYPH = "\u2315"  # ⌕, "telephone recorder": a magnifier in most fonts


class FieldEditor(QWidget):
    """An editor for one field that its type alone does not describe (a model chooser).

    It shows :meth:`set_value`'s value without reporting it, reports the user's choices
    through ``edited``, and a choice it cannot take through ``refused`` (the form shows the
    message under it)."""

    edited = Signal(object)  # the value the user chose
    refused = Signal(str)  # why what the user chose was not taken

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError


#: Editors for particular dotted keys, in place of the one the field's type gives:
#: ``EDITORS["model.text_model"] = factory``, ``factory(info) -> FieldEditor``.
EDITORS: dict[str, Callable[[ParamInfo], FieldEditor]] = {}


class ParamForm(QWidget):
    """One editor per scalar field of ``cls``; edits are reported as dotted keys.

    ``prefix`` is the section's dotted key ("training", "algorithm.params", ...): the field
    ``epochs`` of the "training" form is reported as ``training.epochs``. ``only`` names the
    fields shown when the form edits part of a section (the split settings of ``data``).
    """

    value_edited = Signal(str, object)  # dotted key, the new value (bool/int/float/str)
    # dotted key, the range a sweep searches it over as typed (LOW..HIGH[:log], A,B,C; ""
    # for its default range), or None when it is no longer searched
    search_edited = Signal(str, object)

    def __init__(self, prefix: str, cls: type, parent: QWidget | None = None, *,
                 only: tuple[str, ...] | None = None, searchable: bool = False):
        super().__init__(parent)
        self._prefix = prefix
        self._only = only
        # Each row gets a search toggle and, when on, the range a sweep tries (the Sweep tab)
        self._searchable = searchable
        self._search_buttons: dict[str, QToolButton] = {}
        self._search_rows: dict[str, QWidget] = {}
        self._search_edits: dict[str, QLineEdit] = {}
        self._cls: type | None = None
        self._infos: dict[str, ParamInfo] = {}
        self._editors: dict[str, QWidget] = {}
        self._errors: dict[str, QLabel] = {}
        self._text: dict[str, str] = {}  # what each line edit last showed, to report real edits
        self._labels: list[QLabel] = []
        self._row_labels: dict[str, QLabel] = {}  # a checkbox row has none
        self._label_width = 0
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # In a narrow panel a field that does not fit beside its label goes under it.
        self._layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.rebuild(cls)

    # -- public ---------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def param_class(self) -> type | None:
        return self._cls

    def infos(self) -> list[ParamInfo]:
        return list(self._infos.values())

    def key(self, name: str) -> str:
        return f"{self._prefix}.{name}" if self._prefix else name

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def rebuild(self, cls: type) -> None:
        """Replace every row with editors for ``cls`` (another algorithm's parameters)."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._cls = cls
        self._infos = {info.name: info for info in describe(cls)
                       if self._only is None or info.name in self._only}
        self._editors.clear()
        self._errors.clear()
        self._text.clear()
        self._labels.clear()
        self._row_labels.clear()
        self._search_buttons.clear()
        self._search_rows.clear()
        self._search_edits.clear()
        if not self._infos:
            empty = QLabel("No parameters to set.")
            empty.setStyleSheet(HINT_STYLE)
            self._layout.addRow(empty)
        for info in self._infos.values():
            self._add_row(info)
        self._grey_unused()

    def label_width(self) -> int:
        """The width the labels need (to line several forms up with :meth:`set_label_width`),
        at most ``LABEL_WIDTH``: a longer label takes two lines."""
        return max((min(LABEL_WIDTH, label.fontMetrics().horizontalAdvance(label.text()))
                    for label in self._labels), default=0)

    def set_label_width(self, width: int) -> None:
        self._label_width = width
        for label in self._labels:
            label.setMinimumWidth(width)

    def set_values(self, obj: Any) -> None:
        """Show ``obj``'s values (a dataclass instance) without reporting them as edits.

        An instance of another class rebuilds the form first."""
        if type(obj) is not self._cls:
            self.rebuild(type(obj))
        for name, info in self._infos.items():
            self._show(info, self._editors[name], getattr(obj, name))
        self._grey_unused()

    def values(self) -> dict[str, Any]:
        """What every editor shows now, by field name."""
        return {name: _read(info, self._editors[name]) for name, info in self._infos.items()}

    def show_error(self, name_or_key: str, message: str) -> None:
        """Show why an edit was refused, under its editor."""
        name = self._name(name_or_key)
        label = self._errors[name]
        label.setText(message)
        label.setVisible(True)

    def clear_errors(self) -> None:
        for label in self._errors.values():
            label.clear()
            label.setVisible(False)

    def errors(self) -> dict[str, str]:
        """The messages shown now, by field name."""
        return {n: lab.text() for n, lab in self._errors.items() if not lab.isHidden()}

    def set_search(self, search: dict[str, str]) -> None:
        """Show which rows a sweep searches (dotted key -> range text), without reporting."""
        for name, button in self._search_buttons.items():
            key = self.key(name)
            on = key in search
            edit = self._search_edits[name]
            with QSignalBlocker(button), QSignalBlocker(edit):
                button.setChecked(on)
                if on and edit.text() != search[key]:
                    edit.setText(search[key])
            self._search_rows[name].setVisible(on)
        self._grey_unused()

    def search_button(self, name_or_key: str) -> QToolButton:
        return self._search_buttons[self._name(name_or_key)]

    def search_edit(self, name_or_key: str) -> QLineEdit:
        return self._search_edits[self._name(name_or_key)]

    # -- building -------------------------------------------------------------------
    def _add_row(self, info: ParamInfo) -> None:
        editor = self._make_editor(info)
        editor.setToolTip(tooltip(info, self.key(info.name)))
        editor.setObjectName(self.key(info.name))
        self._editors[info.name] = editor
        field: QWidget = self._with_search(info, editor) if self._searchable else editor
        if isinstance(editor, QCheckBox):
            self._layout.addRow(field)
        else:
            label = QLabel(info.title)
            label.setToolTip(editor.toolTip())
            label.setBuddy(editor)
            # "Checkpoint every (epochs)" on two lines rather than a wider panel
            label.setWordWrap(True)
            label.setMaximumWidth(LABEL_WIDTH)
            label.setMinimumWidth(self._label_width)
            self._labels.append(label)
            self._row_labels[info.name] = label
            self._layout.addRow(label, field)
        if self._searchable:
            self._layout.addRow(self._search_rows[info.name])
        error = QLabel()
        error.setWordWrap(True)
        error.setStyleSheet(ERROR_STYLE)
        error.setVisible(False)
        self._errors[info.name] = error
        self._layout.addRow(error)

    def _with_search(self, info: ParamInfo, editor: QWidget) -> QWidget:
        """``editor`` with a search toggle beside it, and the (hidden) range row under it."""
        from ...core.sweep.space import default_dimension
        key = self.key(info.name)
        button = QToolButton()
        button.setObjectName(f"search:{key}")
        button.setCheckable(True)
        button.setText(SEARCH_GLYPH)
        default = default_dimension(key, info)
        button.setToolTip(f"Search {key} in a sweep (the Sweep tab)"
                          + (f"; by default over {default.text()}" if default else
                             "; it has no default range: type one"))
        button.toggled.connect(functools.partial(self._on_search_toggled, info.name))
        button.setAutoRaise(True)
        field = QWidget()
        row = QHBoxLayout(field)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)  # a row with it still fits the settings panel at 250 px
        row.addWidget(editor, 1)
        if isinstance(editor, QCheckBox):
            row.addStretch(0)
        row.addWidget(button)
        edit = QLineEdit(default.text() if default else "")
        edit.setObjectName(f"range:{key}")
        edit.setPlaceholderText("LOW..HIGH[:log] or A,B,C")
        edit.setToolTip("The values a sweep tries: LOW..HIGH (add :log for a log scale) or "
                        "a list A,B,C")
        edit.editingFinished.connect(functools.partial(self._on_range_edited, info.name))
        holder = QWidget()
        line = QHBoxLayout(holder)
        line.setContentsMargins(12, 0, 0, 0)
        caption = QLabel("Search over")
        caption.setStyleSheet(HINT_STYLE)
        line.addWidget(caption)
        line.addWidget(edit, 1)
        holder.setVisible(False)
        self._search_buttons[info.name] = button
        self._search_rows[info.name] = holder
        self._search_edits[info.name] = edit
        return field

    def _on_search_toggled(self, name: str, on: bool) -> None:
        self._search_rows[name].setVisible(on)
        self._errors[name].setVisible(False)
        self._grey_unused()
        self.search_edited.emit(self.key(name),
                                self._search_edits[name].text().strip() if on else None)

    def _on_range_edited(self, name: str) -> None:
        if self._search_buttons[name].isChecked():
            self.search_edited.emit(self.key(name), self._search_edits[name].text().strip())

    def _make_editor(self, info: ParamInfo) -> QWidget:
        emit = functools.partial(self._on_value_changed, info.name)
        factory = EDITORS.get(self.key(info.name))
        if factory is not None:
            editor = factory(info)
            editor.edited.connect(emit)
            editor.refused.connect(functools.partial(self.show_error, info.name))
            return editor
        if info.type is bool:
            box = QCheckBox(info.title)
            box.toggled.connect(emit)
            return box
        if info.choices:
            combo = NoWheelCombo()
            for choice in info.choices:
                combo.addItem(choice, choice)
            combo.currentIndexChanged.connect(
                lambda i, c=combo: emit(c.itemData(i)))
            return combo
        if info.type is int:
            spin: QSpinBox | QDoubleSpinBox = _IntBox(info)
        elif info.type is float:
            spin = _FloatBox(info)
        else:
            line = QLineEdit()
            line.editingFinished.connect(
                functools.partial(self._on_text_changed, info.name, line))
            return line
        spin.valueChanged.connect(emit)
        spin.refused.connect(functools.partial(self._on_text_refused, info.name))
        return spin

    def _show(self, info: ParamInfo, editor: QWidget, value: Any) -> None:
        if _read(info, editor) == value and not isinstance(editor, QLineEdit):
            return  # leave the widget alone: resetting it would move the user's cursor
        with QSignalBlocker(editor):
            if isinstance(editor, FieldEditor):
                editor.set_value(value)
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox):
                editor.setCurrentIndex(editor.findData(value))
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                editor.setValue(value)
            else:
                editor.setText(str(value))
                self._text[info.name] = str(value)

    def _grey_unused(self) -> None:
        """Grey out the parameters the other values make unused (another mode's), as the
        fusion list greys out fusions that do not fit; their tooltips say when they count."""
        values = self.values()
        for name, info in self._infos.items():
            # a searched setting is set by the sweep, not here
            searched = name in self._search_buttons and self._search_buttons[name].isChecked()
            if info.when or name in self._search_buttons:
                used = info.applies(values)
                self._editors[name].setEnabled(used and not searched)
                if name in self._row_labels:
                    self._row_labels[name].setEnabled(used)

    def _name(self, name_or_key: str) -> str:
        if name_or_key in self._infos:
            return name_or_key
        prefix = f"{self._prefix}." if self._prefix else ""
        if name_or_key.startswith(prefix) and name_or_key[len(prefix):] in self._infos:
            return name_or_key[len(prefix):]
        raise KeyError(f"{name_or_key!r} is not a field of the {self._prefix!r} form")

    # -- handlers -------------------------------------------------------------------
    def _on_value_changed(self, name: str, value: Any) -> None:
        self._errors[name].setVisible(False)
        self._grey_unused()
        self.value_edited.emit(self.key(name), value)

    def _on_text_changed(self, name: str, line: QLineEdit) -> None:
        text = line.text()
        if text != self._text.get(name):
            self._text[name] = text
            self._on_value_changed(name, text)

    def _on_text_refused(self, name: str, text: str) -> None:
        allowed = self._infos[name].allowed()
        self.show_error(name, f"got {text}, expected {allowed}" if text else
                        f"expected {allowed}")


def tooltip(info: ParamInfo, key: str) -> str:
    """Help, allowed values, default and the dotted key (as a ``--set`` override takes it)."""
    esc = functools.partial(html.escape, quote=False)
    default = _fmt(info.default)
    condition = info.condition()
    when = f"<p><i>{esc(condition[0].upper() + condition[1:])}.</i></p>" if condition else ""
    return (f"<p>{esc(info.help)}</p>{when}<p>Allowed: {esc(info.allowed())}<br>"
            f"Default: {esc(default)}<br>Key: <code>{esc(key)}</code></p>")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _read(info: ParamInfo, editor: QWidget) -> Any:
    if isinstance(editor, FieldEditor):
        return editor.value()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        return editor.value()
    return editor.text()


# ---------------------------------------------------------------- editors

class _NoWheelUnlessFocused:
    """Scrolling the panel over an editor must not change it: wheel only when focused."""

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class NoWheelCombo(_NoWheelUnlessFocused, QComboBox):
    def __init__(self):
        super().__init__()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


class _RangeBox(_NoWheelUnlessFocused):
    """Spin-box behaviour shared by ints and floats: any number may be typed, and one out
    of range (or not a number) is reported through ``refused`` when the user presses Enter
    or leaves the field, instead of being silently put back."""

    def _setup(self, info: ParamInfo) -> None:
        self.info = info
        self.setKeyboardTracking(False)  # report the number typed, not each keystroke
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccelerated(True)

    def _parse(self, text: str):
        raise NotImplementedError

    def validate(self, text: str, pos: int):  # Qt override
        try:
            value = self._parse(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def _check_typed(self) -> None:
        text = self.lineEdit().text().strip()
        if self.validate(text, len(text))[0] != QValidator.State.Acceptable:
            self.refused.emit(text)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._check_typed()
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._check_typed()
        super().focusOutEvent(event)


class _IntBox(_RangeBox, QSpinBox):
    refused = Signal(str)  # the text typed, out of range or not a whole number

    def __init__(self, info: ParamInfo):
        super().__init__()
        self._setup(info)
        lo = -_INT_LIMIT if info.min is None else max(-_INT_LIMIT, math.ceil(info.min))
        hi = _INT_LIMIT if info.max is None else min(_INT_LIMIT, math.floor(info.max))
        self.setRange(lo, hi)

    def _parse(self, text: str) -> int:
        return int(text)

    def valueFromText(self, text: str) -> int:  # noqa: N802
        try:
            return int(text)
        except ValueError:
            return self.value()


class _FloatBox(_RangeBox, QDoubleSpinBox):
    """A float editor that shows and keeps the exact value (``repr``, so 1e-06 stays 1e-06).

    Arrows step linearly, or along 1, 2, 5, 10, 20, ... for log-scale parameters (learning
    rates, temperatures), where a linear step is either too small or too large."""

    refused = Signal(str)  # the text typed, out of range or not a number

    def __init__(self, info: ParamInfo):
        super().__init__()
        self._setup(info)
        self.setDecimals(17)  # QDoubleSpinBox rounds to this: enough to keep any double
        lo = -_FLOAT_LIMIT if info.min is None else info.min
        hi = _FLOAT_LIMIT if info.max is None else info.max
        self.setRange(lo, hi)
        self.setSingleStep(_linear_step(info))

    def _parse(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value

    def textFromValue(self, value: float) -> str:  # noqa: N802
        return repr(float(value))

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return self._parse(text)
        except ValueError:
            return self.value()

    def stepBy(self, steps: int) -> None:  # noqa: N802
        value = self.value()
        if self.info.log:
            for _ in range(abs(steps)):
                value = _next_125(value, up=steps > 0, floor=self.minimum())
        else:
            value = float(f"{value + steps * self.singleStep():.12g}")  # no 0.30000000000000004
        self.setValue(min(max(value, self.minimum()), self.maximum()))


def _linear_step(info: ParamInfo) -> float:
    """A tenth of the default's order of magnitude (0.1 -> 0.01, 1.0 -> 0.1), or about a
    hundredth of the range when the default is 0 (0 to 0.9 -> 0.01)."""
    if info.default:
        return 10.0 ** (math.floor(math.log10(abs(info.default))) - 1)
    if info.min is not None and info.max is not None and info.max > info.min:
        return 10.0 ** (round(math.log10(info.max - info.min)) - 2)
    return 0.1


def _next_125(value: float, *, up: bool, floor: float) -> float:
    """The next value up or down the 1-2-5 series (..., 0.5, 1, 2, 5, 10, ...)."""
    if value <= 0:
        return floor if up and floor > 0 else value
    exp = math.floor(math.log10(value))
    grid = sorted(float(f"{m * 10.0 ** e:.12g}") for e in (exp - 1, exp, exp + 1)
                  for m in (1, 2, 5))
    if up:
        return next(g for g in grid if g > value * (1 + 1e-9))
    return next(g for g in reversed(grid) if g < value * (1 - 1e-9))


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication

    from ...core.config import OptimizerConfig

    app = QApplication(sys.argv)
    form = ParamForm("optimizer", OptimizerConfig)
    form.set_values(OptimizerConfig())
    form.value_edited.connect(lambda key, value: print(f"{key} = {value!r}"))
    form.resize(380, form.sizeHint().height())
    form.show()
    sys.exit(app.exec())
