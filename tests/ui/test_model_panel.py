"""The Model panel and the generated hyperparameter form, used as a user would."""

from __future__ import annotations

import dataclasses
import html

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QLineEdit,
                               QSpinBox)

from workbench.core import config as C
from workbench.core.algorithms import ALGORITHMS, fusion_problem
from workbench.core.fusion import FUSIONS
from workbench.core.params import describe, param
from workbench.core.presets import load_preset
from workbench.ui.panels.model_panel import SECTIONS, ModelPanel
from workbench.ui.panels.param_form import ParamForm
from workbench.ui.session import Session


@pytest.fixture
def session():
    return Session()


@pytest.fixture
def panel(qtbot, session):
    widget = ModelPanel(session)
    qtbot.addWidget(widget)
    return widget


def _edits(panel: ModelPanel) -> list:
    """Every value_edited of every form, collected."""
    seen: list = []
    for form in panel.forms.values():
        form.value_edited.connect(lambda key, value: seen.append((key, value)))
    return seen


def _type_into(qtbot, spin, text: str) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


# ---------------------------------------------------------------- algorithm and fusion

def test_every_algorithm_is_listed_in_registry_order_and_selectable(panel, session):
    combo = panel.algorithm_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ALGORITHMS.names()
    assert [combo.itemText(i) for i in range(combo.count())] == \
        [spec.title for spec in ALGORITHMS.specs()]
    for i, spec in enumerate(ALGORITHMS.specs()):
        combo.setCurrentIndex(i)
        cfg = session.config
        assert cfg.algorithm.name == spec.name
        assert fusion_problem(spec.name, cfg.fusion.name) is None
        C.check(cfg)
        assert panel.forms["algorithm.params"].param_class is spec.params
        assert spec.description in panel.algorithm_info.text()
        assert spec.section in panel.algorithm_info.text()
        assert "Scored by: " in panel.algorithm_info.text()
        assert spec.title in panel.sections["algorithm.params"].header.text()
    combo.setCurrentIndex(combo.findData("classifier"))
    assert "Scored by: macro-F1." in panel.algorithm_info.text()


@pytest.mark.parametrize("algorithm", ALGORITHMS.names())
def test_invalid_fusions_are_disabled_with_the_registry_reason(panel, session, algorithm):
    session.set_values({"algorithm.name": algorithm,
                        "fusion.name": next(f for f in FUSIONS
                                            if fusion_problem(algorithm, f) is None)})
    model = panel.fusion_combo.model()
    assert [model.item(i).data(Qt.ItemDataRole.UserRole) for i in range(model.rowCount())] \
        == FUSIONS.names()
    for row, fusion in enumerate(FUSIONS.names()):
        item = model.item(row)
        reason = fusion_problem(algorithm, fusion)
        assert item.isEnabled() == (reason is None), fusion
        if reason is None:
            assert item.toolTip() == FUSIONS[fusion].description
        else:
            assert reason in item.toolTip()
            assert not (item.flags() & Qt.ItemFlag.ItemIsEnabled)


def test_switching_algorithm_moves_an_invalid_fusion_in_the_same_change(panel, session):
    session.set_values({"algorithm.name": "classifier", "fusion.name": "coattention"})
    configs: list[C.ExperimentConfig] = []
    session.config_changed.connect(configs.append)
    panel.algorithm_combo.setCurrentIndex(panel.algorithm_combo.findData("contrastive"))
    assert len(configs) == 1  # one set_values: never an invalid pair in between
    cfg = configs[0]
    assert (cfg.algorithm.name, cfg.fusion.name) == ("contrastive", "mean")
    assert panel.fusion_combo.currentData() == "mean"
    assert panel.forms["fusion.params"].param_class is FUSIONS["mean"].params
    C.check(cfg)


def test_switching_algorithm_keeps_a_valid_fusion(panel, session):
    session.set_values({"algorithm.name": "classifier", "fusion.name": "attention",
                        "fusion.params.temperature": 0.5})
    panel.algorithm_combo.setCurrentIndex(panel.algorithm_combo.findData("autoencoder"))
    cfg = session.config
    assert (cfg.algorithm.name, cfg.fusion.name) == ("autoencoder", "attention")
    assert cfg.fusion.params.temperature == 0.5


