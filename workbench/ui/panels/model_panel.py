"""The Model panel: algorithm, fusion and every hyperparameter, as a view of the Session.

Algorithms and fusions come from their registries (registration order, titles, one-line
descriptions); a fusion that makes no sense with the chosen algorithm is disabled with the
registry's reason as its tooltip [design: "invalid pairs disabled with the reason"]. The
hyperparameter forms are generated from the config dataclasses (:class:`ParamForm`). Every
edit goes through the Session, and the panel redraws itself from ``config_changed``, so an
edit the Session refuses is put back and explained next to the editor.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QFormLayout, QLabel, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)

from ...core import config as C
from ...core.algorithms import ALGORITHMS, fusion_problem
from ...core.algorithms.switching import AlgorithmSwitch
from ...core.errors import ConfigError
from ...core.evaluation.names import title
from ...core.fusion import FUSIONS
from ...core.params import describe
from ..compact import ElidedToolButton
from ..session import Session
from . import model_chooser  # noqa: F401 (registers the model keys' chooser)
from .param_form import ERROR_STYLE, HINT_STYLE, ParamForm
from .switch_note import SwitchNote

# The plain config sections edited here, in the order shown, with their headings; which
# fields each has comes from its dataclass. (The data section belongs to the Data panel.)
SECTIONS = (("model", "Model: encoders and sizes"), ("preprocess", "Preprocessing"),
            ("optimizer", "Optimiser"), ("training", "Training"),
            ("pretrained", "Pretrained models"),
            ("data", "Data: split, memory limit, streaming"),
            ("", "Run: seed, device, description"))
# Sections edited here in part: the split, memory and streaming settings of data (the rest,
# what is read and how, is the Data panel's; a change to the memory limit or streaming
# reloads there, as its summary says whether training streams).
SECTION_FIELDS = {"data": ("val_fraction", "test_fraction", "split_seed", "max_memory_gb",
                           "streaming", "shuffle_buffer", "stream_workers")}
_OPEN = {"algorithm.params", "fusion.params", "training"}  # expanded at first
# Sections without search toggles: the run's seed and device (--seeds averages over seeds),
# whether downloads are allowed.
UNSEARCHED = {"", "pretrained"}


class ModelPanel(QWidget):
    """Algorithm + fusion + hyperparameters of the Session's config."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        cfg = session.config

        self.algorithm_combo = QComboBox()
        self.algorithm_combo.setObjectName("algorithm")
        for spec in ALGORITHMS.specs():
            self.algorithm_combo.addItem(spec.title, spec.name)
            self.algorithm_combo.setItemData(self.algorithm_combo.count() - 1,
                                             _algorithm_text(spec), Qt.ItemDataRole.ToolTipRole)
        self.fusion_combo = QComboBox()
        self.fusion_combo.setObjectName("fusion")
        for spec in FUSIONS.specs():
            self.fusion_combo.addItem(spec.title, spec.name)
        self.algorithm_info = _hint_label()
        self.fusion_info = _hint_label()
        self.error_label = QLabel()  # a refused algorithm/fusion change
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setVisible(False)
        # What switching algorithm changed, with "Keep my settings" (the last switch's undo).
        self.switch_note = SwitchNote()
        self.switch_note.undo_requested.connect(self._on_undo_requested)
        self._switch: AlgorithmSwitch | None = None

        top = QFormLayout()
        top.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # In a narrow panel the combo boxes go under their labels, whole.
        top.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        top.addRow("Algorithm", self.algorithm_combo)
        top.addRow(self.algorithm_info)
        top.addRow("Fusion", self.fusion_combo)
        top.addRow(self.fusion_info)
        top.addRow(self.error_label)

        self.forms: dict[str, ParamForm] = {
            "algorithm.params": ParamForm("algorithm.params", type(cfg.algorithm.params),
                                          searchable=True),
            "fusion.params": ParamForm("fusion.params", type(cfg.fusion.params),
                                       searchable=True),
        }
        for name, _ in SECTIONS:
            self.forms[name] = ParamForm(name, type(_section(cfg, name)),
                                         only=SECTION_FIELDS.get(name),
                                         searchable=name not in UNSEARCHED)
        self.sections: dict[str, Section] = {}
        body = QWidget()
        column = QVBoxLayout(body)
        column.addLayout(top)
        for prefix, form in self.forms.items():
            form.value_edited.connect(self._on_value_edited)
            form.search_edited.connect(self._on_search_edited)
            section = Section(dict(SECTIONS).get(prefix, ""), form, expanded=prefix in _OPEN)
            self.sections[prefix] = section
            column.addWidget(section)
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        # Above the scrolled settings, so it is seen wherever they are scrolled to.
        outer.addWidget(self.switch_note)
        outer.addWidget(scroll, 1)

        self.algorithm_combo.currentIndexChanged.connect(self._on_algorithm_changed)
        self.fusion_combo.currentIndexChanged.connect(self._on_fusion_changed)
        session.config_changed.connect(self._on_config_changed)
        session.config_replaced.connect(self._on_config_replaced)
        session.search_changed.connect(self._on_search_changed)
        self._on_config_changed(cfg)

    # -- session -> widgets -----------------------------------------------------------
    def _on_config_changed(self, cfg: C.ExperimentConfig) -> None:
        self._clear_errors()
        if self._switch is not None and cfg.algorithm.name != self._switch.config.algorithm.name:
            self._switch = None  # switched by another route: the note is out of date
            self.switch_note.dismiss()
        algorithm = ALGORITHMS[cfg.algorithm.name]
        fusion = FUSIONS[cfg.fusion.name]
        with QSignalBlocker(self.algorithm_combo), QSignalBlocker(self.fusion_combo):
            self.algorithm_combo.setCurrentIndex(self.algorithm_combo.findData(algorithm.name))
            self._update_fusion_items(algorithm.name)
            self.fusion_combo.setCurrentIndex(self.fusion_combo.findData(fusion.name))
        text = _algorithm_text(algorithm) + _scored_by(cfg)
        self.algorithm_combo.setToolTip(text)
        self.algorithm_info.setText(text)
        self.fusion_combo.setToolTip(fusion.description)
        self.fusion_info.setText(fusion.description + _unavailable_hint(algorithm))
        self.sections["algorithm.params"].set_title(f"{algorithm.title}: parameters")
        self.sections["fusion.params"].set_title(f"{fusion.title}: parameters")
        search = self._session.search
        for prefix, form in self.forms.items():
            form.set_values(_section(cfg, prefix))  # rebuilds when the params class changed
            form.set_search(search)
        width = max(form.label_width() for form in self.forms.values())
        for form in self.forms.values():  # one label column for all the forms
            form.set_label_width(width)

    def _update_fusion_items(self, algorithm: str) -> None:
        """Enable exactly the fusions ``algorithm`` accepts; the others say why not."""
        model = self.fusion_combo.model()
        assert isinstance(model, QStandardItemModel)
        title = ALGORITHMS[algorithm].title
        for row in range(model.rowCount()):
            item = model.item(row)
            spec = FUSIONS[item.data(Qt.ItemDataRole.UserRole)]
            problem = fusion_problem(algorithm, spec.name)
            item.setEnabled(problem is None)
            item.setToolTip(spec.description if problem is None
                            else f"Not available with {title}: {problem}")

    # -- widgets -> session -----------------------------------------------------------
    def _on_algorithm_changed(self, index: int) -> None:
        # One change (never an invalid pair in between): the algorithm, a fusion that fits
        # it, its recommended settings and its parameters as the user left them.
        try:
            switch = self._session.switch_algorithm(self.algorithm_combo.itemData(index))
        except ConfigError as exc:
            self._refuse(None, str(exc))
            return
        self._switch = switch
        self.switch_note.show_message(_switch_text(switch), undoable=bool(switch.changes))

    def _on_undo_requested(self) -> None:
        """"Keep my settings": the settings the last switch changed go back to what they
        were (those edited since stay as edited); the algorithm stays."""
        switch = self._switch
        if switch is None:
            return
        self._apply(switch.undo_values(self._session.config))
        spec = ALGORITHMS[switch.config.algorithm.name]
        recommended = ", ".join(f"{_key_title(c.key)} {_value_text(c.new)}"
                                for c in switch.changes)
        self.switch_note.show_message(f"Kept your settings. Recommended for {spec.title}: "
                                      f"{recommended}.", undoable=False)
        self._switch = None

    def _on_config_replaced(self, _cfg: C.ExperimentConfig) -> None:
        # A loaded preset's values are the ones that count: the last switch is history.
        self._switch = None
        self.switch_note.dismiss()

    def _on_fusion_changed(self, index: int) -> None:
        self._apply({"fusion.name": self.fusion_combo.itemData(index)})

    def _on_search_changed(self, search: dict[str, str]) -> None:
        for form in self.forms.values():
            form.set_search(search)

    def _on_search_edited(self, key: str, text: str | None) -> None:
        """A search toggle or range: kept as typed (fixed later, if wrong), and checked now
        against the setting's bounds, a problem said under the row."""
        from ...core.sweep.space import parse_dimension
        self._session.set_search(key, text)
        if text is None:
            return
        try:
            parse_dimension(f"{key}={text}" if text else key, self._session.config)
        except ConfigError as exc:
            self.forms[key.rpartition(".")[0]].show_error(key, exc.detail)

    def _on_value_edited(self, key: str, value: Any) -> None:
        self._apply({key: value}, key)

    def _apply(self, values: dict[str, Any], key: str | None = None) -> None:
        try:
            self._session.set_values(values)
        except ConfigError as exc:
            self._refuse(key, exc.detail if exc.key == key else str(exc))

    def _refuse(self, key: str | None, message: str) -> None:
        """Put the Session's values back in every editor and say why the edit was refused."""
        self._on_config_changed(self._session.config)
        form = self.forms.get(key.rpartition(".")[0]) if key else None
        if form is not None:
            form.show_error(key, message)
        else:
            self.error_label.setText(message)
            self.error_label.setVisible(True)

    def _clear_errors(self) -> None:
        self.error_label.setVisible(False)
        for form in self.forms.values():
            form.clear_errors()


