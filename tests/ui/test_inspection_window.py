"""Inspecting what was learned, through the whole window: after a run the Runs tab lists it,
the Embeddings tab has its snapshots, Retrieval searches with its model; a run reopens with
its curves, attention and embeddings; Continue trains it further; Compare fusions trains one
run per fusion; the File menu exports embeddings, metrics, plots."""

from __future__ import annotations

import csv

import numpy as np

from fixtures import tiny_config
from workbench.core.algorithms import valid_fusions

WAIT = 90_000


def train(qtbot, win, *overrides):
    cfg = tiny_config(win.session.table.source, "training.snapshot_every=1", *overrides)
    win.session.replace_config(cfg, preset="")
    with qtbot.waitSignal(win.controller.finished, timeout=WAIT) as ended:
        win.start_training()
    qtbot.waitUntil(lambda: not win.controller.running, timeout=WAIT)
    return ended.args[0]


def test_a_run_shows_in_runs_embeddings_and_retrieval(qtbot, window):
    with qtbot.waitSignal(window.retrieval_view.index_built, timeout=WAIT):
        end = train(qtbot, window, "algorithm.name=contrastive", "fusion.name=mean",
                    "training.epochs=2")
    assert window.current_run is not None and str(window.current_run) == end.run_dir
    ids = [r.id for r in window.runs_view.runs()]
    assert window.current_run.name in ids
    assert window.embedding_view.epochs == [1, 2]
    # Typing a caption of the data finds its own image among the first results.
    view = window.retrieval_view
    view.query_edit.setText("a blue circle number 3")
    results = view.search()
    assert results is not None and len(view.result_images()) > 0


def test_reopening_a_run_restores_curves_attention_and_embeddings(qtbot, window):
    end = train(qtbot, window, "algorithm.name=classifier", "fusion.name=coattention",
                "training.epochs=2")
    window.training_view.reset()
    window.embedding_view.reset()
    window.attention_view.reset()
    run = next(r for r in window.runs_view.runs() if str(r.path) == end.run_dir)
    window.runs_view.select([run])
    window.runs_view.open_selected()
    assert window.tabs.currentWidget() is window.views.page("embedding")
    assert window.embedding_view.epochs == [1, 2]
    assert window.attention_view.placeholder_text is None  # the heatmap is back
    assert window.attention_view.coattention.values.size > 0
    steps = window.training_view.loss_plot.panels[0].steps
    assert len(steps["loss"].series) > 0
    assert f"Opened {run.id}: 2 epochs, 2 embedding snapshots, attention" in \
        window.statusBar().currentMessage()


def test_continue_trains_further_from_the_checkpoint(qtbot, window):
    end = train(qtbot, window, "algorithm.name=classifier", "fusion.name=late")
    run = next(r for r in window.runs_view.runs() if str(r.path) == end.run_dir)
    with qtbot.waitSignal(window.controller.started, timeout=WAIT) as started:
        window.continue_run(run, 2)
    assert started.args[0].start_epoch == 2 and started.args[0].epochs == 3
    with qtbot.waitSignal(window.controller.finished, timeout=WAIT) as ended:
        pass
    assert ended.args[0].epoch == 3
    assert ended.args[0].run_dir != end.run_dir  # a copy: the original stays as it was
    qtbot.waitUntil(lambda: not window.controller.running, timeout=WAIT)
    continued = [r for r in window.runs_view.runs() if r.continued_from == run.id]
    assert continued and continued[0].epochs_done == 3


def test_compare_fusions_trains_one_run_per_valid_fusion(qtbot, window):
    cfg = tiny_config(window.session.table.source, "algorithm.name=classifier")
    window.session.replace_config(cfg, preset="")
    before = len(window.runs_view.runs())
    with qtbot.waitSignal(window.controller.finished, timeout=4 * WAIT):
        window.training_bar.compare_button.click()
        assert window.tabs.currentWidget() is window.views.page("compare")
    qtbot.waitUntil(lambda: not window.controller.running, timeout=WAIT)
    fusions = valid_fusions("classifier")
    rows = window.compare_view.rows()
    assert [r["fusion"] for r in rows] == list(fusions)
    assert all(r["status"] == "finished" for r in rows)
    # One epoch on the tiny data: the verdict is the core's over the same runs (here every
    # fusion is at chance, so there is no winner), and the tab says it.
    from workbench.core.algorithms import ALGORITHMS
    from workbench.core.evaluation import compare
    core = compare.verdict(rows, no_primary=ALGORITHMS["classifier"].no_primary)
    assert window.compare_view.verdict() == core and core.reason
    assert window.compare_view.winner() == core.winner
    assert len(window.runs_view.runs()) == before + len(fusions)


def test_file_menu_exports_embeddings_metrics_and_plot(qtbot, window, tmp_path, monkeypatch):
    train(qtbot, window, "algorithm.name=contrastive", "fusion.name=mean")
    exports = window.exports
    monkeypatch.setattr(exports, "ask_save", lambda *a: str(tmp_path / "emb.csv"))
    path = exports.export_embeddings()
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["modality"] for r in rows} >= {"text", "image"}
    assert all(r["caption"] for r in rows)
    monkeypatch.setattr(exports, "ask_save", lambda *a: str(tmp_path / "emb.npz"))
    with np.load(exports.export_embeddings(), allow_pickle=False) as z:
        assert z["text"].shape[0] == z["image"].shape[0] > 0
    monkeypatch.setattr(exports, "ask_save", lambda *a: str(tmp_path / "metrics.csv"))
    assert "epoch" in exports.export_metrics().read_text("utf-8").splitlines()[0]
    window.select_tab("training")
    monkeypatch.setattr(exports, "ask_save", lambda *a: str(tmp_path / "loss.svg"))
    assert exports.export_plot().read_text("utf-8").lstrip().startswith("<?xml")
    monkeypatch.setattr(exports, "ask_save", lambda *a: "")  # cancelled: nothing written
    assert exports.export_metrics() is None