def test_choosing_a_fusion_rebuilds_its_form(panel, session):
    session.set_value("algorithm.name", "classifier")
    panel.fusion_combo.setCurrentIndex(panel.fusion_combo.findData("coattention"))
    assert session.config.fusion.name == "coattention"
    form = panel.forms["fusion.params"]
    assert [i.name for i in form.infos()] == [i.name for i in describe(FUSIONS["coattention"].params)]
    form.editor("layers").setValue(3)
    assert session.config.fusion.params.layers == 3


# ---------------------------------------------------------------- recommended settings

def _choose(panel: ModelPanel, algorithm: str) -> None:
    panel.algorithm_combo.setCurrentIndex(panel.algorithm_combo.findData(algorithm))


def test_switching_algorithm_applies_its_settings_and_keep_my_settings_restores(
        panel, session):
    before = load_preset("contrastive-emoji")
    session.replace_config(before, preset="contrastive-emoji")
    note = panel.switch_note
    assert note.isHidden()
    _choose(panel, "graph")
    cfg = session.config
    recommended = ALGORITHMS["graph"].recommended
    assert cfg.optimizer.lr == recommended["optimizer.lr"] == 0.005
    assert cfg.training.epochs == recommended["training.epochs"] == 100
    assert (cfg.optimizer.name, cfg.optimizer.schedule) == ("adam", "none")
    # the editors show it, and the note says what changed, with the way back
    assert panel.forms["optimizer"].editor("lr").value() == pytest.approx(0.005)
    assert panel.forms["training"].editor("epochs").value() == 100
    assert not note.isHidden() and not note.keep_button.isHidden()
    text = note.label.text()
    assert "Graph neural network" in text
    for part in ("learning rate 0.001\u00a0→\u00a00.005", "epochs 60\u00a0→\u00a0100",
                 "optimiser adamw\u00a0→\u00a0adam", "schedule cosine\u00a0→\u00a0none"):
        assert part in text, part

    panel.forms["training"].editor("batch_size").setValue(32)  # the user's own edit stays
    note.keep_button.click()
    cfg = session.config
    assert cfg.algorithm.name == "graph"
    assert cfg.optimizer == before.optimizer and cfg.training.epochs == 60
    assert cfg.training.batch_size == 32
    assert panel.forms["optimizer"].editor("lr").value() == pytest.approx(0.001)
    assert note.keep_button.isHidden() and "Kept your settings" in note.label.text()
    assert "learning rate 0.005" in note.label.text()  # what was recommended, to redo by hand
    note.close_button.click()
    assert note.isHidden()


def test_an_algorithms_parameters_survive_switching_away_and_back(panel, session):
    session.replace_config(load_preset("contrastive-emoji"), preset="contrastive-emoji")
    assert session.config.algorithm.params.init_temperature == 0.1
    panel.forms["algorithm.params"].editor("init_temperature").setValue(0.2)
    _choose(panel, "autoencoder")
    assert "parameters: the recommended ones" in panel.switch_note.label.text()
    assert session.config.algorithm.params.modality_dropout == 0.3  # its recommended value
    panel.forms["algorithm.params"].editor("corr_weight").setValue(0.5)
    _choose(panel, "contrastive")
    params = session.config.algorithm.params
    assert (params.init_temperature, params.learn_temperature) == (0.2, False)
    assert "parameters: as you left them" in panel.switch_note.label.text()
    _choose(panel, "autoencoder")
    assert session.config.algorithm.params.corr_weight == 0.5


def test_loading_a_preset_keeps_its_values_and_hides_the_note(panel, session):
    _choose(panel, "graph")
    assert not panel.switch_note.isHidden()
    preset = load_preset("graph-gat-emoji")
    preset.optimizer.lr = 0.002
    session.replace_config(preset, preset="mine")  # as the Presets panel loads one
    assert session.config == preset and panel.switch_note.isHidden()
    session.replace_config(load_preset("classifier-mean-emoji"), preset="classifier-mean-emoji")
    assert session.config == load_preset("classifier-mean-emoji")