class Section(QWidget):
    """A heading that folds its content away (a one-widget QToolBox page that stays put)."""

    def __init__(self, title: str, content: QWidget, *, expanded: bool = True,
                 parent: QWidget | None = None):
        super().__init__(parent)
        # Not a checkable button: a checked one looks pressed, so open and closed headings
        # would not look alike.
        self.header = ElidedToolButton()  # cut with "…" in a narrow panel, whole in its tip
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = self.header.font()
        font.setBold(True)
        self.header.setFont(font)
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(content)
        content.setContentsMargins(14, 0, 0, 4)
        self.header.clicked.connect(lambda: self.set_expanded(not self._expanded))
        self.set_title(title)
        self._expanded = not expanded
        self.set_expanded(expanded)

    def set_title(self, title: str) -> None:
        self.header.setText(title)

    @property
    def expanded(self) -> bool:
        return self._expanded

    def set_expanded(self, expanded: bool) -> None:
        if expanded != self._expanded:
            self._expanded = expanded
            self._on_expanded_changed(expanded)

    def _on_expanded_changed(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.header.setToolTip("Click to hide" if expanded else "Click to show")
        self.content.setVisible(expanded)


def _section(cfg: C.ExperimentConfig, prefix: str) -> Any:
    """The dataclass a form edits: ``""`` is the top level (seed, device, description)."""
    obj: Any = cfg
    for part in filter(None, prefix.split(".")):
        obj = getattr(obj, part)
    return obj


def _algorithm_text(spec) -> str:
    text = f"{spec.description} Document section {spec.section}."
    return text + " Needs labelled data." if spec.needs_labels else text


def _scored_by(cfg: C.ExperimentConfig) -> str:
    """Which metric ranks runs of the configured algorithm (Compare, keep the best epoch)."""
    spec = ALGORITHMS[cfg.algorithm.name]
    labelled = spec.primary(cfg.algorithm.params, True)
    unlabelled = spec.primary(cfg.algorithm.params, False)
    if labelled is None:
        return " Scored by: no single metric (" + spec.no_primary.split(":")[0] + ")."
    if labelled == unlabelled:
        return f" Scored by: {title(labelled)}."
    return f" Scored by: {title(labelled)} with labels, {title(unlabelled)} without."


def _unavailable_hint(algorithm) -> str:
    n = sum(fusion_problem(algorithm.name, f) is not None for f in FUSIONS)
    if not n:
        return ""
    what = "1 fusion is greyed out: it does" if n == 1 else f"{n} fusions are greyed out: they do"
    return f"\n{what} not fit {algorithm.title} (hover for why)."


def _switch_text(switch: AlgorithmSwitch) -> str:
    """What a switch of algorithm changed, in a sentence or three."""
    spec = ALGORITHMS[switch.config.algorithm.name]
    if switch.changes:
        # no line break inside "old → new"
        changed = ", ".join(f"{_key_title(c.key)} {_value_text(c.old)}\u00a0→\u00a0"
                            f"{_value_text(c.new)}" for c in switch.changes)
        text = f"Applied the settings recommended for {spec.title}: {changed}."
    else:
        text = f"Your settings already match those recommended for {spec.title}."
    if switch.fusion is not None:
        text += (f" Fusion {FUSIONS[switch.fusion.old].title} → "
                 f"{FUSIONS[switch.fusion.new].title}: the previous one does not fit.")
    params = {"recommended": "the recommended ones",
              "remembered": "as you left them"}.get(switch.params_from)
    if params:
        text += f" Its parameters: {params}."
    return text


def _key_title(key: str) -> str:
    """A dotted key as the form labels it, for a sentence: ``optimizer.lr`` -> learning
    rate, ``optimizer.name`` -> optimiser."""
    section, _, name = key.rpartition(".")
    if name == "name":
        return dict(SECTIONS).get(section, section).split(":")[0].lower()
    info = next(i for i in describe(type(_section(C.ExperimentConfig(), section)))
                if i.name == name)
    text = info.title
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _hint_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(HINT_STYLE)
    return label


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    session = Session()
    session.config_changed.connect(lambda cfg: print(C.dumps(cfg)))
    panel = ModelPanel(session)
    panel.resize(380, 800)
    panel.show()
    sys.exit(app.exec())
