"""Zero-shot CLIP in the GUI: the Compare tab's row (scored off the GUI thread once the runs
end, the same numbers as the core's, the baseline sentence under the verdict), the Retrieval
tab's "Search with" choice (CLIP's own towers search; the results say which model), and an
image model with no text tower: the row says why, the choice is marked unavailable."""

from __future__ import annotations

import pytest

from fixtures import tiny_config
from workbench.core.data import load_dataset
from workbench.core.evaluation import compare, zero_shot
from workbench.core.evaluation.compare import fusion_variants
from workbench.core.evaluation.retrieval import RetrievalIndex
from workbench.core.evaluation.zero_shot_index import ZeroShotIndex
from workbench.core.training import Trainer
from workbench.core.training.events import FitEnded
from workbench.ui.plots.compare_view import FUSION, RUNS, STATUS, TEST, VAL, CompareView
from workbench.ui.plots.retrieval_sources import TRAINED, ZERO_SHOT
from workbench.ui.plots.retrieval_view import RetrievalView

WAIT = 60_000


def _config(pairs, model, *overrides):
    return tiny_config(pairs, f"model.image_model={model}", "data.val_fraction=0.25",
                       "data.test_fraction=0.25", *overrides)


def _cells(view, col):
    return [view.table.item(r, col).text() for r in range(view.table.rowCount())]


def _play(view, configs, values):
    """A comparison as the controller feeds it: each run reaches its macro-F1 value."""
    for i, (cfg, value) in enumerate(zip(configs, values)):
        view.start_run(i, len(configs), cfg)
        metrics = {"macro_f1": value, "accuracy": value}
        view.end_run(FitEnded("finished", "", 1, 4, metrics, 1.0, scores={
            "val": {"metrics": metrics, "chance": {"macro_f1": 0.5}, "spread": 0.01,
                    "primary": "macro_f1", "size": 4},
            "test": {"metrics": metrics, "size": 4}}, primary="macro_f1"))
    view.end_sequence(FitEnded("finished", "done", 1, 4, {}, 2.0))


@pytest.fixture
def compare_view(qtbot):
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(1000, 650)
    view.show()
    yield view
    view.shutdown()


def test_the_compare_row_is_scored_when_the_runs_end(qtbot, compare_view, pairs, clip):
    view = compare_view
    configs = fusion_variants(_config(pairs, clip, "algorithm.name=classifier"),
                              ["late", "mean"])
    view.baseline.checkbox.setChecked(True)
    assert view.baseline_note.text().startswith("zero-shot CLIP: scored with the next")
    view.reset(configs)
    assert _cells(view, FUSION)[-1] == "zero-shot CLIP"
    assert _cells(view, STATUS)[-1] == "scored when the runs end"  # not while they train
    _play(view, configs, [0.9, 0.95])
    qtbot.waitUntil(lambda: view.baseline.state == "done", timeout=WAIT)
    row = view.baseline_row()
    # the core's numbers, on the split and metric of the fusions
    expected = zero_shot.score(configs[0])
    val = expected["scores"]["val"]["metrics"]
    assert row["metric"] == "macro_f1" and row["mean"] == pytest.approx(val["macro_f1"])
    assert view.table.rowCount() == 3
    assert _cells(view, FUSION) == ["late", "★ mean", "zero-shot CLIP"]
    assert _cells(view, RUNS)[-1] == "—" and _cells(view, STATUS)[-1] == "no training"
    assert _cells(view, VAL)[-1] == compare.mean_text(val["macro_f1"], 0.0)
    assert _cells(view, TEST)[-1] == compare.mean_text(
        expected["scores"]["test"]["metrics"]["macro_f1"], 0.0)
    assert view.table.item(2, FUSION).font().italic()
    assert "Baseline: mean beats zero-shot CLIP" in view.status.text()
    assert view.baseline_note.text() == (f'zero-shot CLIP: {clip}, from a folder, no '
                                         'training; label prompts "a photo of {label}."')
    assert view.baseline_line.isVisible() and view.baseline_line.value() == row["mean"]
    # a new prompt is scored again (the encoding of the captions and images is reused)
    view.baseline.prompt_edit.setText("{label} things")
    view.baseline.prompt_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: view.baseline.state == "done"
                    and view.baseline.result["prompt"] == "{label} things", timeout=WAIT)
    assert "{label} things" in view.baseline_note.text()
    view.baseline.checkbox.setChecked(False)
    assert view.table.rowCount() == 2 and not view.baseline_line.isVisible()


