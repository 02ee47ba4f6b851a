"""The Presets panel, with its dialogs answered by the test (never shown)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workbench.core import config as C
from workbench.core import presets as P
from workbench.core.paths import user_presets_dir
from workbench.ui.panels.model_panel import ModelPanel
from workbench.ui.panels.presets_panel import PresetsPanel
from workbench.ui.session import Session

BUILTINS = [p.name for p in P.list_presets() if p.builtin]


class Dialogs:
    """The answers the user would give; every question and error is recorded."""

    def __init__(self):
        self.names: list[str | None] = []
        # answers to "Describe the preset"; none queued: OK on the text as offered
        self.descriptions: list[str | None] = []
        self.open_path: str | None = None
        self.save_path: str | None = None
        self.confirm = True
        self.asked: list[str] = []
        self.errors: list[tuple[str, str]] = []


@pytest.fixture
def dialogs(monkeypatch):
    d = Dialogs()

    def ask_name(self, title, default):
        d.asked.append(f"name: {title} [{default}]")
        return d.names.pop(0)

    def confirm(self, text):
        d.asked.append(f"confirm: {text}")
        return d.confirm

    def ask_description(self, title, label, text):
        d.asked.append(f"description: {label} [{text}]")
        return d.descriptions.pop(0) if d.descriptions else text

    monkeypatch.setattr(PresetsPanel, "_ask_name", ask_name)
    monkeypatch.setattr(PresetsPanel, "_ask_description", ask_description)
    monkeypatch.setattr(PresetsPanel, "_ask_open_path", lambda self: d.open_path)
    monkeypatch.setattr(PresetsPanel, "_ask_save_path", lambda self, default: d.save_path)
    monkeypatch.setattr(PresetsPanel, "_confirm", confirm)
    monkeypatch.setattr(PresetsPanel, "_show_error",
                        lambda self, title, text: d.errors.append((title, text)))
    return d


@pytest.fixture
def session():
    return Session()


@pytest.fixture
def panel(qtbot, session, dialogs):
    widget = PresetsPanel(session)
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def model(qtbot, session):
    widget = ModelPanel(session)
    qtbot.addWidget(widget)
    return widget


def _load(panel: PresetsPanel, name: str) -> None:
    assert panel.select(name), name
    panel.buttons["Load"].click()


def _save_as(panel: PresetsPanel, dialogs: Dialogs, name: str) -> None:
    dialogs.names.append(name)
    panel.buttons["Save as…"].click()


def _item(panel: PresetsPanel, name: str):
    return next(panel.list.item(i) for i in range(panel.list.count())
                if (info := panel.list.item(i).data(Qt.ItemDataRole.UserRole)) is not None
                and info.name == name)


def test_builtins_are_listed_marked_and_described(panel):
    assert BUILTINS
    listed = panel.presets()
    assert [p.name for p in listed] == BUILTINS and all(p.builtin for p in listed)
    texts = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert texts[0] == "Built-in (read-only)" and "Your presets" in texts
    for info in listed:
        tip = _item(panel, info.name).toolTip()
        assert info.description in tip and "read-only" in tip
    panel.select(BUILTINS[0])
    assert panel.description.text() == listed[0].description


@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_loads_through_the_panel(panel, session, name):
    _load(panel, name)
    assert session.config == P.load_preset(name)
    assert session.preset_name == name and not session.modified
    assert panel.current_label.text() == f"Current: {name}"
    assert _item(panel, name).font().bold()


# Showing a window on the offscreen platform warns that it cannot propagate size hints.
@pytest.mark.qt_log_ignore("does not support propagateSizeHints")
def test_double_click_loads(qtbot, panel, session):
    panel.show()
    qtbot.waitExposed(panel)
    item = _item(panel, BUILTINS[-1])
    rect = panel.list.visualItemRect(item)
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert session.preset_name == BUILTINS[-1]


def test_gui_to_toml_to_gui_is_exact(qtbot, panel, model, session, dialogs):
    _load(panel, BUILTINS[0])
    algo = model.algorithm_combo
    algo.setCurrentIndex(algo.findData("autoencoder"))
    model.fusion_combo.setCurrentIndex(model.fusion_combo.findData("attention"))
    forms = model.forms
    forms["algorithm.params"].editor("corr_loss").setCurrentIndex(1)
    forms["algorithm.params"].editor("corr_weight").setValue(0.37)
    forms["fusion.params"].editor("temperature").setValue(0.3)
    forms["optimizer"].editor("lr").setValue(3.3e-4)
    forms["optimizer"].editor("name").setCurrentIndex(2)
    forms["model"].editor("text_self_attention").setChecked(False)
    forms["preprocess"].editor("max_tokens").setValue(17)
    forms["training"].editor("epochs").setValue(11)
    forms["training"].editor("augment_images").setChecked(True)
    expected = session.config
    expected.description = "An autoencoder with attention fusion."
    shown = {prefix: form.values() for prefix, form in forms.items()}
    shown[""]["description"] = expected.description
    assert session.modified and panel.current_label.text().endswith("*")

    dialogs.descriptions.append(expected.description)
    _save_as(panel, dialogs, "mine")
    assert dialogs.errors == []
    assert (user_presets_dir() / "mine.toml").is_file()
    assert session.preset_name == "mine" and not session.modified
    _load(panel, BUILTINS[-1] if len(BUILTINS) > 1 else BUILTINS[0])
    assert session.config != expected
    _load(panel, "mine")

    assert session.config == expected
    assert {prefix: form.values() for prefix, form in forms.items()} == shown
    assert (algo.currentData(), model.fusion_combo.currentData()) == ("autoencoder", "attention")
    assert P.load_preset("mine") == expected


def test_the_unsaved_mark_follows_edits_and_saves(panel, model, session, dialogs):
    _load(panel, BUILTINS[0])
    assert not panel.buttons["Save"].isEnabled()  # a built-in is never overwritten
    model.forms["training"].editor("epochs").setValue(3)
    assert panel.current_label.text() == f"Current: {BUILTINS[0]} *"
    _save_as(panel, dialogs, "mine")
    assert panel.current_label.text() == "Current: mine"
    assert panel.buttons["Save"].isEnabled()
    model.forms["training"].editor("epochs").setValue(4)
    assert panel.current_label.text() == "Current: mine *"
    panel.buttons["Save"].click()
    assert panel.current_label.text() == "Current: mine"
    assert P.load_preset("mine").training.epochs == 4
    model.forms["training"].editor("epochs").setValue(5)  # loading asks before discarding
    dialogs.confirm = False
    _load(panel, BUILTINS[0])
    assert session.preset_name == "mine" and session.config.training.epochs == 5
    assert any("Discard the unsaved changes to mine" in q for q in dialogs.asked)


def test_saving_a_changed_preset_asks_for_a_description(panel, model, session, dialogs):
    name = "contrastive-emoji"
    old = P.load_preset(name).description
    _load(panel, name)
    _save_as(panel, dialogs, "copy")  # unchanged: its description is still true
    assert not any(q.startswith("description") for q in dialogs.asked)
    assert P.load_preset("copy").description == old

    _load(panel, name)
    model.algorithm_combo.setCurrentIndex(model.algorithm_combo.findData("classifier"))
    dialogs.descriptions.append(None)  # Cancel: nothing saved
    _save_as(panel, dialogs, "mine")
    assert not (user_presets_dir() / "mine.toml").exists() and session.modified
    [question] = [q for q in dialogs.asked if q.startswith("description")]
    assert f"differ from {name}'s" in question
    assert f"[[Edit me: settings changed from {name}] {old}]" in question  # prefilled, marked

    _save_as(panel, dialogs, "mine")  # OK without editing: the mark is kept, never false
    assert P.load_preset("mine").description.startswith(
        f"[Edit me: settings changed from {name}] ")
    assert not session.modified

    model.forms["training"].editor("epochs").setValue(3)
    dialogs.descriptions.append("  Classifier of emoji groups, 3 epochs.  ")
    _save_as(panel, dialogs, "mine2")
    assert P.load_preset("mine2").description == "Classifier of emoji groups, 3 epochs."
    assert session.config.description == "Classifier of emoji groups, 3 epochs."

    _load(panel, name)
    model.forms[""].editor("description").setText("Rewritten already.")
    model.forms[""].editor("description").editingFinished.emit()
    model.forms["training"].editor("epochs").setValue(3)
    asked = len(dialogs.asked)
    _save_as(panel, dialogs, "mine3")  # the user rewrote it already: not asked again
    assert not any(q.startswith("description") for q in dialogs.asked[asked:])
    assert P.load_preset("mine3").description == "Rewritten already."


def test_builtins_cannot_be_renamed_deleted_or_overwritten(panel, session, dialogs):
    name = BUILTINS[0]
    text = P.find(name).read_text()
    panel.select(name)
    assert not panel.buttons["Rename…"].isEnabled()
    assert not panel.buttons["Delete"].isEnabled()
    assert panel.buttons["Load"].isEnabled() and panel.buttons["Export…"].isEnabled()
    panel.rename_selected()
    panel.delete_selected()
    assert dialogs.asked == []
    _save_as(panel, dialogs, name)
    assert dialogs.errors and "built-in" in dialogs.errors[-1][1]
    assert P.find(name).read_text() == text
    assert not (user_presets_dir() / f"{name}.toml").exists()


def test_a_bad_name_is_refused(panel, dialogs):
    _save_as(panel, dialogs, "../escape")
    assert dialogs.errors and "preset name" in dialogs.errors[-1][1]
    assert [p.name for p in panel.presets()] == BUILTINS


def test_rename_follows_the_loaded_preset(panel, session, dialogs):
    _save_as(panel, dialogs, "mine")
    panel.select("mine")
    dialogs.names.append("yours")
    panel.buttons["Rename…"].click()
    assert not (user_presets_dir() / "mine.toml").exists()
    assert (user_presets_dir() / "yours.toml").is_file()
    assert [p.name for p in panel.presets() if not p.builtin] == ["yours"]
    assert panel.selected_name() == "yours"
    assert session.preset_name == "yours" and panel.current_label.text() == "Current: yours"


def test_rename_onto_an_existing_preset_is_refused(panel, dialogs):
    _save_as(panel, dialogs, "a")
    _save_as(panel, dialogs, "b")
    panel.select("a")
    dialogs.names.append("b")
    panel.rename_selected()
    assert dialogs.errors and "already exists" in dialogs.errors[-1][1]
    assert {p.name for p in panel.presets() if not p.builtin} == {"a", "b"}


def test_delete_asks_first(panel, dialogs):
    _save_as(panel, dialogs, "mine")
    panel.select("mine")
    dialogs.confirm = False
    panel.buttons["Delete"].click()
    assert (user_presets_dir() / "mine.toml").is_file()
    dialogs.confirm = True
    panel.buttons["Delete"].click()
    assert not (user_presets_dir() / "mine.toml").exists()
    assert [p.name for p in panel.presets()] == BUILTINS
    assert panel.current_label.text() == "Current: mine (deleted)"


def test_import_a_valid_and_an_invalid_file(panel, dialogs, tmp_path):
    good = tmp_path / "shared run.toml"
    cfg = C.apply_overrides(C.ExperimentConfig(), ["training.epochs=9"])
    good.write_text(C.dumps(cfg))
    dialogs.open_path = str(good)
    panel.buttons["Import…"].click()
    assert dialogs.errors == []
    assert P.load_preset("shared run") == cfg
    assert panel.selected_name() == "shared run"

    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("[training]", "[training]\nepoch = 3"))
    dialogs.open_path = str(bad)
    panel.buttons["Import…"].click()
    assert len(dialogs.errors) == 1 and "training.epoch" in dialogs.errors[0][1]
    assert sorted(p.name for p in user_presets_dir().iterdir()) == ["shared run.toml"]

    dialogs.open_path = str(good)  # the same name again: asks before replacing
    dialogs.confirm = False
    panel.import_file()
    assert any("Replace your preset 'shared run'" in q for q in dialogs.asked)


def test_import_under_a_builtin_name_asks_for_another(panel, dialogs, tmp_path):
    clash = tmp_path / f"{BUILTINS[0]}.toml"
    clash.write_text(P.find(BUILTINS[0]).read_text())
    dialogs.open_path = str(clash)
    dialogs.names.append("copy of builtin")
    panel.import_file()
    assert dialogs.errors == []
    assert P.load_preset("copy of builtin") == P.load_preset(BUILTINS[0])


def test_export(panel, dialogs, tmp_path):
    panel.select(BUILTINS[0])
    dialogs.save_path = str(tmp_path / "out")  # no suffix: .toml is added
    panel.buttons["Export…"].click()
    assert dialogs.errors == []
    assert (tmp_path / "out.toml").read_text() == P.find(BUILTINS[0]).read_text()


def test_a_broken_user_file_is_listed_and_refused(panel, session, dialogs):
    user_presets_dir().mkdir(parents=True, exist_ok=True)
    (user_presets_dir() / "broken.toml").write_text("[training\n")
    panel.refresh()
    before = session.config
    _load(panel, "broken")
    assert dialogs.errors and "not valid TOML" in dialogs.errors[-1][1]
    assert session.config == before and session.preset_name == ""
