"""Compare fusions in the GUI: a sequence of runs on one worker thread, the table and curves
that fill in as it goes, Stop, failures; and saving a plot as PNG or SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image

from fixtures import make_image_folder, make_npz, tiny_config
from workbench.core.evaluation.compare import fusion_variants
from workbench.core.data import load_pairs
from workbench.core.training.events import EpochEnded, FitEnded
from workbench.ui.plot_export import export_plot
from workbench.ui.plots.compare_view import CompareView, fusion_colour
from workbench.ui.worker import EventBuffer, TrainingController


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=4)


def _record(ctl):
    """Every sequence signal in arrival order."""
    log = []
    ctl.run_started.connect(lambda i, n, cfg: log.append(("run_started", i, cfg.fusion.name)))
    ctl.started.connect(lambda s: log.append(("started", s.fusion)))
    ctl.epochs_ended.connect(lambda es: log.extend(("epoch", e.epoch) for e in es))
    ctl.run_ended.connect(lambda end: log.append(("run_ended", end.status)))
    for name in ("finished", "stopped", "failed"):
        getattr(ctl, name).connect(lambda end, name=name: log.append((name, end.status)))
    return log


def _view(qtbot, ctl, configs):
    view = CompareView()
    qtbot.addWidget(view)
    view.connect_controller(ctl)
    view.reset(configs)
    view.resize(900, 650)
    view.show()
    return view


def _cells(view, col):
    return [view.table.item(r, col).text() for r in range(view.table.rowCount())]


def test_a_sequence_fills_the_table_and_the_curves(qtbot, folder, tmp_path):
    cfg = tiny_config(folder, "algorithm.name=classifier", "training.epochs=2")
    configs = fusion_variants(cfg, ["early", "attention", "gated"])
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    ctl = TrainingController()
    log = _record(ctl)
    view = _view(qtbot, ctl, configs)
    assert _cells(view, 1) == ["waiting"] * 3
    run_dirs = [tmp_path / c.fusion.name for c in configs]
    with qtbot.waitSignal(ctl.finished, timeout=120_000) as done:
        ctl.start_many(configs, table, run_dirs, preset="shapes")
    qtbot.wait(50)  # nothing may follow the end

    expected = []
    for c in configs:
        expected += [("run_started", configs.index(c), c.fusion.name), ("started", c.fusion.name),
                     ("epoch", 1), ("epoch", 2), ("run_ended", "finished")]
    assert log == expected + [("finished", "finished")]
    assert done.args[0].status == "finished" and "3 finished" in done.args[0].reason
    assert done.args[0].run_dir == str(tmp_path)
    assert not ctl.running
    for d in run_dirs:
        assert (d / "run.json").is_file() and (d / "metrics.jsonl").is_file()

    assert _cells(view, 1) == ["finished"] * 3
    assert view.table.horizontalHeaderItem(2).text() == "accuracy"
    assert all(v for v in _cells(view, 2)) and all(v for v in _cells(view, 6))
    names = _cells(view, 0)
    assert sum(n.startswith("★ ") for n in names) == 1
    assert [n.removeprefix("★ ") for n in names] == ["early", "attention", "gated"]
    best = view.winner()
    assert names[[r["fusion"] for r in view.rows()].index(best["fusion"])].startswith("★")
    assert "Winner" in view.status.text() and best["fusion"] in view.status.text()
    assert len(view.curves) == 3
    for i, curve in view.curves.items():
        x, y = curve.getData()
        assert list(x) == [1.0, 2.0] and np.isfinite(y).all()
        assert curve.opts["pen"].color().name() == fusion_colour(configs[i].fusion.name)
    assert [label.text for _, label in view.legend.items] == ["early", "attention", "gated"]

    png = export_plot(view.plot, tmp_path / "curves.png")
    with Image.open(png) as im:
        assert im.size[0] > 200
    grab = view.grab()
    assert not grab.isNull()


def test_stop_ends_the_whole_sequence(qtbot, folder, tmp_path):
    cfg = tiny_config(folder, "algorithm.name=classifier", "training.epochs=1000")
    configs = fusion_variants(cfg, ["mean", "gated", "tensor"])
    ctl = TrainingController()
    log = _record(ctl)
    view = _view(qtbot, ctl, configs)
    made = []

    def run_dir(index, cfg):  # called as each run starts
        made.append(index)
        return tmp_path / cfg.fusion.name

    with qtbot.waitSignal(ctl.epochs_ended, timeout=60_000):
        ctl.start_many(configs, None, run_dir)
    with qtbot.waitSignal(ctl.stopped, timeout=20_000) as end:
        ctl.stop()
    qtbot.wait(300)
    assert end.args[0].status == "stopped"
    assert [x for x in log if x[0] == "run_started"] == [("run_started", 0, "mean")]
    assert log[-2:] == [("run_ended", "stopped"), ("stopped", "stopped")]
    assert sum(x[0] in ("finished", "stopped", "failed") for x in log) == 1
    assert _cells(view, 1) == ["stopped", "not run", "not run"]
    assert view.winner() is None and "Stopped" in view.status.text()
    assert made == [0] and [p.name for p in tmp_path.iterdir()] == ["mean"]
    assert end.args[0].run_dir == str(tmp_path)


def test_a_failed_run_is_reported_and_the_sequence_goes_on(qtbot, tmp_path):
    # Co-attention refuses feature vectors: that run fails while the others train.
    cfg = tiny_config(make_npz(tmp_path / "f.npz"), "algorithm.name=classifier")
    configs = fusion_variants(cfg, ["mean", "coattention", "gated"])
    ctl = TrainingController()
    log = _record(ctl)
    view = _view(qtbot, ctl, configs)
    with qtbot.waitSignal(ctl.finished, timeout=60_000) as end:
        ctl.start_many(configs, None)
    assert [x[1] for x in log if x[0] == "run_ended"] == ["finished", "failed", "finished"]
    assert "1 failed" in end.args[0].reason
    assert _cells(view, 1) == ["finished", "failed", "finished"]
    assert "co-attention needs caption tokens" in view.table.item(1, 1).toolTip()
    assert view.winner()["fusion"] in ("mean", "gated")


def test_unreadable_data_ends_the_sequence_as_failed(qtbot, tmp_path):
    configs = fusion_variants(tiny_config(tmp_path / "missing.csv",
                                          "algorithm.name=classifier"), ["mean", "gated"])
    ctl = TrainingController()
    log = _record(ctl)
    view = _view(qtbot, ctl, configs)
    with qtbot.waitSignal(ctl.failed, timeout=30_000) as end:
        ctl.start_many(configs, None)
    qtbot.wait(50)
    assert "no such file" in end.args[0].reason
    assert log == [("run_started", 0, "mean"), ("run_ended", "failed"), ("failed", "failed")]
    assert _cells(view, 1) == ["failed", "not run"]
    assert "Failed" in view.status.text()


def test_single_runs_leave_the_view_alone(qtbot, folder):
    ctl = TrainingController()
    view = _view(qtbot, ctl, [])
    with qtbot.waitSignal(ctl.finished, timeout=60_000):
        ctl.start(tiny_config(folder), None)
    assert view.table.rowCount() == 0 and not view.curves


def test_a_sequence_the_view_was_not_told_of_resets_it(qtbot):
    view = CompareView()
    qtbot.addWidget(view)
    cfg = tiny_config("x.csv", "algorithm.name=classifier")
    a, b = fusion_variants(cfg, ["mean", "gated"])
    for _ in range(2):  # twice: the second sequence starts from a clean view
        view.start_run(0, 2, a)
        view.add_epochs([EpochEnded(1, 3, {}, {"accuracy": 0.5, "macro_f1": 0.4}, 1.0)])
        view.end_run(FitEnded("finished", "", 1, 3, {"accuracy": 0.5}, 1.0))
        view.start_run(1, 2, b)
        view.add_epochs([EpochEnded(1, 3, {}, {"accuracy": 0.7}, 1.0)])
        assert view.rows()[1]["status"] == "running · epoch 1/1"
        view.end_run(FitEnded("finished", "", 1, 3, {"accuracy": 0.7}, 1.0))
        view.end_sequence(FitEnded("finished", "", 1, 3, {}, 2.0))
        assert [r["fusion"] for r in view.rows()] == ["mean", "gated"]
        assert view.winner()["fusion"] == "gated" and len(view.curves) == 2


def test_buffer_keeps_runs_apart():
    """Events of two runs drained in one tick stay in order, each run in its segment."""
    buf = EventBuffer()
    e = EpochEnded(1, 1, {}, {}, 0.0)
    buf.run_started(0, 2, "a")
    buf.on_epoch_end(None, e)
    buf.run_ended(FitEnded("finished", "", 1, 1, {}, 0.0))
    buf.run_started(1, 2, "b")
    buf.on_epoch_end(None, e)
    segments = buf.drain_segments()
    assert [(s.run_start[0], len(s.epochs), s.run_end is not None) for s in segments] == \
        [(0, 1, True), (1, 1, False)]
    assert not buf.drain_segments()


# ---------------------------------------------------------------- plot export

@pytest.mark.parametrize("kind", ["item", "plot_widget", "layout"])
def test_export_plot_png_and_svg(qtbot, tmp_path, kind):
    x = np.arange(20.0)
    if kind == "layout":
        widget = pg.GraphicsLayoutWidget()
        widget.addPlot().plot(x, x ** 0.5, pen="b")
    else:
        widget = pg.PlotWidget()
        widget.plot(x, x ** 0.5, pen="b")
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    target = widget.getPlotItem() if kind == "item" else widget
    png = export_plot(target, tmp_path / "p.png")
    with Image.open(png) as im:
        im.load()
        assert im.format == "PNG" and im.size[0] >= 400
    svg = export_plot(target, tmp_path / "p.SVG")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("path") for el in root.iter())


def test_export_plot_refuses_other_suffixes(qtbot, tmp_path):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    with pytest.raises(ValueError, match=".png or .svg"):
        export_plot(widget, tmp_path / "p.pdf")
    assert not (tmp_path / "p.pdf").exists()
