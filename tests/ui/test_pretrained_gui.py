"""Pretrained models in the GUI, used as a user would, with the real models: the Model panel's
chooser lists MiniLM (its installed package) and a tiny ViT from a Hugging Face cache and
takes a folder; the Data panel computes MiniLM's (and a tiny ViT's) features of the loaded
pairs in the background with a progress bar that moves, reads them back the second time,
stops on Cancel keeping nothing, and says in the panel when a model is not on this machine."""

from __future__ import annotations

import shutil
import time

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

pytest.importorskip("transformers")

from data_helpers import COLORS, save_image, write_csv  # noqa: E402
from workbench.core.pretrained.cache import cache_dir  # noqa: E402
from workbench.core.pretrained.locate import MINILM  # noqa: E402
from workbench.ui.panels import features_row as F  # noqa: E402
from workbench.ui.panels.data_panel import DataPanel  # noqa: E402
from workbench.ui.panels.model_chooser import ADD_FOLDER, ModelChooser  # noqa: E402
from workbench.ui.panels.model_panel import ModelPanel  # noqa: E402
from workbench.ui.session import Session  # noqa: E402

TIMEOUT = 120_000
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WORDS = ["red", "green", "blue", "small", "large", "round", "square", "bright", "dark", "soft"]



@pytest.fixture
def hub(tmp_path, monkeypatch, tiny_vit):
    """A Hugging Face hub cache holding the tiny ViT as ``someone/tiny-vit``, in the hub's
    layout (models--org--name/refs/main -> snapshots/<commit>), where huggingface_hub looks."""
    import huggingface_hub.constants as constants
    folder = tmp_path / "hub"
    repo = folder / "models--someone--tiny-vit"
    shutil.copytree(tiny_vit, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def captions_csv(tmp_path_factory):
    """320 captioned pairs (five batches of MiniLM): long enough for a progress bar to move
    and for Cancel to land, short enough to encode in seconds."""
    root = tmp_path_factory.mktemp("captions")
    images = [save_image(root / f"{i}.png", color).name for i, color in enumerate(COLORS)]
    rows = [(images[i % len(images)],
             f"a {WORDS[i % 10]} {WORDS[(i // 10) % 10]} thing number {i}",
             "warm" if i % 2 else "cool") for i in range(320)]
    return write_csv(root / "pairs.csv", ["image", "text", "label"], rows)


def chooser(panel: ModelPanel, name: str) -> ModelChooser:
    editor = panel.forms["model"].editor(name)
    assert isinstance(editor, ModelChooser)
    return editor


def pick(chooser: ModelChooser, text: str) -> None:
    """Choose the item that starts with ``text``, as a click on it does."""
    index = next((i for i, t in enumerate(items(chooser)) if t.startswith(text)), -1)
    assert index >= 0, f"{text!r} not in {items(chooser)}"
    chooser.combo.setCurrentIndex(index)
    chooser.combo.activated.emit(index)


def items(chooser: ModelChooser) -> list[str]:
    return [chooser.combo.itemText(i) for i in range(chooser.combo.count())]


# ---------------------------------------------------------------- the model chooser

def test_the_chooser_lists_the_models_on_this_machine_first(qtbot, hub):
    session = Session()
    panel = ModelPanel(session)
    qtbot.addWidget(panel)
    panel.sections["model"].set_expanded(True)
    panel.show()
    text, image = chooser(panel, "text_model"), chooser(panel, "image_model")
    assert text.names() == [MINILM] and image.names() == ["someone/tiny-vit"]
    # each with where it is; a separator, then "Add folder…"
    assert items(text) == [f"{MINILM}   (installed package)", "", ADD_FOLDER]
    assert text.combo.currentText() == MINILM  # the field shows the name
    # the default image model is not here: listed after what is, and said when it counts
    assert items(image) == ["someone/tiny-vit   (Hugging Face cache)",
                            "openai/clip-vit-base-patch32   (not on this machine)", "",
                            ADD_FOLDER]
    assert image.hint.isHidden()  # greyed out: the images use the CNN
    session.set_value("model.image_encoder", "pretrained")
    assert image.isEnabled() and not image.hint.isHidden()
    assert image.hint.text().startswith("Not found on this machine")
    assert "huggingface-cli download openai/clip-vit-base-patch32" in image.hint.toolTip()

    pick(image, "someone/tiny-vit")
    assert session.config.model.image_model == "someone/tiny-vit"
    assert image.combo.currentText() == "someone/tiny-vit" and image.hint.isHidden()
    pick(image, "someone/tiny-vit")  # the same again: the field still shows the name
    assert image.combo.currentText() == "someone/tiny-vit"
    # a name may still be typed
    image.combo.lineEdit().selectAll()
    qtbot.keyClicks(image.combo.lineEdit(), "someone/other")
    qtbot.keyClick(image.combo.lineEdit(), Qt.Key.Key_Return)
    assert session.config.model.image_model == "someone/other"
    # a preset naming another model shows it
    session.set_value("model.text_model", "someone/tiny-vit")
    assert text.combo.currentText() == "someone/tiny-vit"


def test_add_folder_takes_a_model_folder_and_says_why_not_otherwise(qtbot, hub, tiny_vit,
                                                                    tmp_path, monkeypatch):
    session = Session()
    session.set_values({"model.text_encoder": "pretrained", "model.image_encoder": "pretrained"})
    panel = ModelPanel(session)
    qtbot.addWidget(panel)
    chosen = {"folder": str(tiny_vit)}
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *args, **kwargs: chosen["folder"])
    form = panel.forms["model"]

    pick(chooser(panel, "image_model"), ADD_FOLDER)
    assert session.config.model.image_model == str(tiny_vit.resolve())
    assert chooser(panel, "image_model").combo.currentText() == str(tiny_vit.resolve())
    assert form.errors() == {}

    pick(chooser(panel, "text_model"), ADD_FOLDER)  # an image model as the text model
    assert session.config.model.text_model == MINILM  # unchanged
    assert "this is an image model; choose it as the image model" in form.errors()["text_model"]
    assert chooser(panel, "text_model").combo.currentText() == MINILM

    chosen["folder"] = str(tmp_path)  # no model at all
    pick(chooser(panel, "image_model"), ADD_FOLDER)
    assert "not a model folder (no config.json)" in form.errors()["image_model"]
    assert session.config.model.image_model == str(tiny_vit.resolve())

    chosen["folder"] = ""  # the dialog cancelled: nothing changes
    pick(chooser(panel, "image_model"), ADD_FOLDER)
    assert session.config.model.image_model == str(tiny_vit.resolve())

    # the folder added is listed from now on, after the models found by name
    again = ModelPanel(Session())
    qtbot.addWidget(again)
    assert chooser(again, "image_model").names() == ["someone/tiny-vit",
                                                     str(tiny_vit.resolve())]
    assert chooser(again, "text_model").names() == [MINILM]