# ---------------------------------------------------------------- hyperparameters

def test_every_section_has_a_form_with_every_field(panel, session):
    from workbench.ui.panels.model_panel import SECTION_FIELDS
    cfg = session.config
    for prefix, _ in SECTIONS:
        form = panel.forms[prefix]
        section = getattr(cfg, prefix) if prefix else cfg  # "" is the top level
        names = [i.name for i in describe(type(section))
                 if prefix not in SECTION_FIELDS or i.name in SECTION_FIELDS[prefix]]
        assert names and [i.name for i in form.infos()] == names
        assert form.values() == {n: getattr(section, n) for n in names}
    assert [i.name for i in panel.forms[""].infos()] == ["description", "seed", "device"]


def test_seed_is_editable(qtbot, panel, session):
    panel.forms[""].editor("seed").setValue(7)
    panel.forms[""].editor("seed").editingFinished.emit()
    assert session.config.seed == 7


def test_editing_a_spin_box_changes_the_session(qtbot, panel, session):
    epochs = panel.forms["training"].editor("epochs")
    epochs.setValue(7)
    assert session.config.training.epochs == 7
    _type_into(qtbot, epochs, "42")
    assert session.config.training.epochs == 42
    assert session.modified
    panel.forms["model"].editor("text_self_attention").setChecked(False)
    assert session.config.model.text_self_attention is False
    schedule = panel.forms["optimizer"].editor("schedule")
    schedule.setCurrentIndex(schedule.findData("cosine"))
    assert session.config.optimizer.schedule == "cosine"


def test_a_new_config_updates_the_editors_without_echo(panel, session):
    edits = _edits(panel)
    changes: list = []
    session.config_changed.connect(changes.append)
    cfg = session.config
    cfg.algorithm = C.AlgorithmConfig("autoencoder")
    cfg.algorithm.params.corr_loss = "infonce"
    cfg.fusion = C.FusionConfig("attention")
    cfg.training.epochs = 3
    cfg.optimizer.lr = 2.5e-4
    cfg.model.image_encoder = "patch"
    session.replace_config(cfg, preset="x")
    assert edits == [] and len(changes) == 1  # nothing echoed back into the session
    assert panel.algorithm_combo.currentData() == "autoencoder"
    assert panel.fusion_combo.currentData() == "attention"
    assert panel.forms["training"].editor("epochs").value() == 3
    assert panel.forms["optimizer"].editor("lr").value() == 2.5e-4
    assert panel.forms["model"].editor("image_encoder").currentData() == "patch"
    assert panel.forms["algorithm.params"].editor("corr_loss").currentData() == "infonce"
    assert not session.modified


def test_log_scale_floats_keep_small_values_and_step_along_1_2_5(panel, session):
    lr = panel.forms["optimizer"].editor("lr")
    assert isinstance(lr, QDoubleSpinBox)
    lr.setValue(1e-6)
    assert session.config.optimizer.lr == 1e-6 and lr.text() == "1e-06"
    lr.setValue(1e-3)
    lr.stepBy(1)
    assert session.config.optimizer.lr == 0.002
    lr.stepBy(1)
    assert session.config.optimizer.lr == 0.005
    lr.stepBy(-3)
    assert session.config.optimizer.lr == 0.0005
    dropout = panel.forms["model"].editor("dropout")
    dropout.stepBy(2)
    assert session.config.model.dropout == 0.12  # 0.1 + 2 x 0.01, no binary noise


def test_an_out_of_range_edit_is_refused_with_a_message(qtbot, panel, session):
    before = session.config
    form = panel.forms["training"]
    epochs = form.editor("epochs")
    _type_into(qtbot, epochs, "0")
    assert session.config == before
    assert epochs.value() == before.training.epochs
    assert "expected an integer from 1 to 100000" in form.errors()["epochs"]
    _type_into(qtbot, epochs, "5")  # a good edit clears the message
    assert session.config.training.epochs == 5 and form.errors() == {}

    lr = panel.forms["optimizer"].editor("lr")
    _type_into(qtbot, lr, "1e-9")
    assert session.config.optimizer.lr == before.optimizer.lr
    assert "expected a number from 1e-06 to 10" in panel.forms["optimizer"].errors()["lr"]


