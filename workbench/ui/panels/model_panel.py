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
                               QToolButton, QVBoxLayout, QWidget)

from ...core import config as C
from ...core.algorithms import ALGORITHMS, fusion_problem, valid_fusions
from ...core.errors import ConfigError
from ...core.evaluation.names import title
from ...core.fusion import FUSIONS
from ..session import Session
from . import model_chooser  # noqa: F401 (registers the model keys' chooser)
from .param_form import ERROR_STYLE, HINT_STYLE, ParamForm

# The plain config sections edited here, in the order shown, with their headings; which
# fields each has comes from its dataclass. (The data section belongs to the Data panel.)
SECTIONS = (("model", "Model: encoders and sizes"), ("preprocess", "Preprocessing"),
            ("optimizer", "Optimiser"), ("training", "Training"),
            ("pretrained", "Pretrained models"),
            ("data", "Split: validation, test, split seed"),
            ("", "Run: seed, device, description"))
# Sections edited here in part: the split settings of data (the rest is the Data panel's).
SECTION_FIELDS = {"data": ("val_fraction", "test_fraction", "split_seed")}
_OPEN = {"algorithm.params", "fusion.params", "training"}  # expanded at first


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

        top = QFormLayout()
        top.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        top.addRow("Algorithm", self.algorithm_combo)
        top.addRow(self.algorithm_info)
        top.addRow("Fusion", self.fusion_combo)
        top.addRow(self.fusion_info)
        top.addRow(self.error_label)

        self.forms: dict[str, ParamForm] = {
            "algorithm.params": ParamForm("algorithm.params", type(cfg.algorithm.params)),
            "fusion.params": ParamForm("fusion.params", type(cfg.fusion.params)),
        }
        for name, _ in SECTIONS:
            self.forms[name] = ParamForm(name, type(_section(cfg, name)),
                                         only=SECTION_FIELDS.get(name))
        self.sections: dict[str, Section] = {}
        body = QWidget()
        column = QVBoxLayout(body)
        column.addLayout(top)
        for prefix, form in self.forms.items():
            form.value_edited.connect(self._on_value_edited)
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
        outer.addWidget(scroll)

        self.algorithm_combo.currentIndexChanged.connect(self._on_algorithm_changed)
        self.fusion_combo.currentIndexChanged.connect(self._on_fusion_changed)
        session.config_changed.connect(self._on_config_changed)
        self._on_config_changed(cfg)

    # -- session -> widgets -----------------------------------------------------------
    def _on_config_changed(self, cfg: C.ExperimentConfig) -> None:
        self._clear_errors()
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
        for prefix, form in self.forms.items():
            form.set_values(_section(cfg, prefix))  # rebuilds when the params class changed
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
        name = self.algorithm_combo.itemData(index)
        values: dict[str, Any] = {"algorithm.name": name}
        fusion = self._session.config.fusion.name
        if fusion_problem(name, fusion):
            # One set_values call, so the config is never an invalid pair in between.
            choices = valid_fusions(name)
            if not choices:
                self._refuse(None, f"no fusion strategy works with {name}")
                return
            values["fusion.name"] = choices[0]
        self._apply(values)

    def _on_fusion_changed(self, index: int) -> None:
        self._apply({"fusion.name": self.fusion_combo.itemData(index)})

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
        self.header = QToolButton()
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