# ---------------------------------------------------------------- the Data panel's features

@pytest.fixture
def panel(qtbot):
    session = Session()
    session.set_values({"preprocess.image_size": 16, "device": "cpu"})
    p = DataPanel(session)
    qtbot.addWidget(p)
    p.resize(380, 700)
    p.show()
    yield p
    assert p.shutdown(TIMEOUT)


def load(qtbot, panel, source):
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT):
        panel.load_source(str(source))
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)


def ended(qtbot, row):
    """A blocker whose wait() returns when the row's next computation has ended."""
    return qtbot.waitSignal(row.busy_changed, timeout=TIMEOUT,
                            check_params_cb=lambda busy: busy is False)


def settled(blocker, row, state):
    blocker.wait()
    assert row.state == state, row.status.text()


def entries() -> list[str]:
    return sorted(p.name for p in cache_dir().iterdir()) if cache_dir().is_dir() else []


def test_features_are_computed_in_the_background_then_read_back(qtbot, panel, captions_csv):
    row = panel.features
    load(qtbot, panel, captions_csv)
    assert row.isHidden()  # the words are learned: nothing to compute
    values, gaps, last = [], [], [time.perf_counter()]

    def beat():  # the GUI thread's heartbeat while the model runs
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
    heartbeat = QTimer(interval=20, timeout=beat)
    row.progress.valueChanged.connect(values.append)
    heartbeat.start()
    done = ended(qtbot, row)
    panel.session.set_value("model.text_encoder", "pretrained")
    qtbot.waitUntil(lambda: row.busy, timeout=TIMEOUT)
    assert row.isVisible() and row.state == F.RUNNING and row.cancel_button.isVisible()
    qtbot.waitUntil(lambda: "captions" in row.status.text(), timeout=TIMEOUT)
    assert "Computing with all-MiniLM-L6-v2: captions" in row.status.text()
    assert row.status.text().endswith("/ 320")
    settled(done, row, F.DONE)
    heartbeat.stop()
    assert row.status.text() == "all-MiniLM-L6-v2: 320 captions encoded and cached"
    assert any(0 < v < 320 for v in values), values  # the bar moved on its way
    assert max(gaps) < 1.0  # the window answered all along
    assert len(entries()) == 1 and row.progress.isHidden() and row.compute_button.isHidden()

    done = ended(qtbot, row)
    panel.reload()  # the same pairs again: read back, no model run
    settled(done, row, F.DONE)
    assert row.status.text() == "all-MiniLM-L6-v2: 320 captions read from the cache"

    panel.session.set_value("model.text_encoder", "bow")  # the words again: nothing to show
    qtbot.waitUntil(lambda: row.isHidden(), timeout=TIMEOUT)