def test_an_edit_the_session_refuses_is_put_back_and_explained(panel, session):
    session.set_values({"model.image_encoder": "patch", "algorithm.name": "classifier",
                        "fusion.name": "coattention"})
    before = session.config
    model = panel.forms["model"]
    model.editor("patch_size").setValue(5)  # 5 does not divide the image size 32
    assert session.config == before
    assert model.editor("patch_size").value() == 8
    assert "does not divide" in model.errors()["patch_size"]
    fusion = panel.forms["fusion.params"]
    fusion.editor("heads").setValue(3)  # 3 does not divide embed_dim 64
    assert session.config.fusion.params.heads == 4
    assert fusion.editor("heads").value() == 4
    assert "does not divide model.embed_dim" in fusion.errors()["heads"]
    assert "patch_size" not in model.errors()  # only the latest refusal is shown
    model.editor("patch_size").setValue(16)
    assert session.config.model.patch_size == 16 and fusion.errors() == {}


def test_tooltips_give_help_range_and_key(panel):
    form = panel.forms["optimizer"]
    for info in form.infos():
        tip = form.editor(info.name).toolTip()
        assert html.escape(info.help, quote=False) in tip
        assert html.escape(info.allowed(), quote=False) in tip
        assert f"optimizer.{info.name}" in tip


# ---------------------------------------------------------------- the form alone

@dataclasses.dataclass
class Throwaway:
    flag: bool = param(True, "A switch.")
    count: int = param(3, "A count.", min=2, max=9)
    unbounded: int = param(-4, "Any integer.")
    ratio: float = param(0.25, "A fraction.", min=0.0, max=0.5)
    rate: float = param(0.01, "A rate.", min=1e-5, max=1.0, log=True, label="Step rate")
    mode: str = param("b", "A choice.", choices=("a", "b", "c"))
    note: str = param("hi", "Free text.")
    nested: dict = dataclasses.field(default_factory=dict)  # not a scalar: no editor


def test_a_form_for_any_dataclass_has_an_editor_per_field(qtbot):
    form = ParamForm("demo", Throwaway)
    qtbot.addWidget(form)
    form.set_values(Throwaway())
    kinds = {"flag": QCheckBox, "count": QSpinBox, "unbounded": QSpinBox,
             "ratio": QDoubleSpinBox, "rate": QDoubleSpinBox, "mode": QComboBox,
             "note": QLineEdit}
    assert [i.name for i in form.infos()] == list(kinds)
    for name, kind in kinds.items():
        assert isinstance(form.editor(name), kind), name
    assert (form.editor("count").minimum(), form.editor("count").maximum()) == (2, 9)
    assert form.editor("unbounded").minimum() < -1_000_000
    assert (form.editor("ratio").minimum(), form.editor("ratio").maximum()) == (0.0, 0.5)
    assert form.editor("rate").minimum() == 1e-5
    mode = form.editor("mode")
    assert [mode.itemText(i) for i in range(mode.count())] == ["a", "b", "c"]
    assert form.editor("flag").text() == "Flag"
    assert form.values() == {"flag": True, "count": 3, "unbounded": -4, "ratio": 0.25,
                             "rate": 0.01, "mode": "b", "note": "hi"}
    assert "Step rate" in [label.text() for label in form.findChildren(QLabel)]