def test_no_two_tower_model_gives_a_row_saying_why(qtbot, compare_view, pairs, tiny_vit):
    view = compare_view
    configs = fusion_variants(_config(pairs, tiny_vit, "algorithm.name=classifier"), ["late"])
    view.reset(configs)
    view.baseline.checkbox.setChecked(True)
    _play(view, configs, [0.9])
    assert view.baseline.state == "unavailable"  # said at once: no thread, no weights read
    assert _cells(view, STATUS)[-1] == "unavailable" and _cells(view, VAL)[-1] == ""
    assert "is a vit model, not a two-tower" in view.baseline_note.text()
    assert "Baseline: zero-shot CLIP is unavailable: " in view.status.text()
    view.baseline.prompt_edit.setText("no placeholder")
    view.baseline.prompt_edit.editingFinished.emit()
    assert view.baseline.state == "failed" and "has no {label}" in view.baseline_note.text()


# ------------------------------------------------------------------ Retrieval
@pytest.fixture(scope="module")
def trained(pairs, clip):
    cfg = _config(pairs, clip, "algorithm.name=contrastive", "training.epochs=1")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds)
    assert trainer.fit().status == "finished"
    return RetrievalIndex(trainer.model, ds, about={"run": "tiny-contrastive"})


@pytest.fixture
def retrieval_view(qtbot):
    view = RetrievalView()
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    yield view
    view.shutdown()


def test_the_retrieval_tab_searches_with_zero_shot_clip(qtbot, retrieval_view, trained):
    view = retrieval_view
    assert not view.source_combo.model().item(1).isEnabled()  # no data, no run yet
    view.set_index(trained)
    assert view.source_combo.model().item(1).isEnabled()
    assert view.source_combo.currentText() == TRAINED
    assert "trained model" in view.searched_with.text()
    with qtbot.waitSignal(view.index_built, timeout=WAIT) as built:
        view.source_combo.setCurrentText(ZERO_SHOT)
    index = built.args[0]
    assert isinstance(index, ZeroShotIndex) and view.index is index
    assert "zero-shot CLIP" in view.header.text() and "no training" in view.header.text()
    assert view.searched_with.text().startswith("Results of <b>zero-shot CLIP</b>")
    # the same split and R@K as the core scores it on
    encoded = index.encoded
    want = zero_shot.split_metrics(encoded, "val")
    assert view.recall_values["t2i_r1"] == pytest.approx(want["t2i_r1"])
    # a typed caption goes through CLIP's text tower: its closest image by hand
    query = "a warm picture"
    vector = encoded.clip.encode_texts([query])[0]
    best = int((encoded.image.numpy() @ vector).argmax())
    with qtbot.waitSignal(view.text_searched, timeout=WAIT) as got:
        view.query_edit.setText(query)
        view.search()
    assert got.args[0][0].image == best and view.result_images()[0] == best
    assert view.query_edit.isEnabled()
    # back to the trained model: its own index, no rebuilding
    with qtbot.assertNotEmitted(view.index_failed):
        view.source_combo.setCurrentText(TRAINED)
    assert view.index is trained and "trained model" in view.searched_with.text()
    with qtbot.waitSignal(view.index_built, timeout=1000):  # the built one is kept
        view.source_combo.setCurrentText(ZERO_SHOT)
    assert view.index is index


def test_no_two_tower_model_marks_the_choice_unavailable(qtbot, retrieval_view, pairs, tiny_vit):
    view = retrieval_view
    view.set_config(_config(pairs, tiny_vit))
    item = view.source_combo.model().item(1)
    assert not item.isEnabled() and item.text() == "zero-shot CLIP (unavailable)"
    assert "is a vit model, not a two-tower" in view.source_combo.toolTip()