def test_image_features_through_a_vit_folder(qtbot, panel, captions_csv, tiny_vit):
    row = panel.features
    load(qtbot, panel, captions_csv)
    done = ended(qtbot, row)
    panel.session.set_values({"model.image_encoder": "pretrained",
                              "model.image_model": str(tiny_vit)})
    settled(done, row, F.DONE)
    assert row.status.text() == f"{tiny_vit.name}: 12 images encoded and cached"
    done = ended(qtbot, row)
    panel.session.set_value("model.text_encoder", "pretrained")  # both sides: both lines
    settled(done, row, F.DONE)
    assert row.status.text().splitlines() == [
        "all-MiniLM-L6-v2: 320 captions encoded and cached",
        f"{tiny_vit.name}: 12 images read from the cache"]


def test_cancel_stops_it_and_keeps_nothing(qtbot, panel, captions_csv):
    row = panel.features
    load(qtbot, panel, captions_csv)
    done = ended(qtbot, row)
    panel.session.set_value("model.text_encoder", "pretrained")
    qtbot.waitUntil(lambda: row._progress.get()[2] > 0, timeout=TIMEOUT)  # a first batch
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    settled(done, row, F.CANCELLED)
    assert row.status.text().startswith("Cancelled: not computed")
    assert entries() == []  # not even a temporary folder
    assert row.compute_button.isVisible() and row.progress.isHidden()
    panel.session.set_value("training.epochs", 3)  # not started again by another edit...
    qtbot.wait(50)
    assert not row.busy and row.state == F.CANCELLED
    done = ended(qtbot, row)
    qtbot.mouseClick(row.compute_button, Qt.MouseButton.LeftButton)  # ...but on asking
    settled(done, row, F.DONE)
    assert len(entries()) == 1


def test_a_training_start_takes_the_computation_over(qtbot, panel, captions_csv):
    """Training computes missing features itself (progress in the training bar): a
    computation running here stops rather than do the same work beside it, and says so."""
    row = panel.features
    load(qtbot, panel, captions_csv)
    done = ended(qtbot, row)
    panel.session.set_value("model.text_encoder", "pretrained")
    qtbot.waitUntil(lambda: row._progress.get()[2] > 0, timeout=TIMEOUT)
    row.hand_over()
    settled(done, row, F.CANCELLED)
    assert row.status.text().startswith("Handed over to the training run")
    row.hand_over()  # nothing running: nothing to do
    assert not row.busy


def test_a_model_not_on_this_machine_is_said_in_the_panel(qtbot, panel, captions_csv,
                                                          tmp_path, monkeypatch):
    import huggingface_hub.constants as constants
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    row = panel.features
    load(qtbot, panel, captions_csv)
    done = ended(qtbot, row)
    panel.session.set_values({"model.text_encoder": "pretrained",
                              "model.text_model": "someone/no-such-model"})
    settled(done, row, F.FAILED)
    text = row.status.text()
    assert "someone/no-such-model: no such model on this machine" in text
    assert "Traceback" not in text and row.compute_button.text() == "Try again"
    assert panel.error_box is None and not any(
        isinstance(w, QMessageBox) for w in panel.findChildren(QMessageBox))
    done = ended(qtbot, row)
    panel.session.set_value("model.text_model", MINILM)  # another model: computed at once
    settled(done, row, F.DONE)


def test_closing_while_it_computes_joins_the_thread(qtbot, captions_csv):
    session = Session()
    session.set_values({"preprocess.image_size": 16, "device": "cpu",
                        "model.text_encoder": "pretrained"})
    panel = DataPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    load(qtbot, panel, captions_csv)
    qtbot.waitUntil(lambda: panel.features.busy, timeout=TIMEOUT)
    panel.close()  # closeEvent: cancel and wait
    assert not panel.features.busy and not panel.busy
    assert entries() == []
    session.set_value("model.text_model", "all-MiniLM-L6-v2")  # closed: starts nothing
    qtbot.wait(50)
    assert not panel.features.busy


def test_model_keys_have_a_chooser_registered_and_other_keys_do_not(qtbot):
    from workbench.ui.panels.model_chooser import MODEL_KEYS
    from workbench.ui.panels.param_form import EDITORS
    assert {k: EDITORS[k].keywords["kind"] for k in MODEL_KEYS} == \
        {"model.text_model": "text", "model.image_model": "image"}
    panel = ModelPanel(Session())
    qtbot.addWidget(panel)
    choosers = [name for name in ("text_model", "image_model", "text_encoder", "hidden_dim")
                if isinstance(panel.forms["model"].editor(name), ModelChooser)]
    assert choosers == ["text_model", "image_model"]
    assert panel.forms["model"].values()["text_model"] == MINILM