def test_the_form_reports_edits_as_dotted_keys_and_never_echoes(qtbot):
    form = ParamForm("demo.params", Throwaway)
    qtbot.addWidget(form)
    edits: list = []
    form.value_edited.connect(lambda key, value: edits.append((key, value)))
    form.set_values(Throwaway(flag=False, count=9, ratio=0.5, rate=1e-5, mode="c", note="x"))
    assert edits == []
    assert form.values()["rate"] == 1e-5 and form.values()["note"] == "x"
    form.editor("flag").setChecked(True)
    form.editor("count").setValue(4)
    form.editor("ratio").setValue(0.125)
    form.editor("mode").setCurrentIndex(0)
    note = form.editor("note")
    note.selectAll()
    qtbot.keyClicks(note, "hello world")
    qtbot.keyClick(note, Qt.Key.Key_Return)
    assert edits == [("demo.params.flag", True), ("demo.params.count", 4),
                     ("demo.params.ratio", 0.125), ("demo.params.mode", "a"),
                     ("demo.params.note", "hello world")]
    form.editor("count").setValue(100)  # clamped to the range by the spin box itself
    assert edits[-1] == ("demo.params.count", 9)


def test_the_form_rebuilds_for_another_class(qtbot):
    @dataclasses.dataclass
    class Empty:
        pass

    form = ParamForm("x", Throwaway)
    qtbot.addWidget(form)
    form.set_values(Empty())
    assert form.param_class is Empty and form.infos() == [] and form.values() == {}
    form.rebuild(Throwaway)
    assert len(form.infos()) == 7


def test_another_modes_parameters_are_greyed_out_and_say_when_they_count(panel, session):
    session.set_values({"algorithm.name": "adversarial", "fusion.name": "mean"})
    form = panel.forms["algorithm.params"]
    generate = ["noise_dim", "mismatch_weight", "spectral_norm", "projection"]
    align = ["adv_weight", "pair_weight"]
    both = ["mode", "d_steps", "label_smoothing"]

    def enabled() -> dict[str, bool]:
        return {n: form.editor(n).isEnabled() for n in generate + align + both}

    assert enabled() == {**dict.fromkeys(generate + both, True), **dict.fromkeys(align, False)}
    label = next(lab for lab in form.findChildren(QLabel) if lab.text() == "Adv weight")
    assert not label.isEnabled()
    assert "<i>Used only when mode is 'align'.</i>" in form.editor("adv_weight").toolTip()
    assert "Used only" not in form.editor("d_steps").toolTip()
    form.editor("mode").setCurrentIndex(form.editor("mode").findData("align"))  # the user
    assert session.config.algorithm.params.mode == "align"
    assert enabled() == {**dict.fromkeys(align + both, True), **dict.fromkeys(generate, False)}
    assert label.isEnabled()
    session.set_value("algorithm.params.mode", "generate")  # a preset, an undo
    assert enabled()["projection"] and not enabled()["pair_weight"]
    # Greyed out is not forgotten: the value is kept and saved.
    assert session.config.algorithm.params.pair_weight == 1.0


def test_the_graph_heads_and_the_infonce_temperature_count_only_with_their_choice(panel,
                                                                                  session):
    session.set_values({"algorithm.name": "graph", "algorithm.params.conv": "gcn"})
    form = panel.forms["algorithm.params"]
    assert not form.editor("heads").isEnabled()
    session.set_value("algorithm.params.conv", "gat")
    assert form.editor("heads").isEnabled()
    session.set_values({"algorithm.name": "autoencoder", "fusion.name": "mean"})
    form = panel.forms["algorithm.params"]
    assert not form.editor("temperature").isEnabled()
    form.editor("corr_loss").setCurrentIndex(form.editor("corr_loss").findData("infonce"))
    assert form.editor("temperature").isEnabled()


def test_the_split_memory_limit_and_streaming_are_set_in_the_model_tab(panel, session):
    form = panel.forms["data"]
    assert [i.name for i in form.infos()] == ["val_fraction", "test_fraction", "split_seed",
                                              "max_memory_gb", "streaming", "shuffle_buffer",
                                              "stream_workers"]
    editor = form.editor("split_seed")
    editor.setValue(7)
    editor.editingFinished.emit()
    assert session.config.data.split_seed == 7
    combo = form.editor("streaming")
    combo.setCurrentIndex(combo.findText("on"))
    assert session.config.data.streaming == "on"
    editor = form.editor("stream_workers")
    editor.setValue(0)
    editor.editingFinished.emit()
    assert session.config.data.stream_workers == 0
    assert "split" in panel.sections["data"].header.text()
    assert "streaming" in panel.sections["data"].header.text()
