"""The Retrieval tab as a user drives it: a typed caption lists the planted image first (after
the debounce, without pressing anything), picking an image lists its caption first, top-k
and the split choice apply, the R@K table is filled, a checkpoint's index is built off the
GUI thread, and a model that cannot embed typed text says so and disables the box."""

from __future__ import annotations

import threading

import pytest
from fixtures import planted_index, tiny_config
from workbench.core.data import load_dataset
from workbench.core.data.text import tokenize
from workbench.core.evaluation.retrieval import RetrievalIndex
from workbench.core.training import Trainer
from workbench.ui.plots.retrieval_view import RetrievalView

PLANTED = "a blue circle number 3"  # a caption of the fixture folder
WAIT = 30_000


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "contrastive"
    cfg = tiny_config(folder, "algorithm.name=contrastive", "training.epochs=3")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds, run_dir=run)
    assert trainer.fit().status == "finished"
    return RetrievalIndex(trainer.model, ds), run


@pytest.fixture
def view(qtbot):
    v = RetrievalView()
    qtbot.addWidget(v)
    v.resize(1100, 700)
    v.show()
    yield v
    v.shutdown()


def test_typed_caption_returns_the_planted_image_first(qtbot, view, trained):
    index = planted_index(trained[0])
    row = index.table.captions.index(PLANTED)
    image = int(index.image_of_pair[row])
    query = "Blue circle, number 3!"
    index.image_vectors[image] = index.query_vector(
        index.dataset.vocab.encode(tokenize(query)))
    view.set_index(index)
    with qtbot.waitSignal(view.text_searched, timeout=WAIT) as got:
        qtbot.keyClicks(view.query_edit, query)  # no Enter: the debounce searches
    assert got.args[0][0].image == image
    assert view.result_images()[0] == image
    assert len(view.result_images()) == view.k_spin.value()
    first = view.results.item(0)
    assert PLANTED[:10] in first.text() and not first.icon().isNull()  # caption, thumbnail
    view.k_spin.setValue(3)
    with qtbot.waitSignal(view.text_searched, timeout=WAIT):
        pass
    assert len(view.result_images()) == 3 and view.result_images()[0] == image


def test_picked_image_lists_its_caption_first(qtbot, view, trained):
    index = planted_index(trained[0])
    row = index.table.captions.index(PLANTED)
    image = int(index.image_of_pair[row])
    index.text_vectors[row] = index.image_vectors[image]
    view.set_index(index)
    with qtbot.waitSignal(view.image_searched, timeout=WAIT):
        view.pick_image(image)
    assert view.caption_texts()[0] == PLANTED
    assert view.captions.item(0, 2).font().bold()  # its own caption stands out
    assert "image" in view.chosen.text()


def test_the_split_choice_limits_the_images(qtbot, view, trained):
    index = trained[0]
    view.set_index(index)
    view.query_edit.setText("green circle")
    view.k_spin.setValue(100)
    view.scope_combo.setCurrentIndex(view.scope_combo.findText("validation"))
    result = view.search()
    assert {h.split for h in result} == {"val"}
    assert len(view.result_images()) == len(index.dataset.indices("val"))


def test_recall_table_and_a_checkpoint_built_in_the_background(qtbot, view, trained):
    _, run = trained
    seen = []
    original = RetrievalIndex.from_checkpoint.__func__

    def spy(cls, *args, **kwargs):
        seen.append(threading.get_ident())
        return original(cls, *args, **kwargs)
    RetrievalIndex.from_checkpoint = classmethod(spy)
    try:
        with qtbot.waitSignal(view.index_built, timeout=WAIT):
            view.set_run(run)
    finally:
        RetrievalIndex.from_checkpoint = classmethod(original)
    assert seen and seen[0] != threading.get_ident()  # built off the GUI thread
    assert {"t2i_r1", "t2i_r10", "i2t_r10", "t2i_median_rank", "i2t_median_rank",
            "chance_t2i_r1"} <= set(view.recall_values)
    assert view.recall.item(0, 0) is not None and "%" in view.recall.item(0, 0).text()
    # the chance rows: R@1 of guessing among the split's images
    images = view.recall_values["images"]
    assert view.recall.item(2, 0).text() == f"{100 / images:.1f}%"
    assert view.query_edit.isEnabled()
    # the test split: the tiny run held none out, and says so
    view.recall_split.setCurrentIndex(view.recall_split.findText("Test split"))
    assert view.recall_values == {} and "no test split" in view.recall_title.text()
    view.recall_split.setCurrentIndex(view.recall_split.findText("Validation split"))
    assert view.recall_values


def test_tied_results_say_so(qtbot, view, trained):
    from fixtures import planted_index
    index, _ = trained
    planted = planted_index(index)
    planted.image_vectors[1] = planted.image_vectors[0]  # two images, one vector: a tie
    planted.text_vectors[0] = planted.image_vectors[0]
    view.set_index(planted)
    result = planted.search_caption(0, k=3)
    assert result.hits[0].tied == 1 and result.hits[1].tied == 1 and result.hits[2].tied == 0
    picked = view.pick_image(0)
    assert picked is not None
    view.query_edit.setText("")
    from workbench.ui.plots.retrieval_view import _own_rank, _tie_note
    assert "tied with 1 other" in _tie_note(result.hits[0])
    assert "on average" in _own_rank(1.5)


def test_a_missing_checkpoint_is_reported_not_fatal(qtbot, view, tmp_path):
    with qtbot.waitSignal(view.index_failed, timeout=WAIT) as got:
        view.set_run(tmp_path / "no-such-run")
    assert "no-such-run" in got.args[0] or "last.pt" in got.args[0]
    assert not view.query_edit.isEnabled()
    assert view.search() is None


def test_while_a_run_trains_the_tab_says_when_its_model_can_be_searched(view, trained):
    from workbench.ui.plots.retrieval_view import NO_MODEL, TRAINING
    assert view.header.text() == NO_MODEL
    view.note_running(True)
    assert view.header.text() == TRAINING and not view.query_edit.isEnabled()
    view.note_running(False)  # ended with nothing to search (failed before a checkpoint)
    assert view.header.text() == NO_MODEL
    index, _ = trained
    view.set_index(index)  # an earlier run's model stays searchable during the next run
    view.note_running(True)
    assert view.index is index and view.query_edit.isEnabled()
    assert view.header.text() != TRAINING
