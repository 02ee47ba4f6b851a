"""Compare fusions in the GUI: a sequence of runs on one worker thread, the table (one row per
fusion, mean ± standard deviation over its seeds) and curves that fill in as it goes, the
verdict (a winner only when one beats the seeds' noise and chance), Stop, failures; the
seeds control driving the main window's comparison; and saving a plot as PNG or SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image

from fixtures import make_image_folder, make_npz, tiny_config
from workbench.core.evaluation import compare
from workbench.core.evaluation.compare import fusion_variants
from workbench.core.data import load_pairs
from workbench.core.training.events import EpochEnded, FitEnded
from workbench.ui.plot_export import export_plot
from workbench.ui.plots.compare_view import (AT_CHANCE_GREY, FUSION, RUNS, SECONDARY, STATUS,
                                             TEST, VAL, CompareView, fusion_colour)
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


def _view(qtbot, ctl=None, configs=()):
    view = CompareView()
    qtbot.addWidget(view)
    if ctl is not None:
        view.connect_controller(ctl)
    view.reset(configs)
    view.resize(900, 650)
    view.show()
    return view


def _cells(view, col):
    return [view.table.item(r, col).text() for r in range(view.table.rowCount())]


def _highlighted(view):
    """The fusions whose row is marked as the winner: a star, bold, the green background."""
    marked = []
    for r in range(view.table.rowCount()):
        item = view.table.item(r, FUSION)
        if item.text().startswith("★") or item.font().bold() or \
                item.background().style() != pg.QtCore.Qt.BrushStyle.NoBrush:
            marked.append(item.text().removeprefix("★ "))
    return marked


def _pen_widths(view):
    return {view.configs[i].fusion.name: curve.opts["pen"].widthF()
            for i, curve in view.curves.items()}


# ---------------------------------------------------------------- fed by hand

def _configs(algorithm="classifier", fusions=("mean", "gated"), repeats=1, *overrides):
    return fusion_variants(tiny_config("x.csv", f"algorithm.name={algorithm}", "seed=7",
                                       "training.epochs=2", *overrides),
                           list(fusions), repeats=repeats)


def _end(value, *, metric="macro_f1", chance=0.25, spread=0.02, test=True):
    """A run's FitEnded as the Trainer reports it: its validation and test scores, the
    primary metric's chance level and spread (none for a generating GAN: ``chance=None``)."""
    metrics = {metric: value}
    if metric == "macro_f1":
        metrics["accuracy"] = value + 0.1
    scores = {"test": {"metrics": {metric: value - 0.01}, "size": 40} if test
              else {"metrics": {}, "size": 0}}
    if chance is not None:
        scores["val"] = {"metrics": metrics, "chance": {metric: chance}, "spread": spread,
                         "primary": metric, "size": 40}
    return FitEnded("finished", "", 2, 8, metrics, 1.5, scores=scores,
                    primary=metric if chance is not None else None)


def _epochs(value, metric="macro_f1"):
    return [EpochEnded(1, 4, {"loss": 1.0}, {metric: value / 2}, 0.7),
            EpochEnded(2, 8, {"loss": 0.5}, {metric: value}, 1.4)]


def _play(view, configs, values, **end):
    """Feed the view a whole sequence, as the controller's signals would: run i of
    ``configs`` reaches ``values[i]``. Returns the runs' ends and histories."""
    ends, histories = [], []
    metric = end.get("metric", "macro_f1")
    for i, (cfg, value) in enumerate(zip(configs, values)):
        view.start_run(i, len(configs), cfg)
        histories.append(_epochs(value, metric))
        view.add_epochs(histories[-1])
        ends.append(_end(value, **end))
        view.end_run(ends[-1])
    view.end_sequence(FitEnded("finished", f"{len(configs)} finished", 2, 8, {}, 3.0))
    return ends, histories


@pytest.mark.parametrize("values, why", [
    ([0.5, 0.5, 0.5], "tie at macro-F1 0.500"),
    ([0.80, 0.60, 0.70, 0.65, 0.75, 0.55], "within the noise of the seeds")])
def test_no_clear_winner_highlights_nothing(qtbot, values, why):
    configs = _configs(fusions=("mean", "gated", "tensor")[:3 if len(values) == 3 else 2],
                       repeats=len(values) // (3 if len(values) == 3 else 2))
    view = _view(qtbot, configs=configs)
    _play(view, configs, values)
    text = view.status.text()
    assert text.startswith("No clear winner — ") and why in text
    assert view.winner() is None and view.verdict().winner is None
    assert _highlighted(view) == []
    assert set(_pen_widths(view).values()) == {2.0}


def test_a_clear_winner_over_three_seeds_is_named_and_highlighted(qtbot):
    configs = _configs(repeats=3)
    view = _view(qtbot, configs=configs)
    assert _cells(view, STATUS) == ["waiting", "waiting"]
    ends, histories = _play(view, configs, [0.80, 0.82, 0.81, 0.50, 0.53, 0.51])
    assert view.table.rowCount() == 2  # one row per fusion, over its seeds
    assert _cells(view, RUNS) == ["3/3", "3/3"]
    assert _cells(view, STATUS) == ["3 finished", "3 finished"]
    assert _cells(view, VAL) == ["0.810 ± 0.010", "0.513 ± 0.015"]
    assert _cells(view, TEST) == ["0.800 ± 0.010", "0.503 ± 0.015"]
    assert _cells(view, SECONDARY) == ["0.910", "0.613"]
    assert [view.table.horizontalHeaderItem(c).text() for c in (VAL, TEST, SECONDARY)] == \
        ["val macro-F1", "test macro-F1", "accuracy"]
    assert view.chance_label.text() == "chance: macro-F1 0.250 on the validation split"
    assert view.plot.getAxis("left").labelText == "validation macro-F1"

    assert view.winner() == "mean" and _highlighted(view) == ["mean"]
    assert view.status.text().startswith("Winner: <b>mean</b> — beats the runner-up, gated")
    assert _pen_widths(view) == {"mean": 3.5, "gated": 2.0}
    assert len(view.curves) == 6  # every run's curve, seeds in their fusion's colour
    assert {view.curves[i].opts["pen"].color().name() for i in range(3)} == \
        {fusion_colour("mean")}
    assert [label.text for _, label in view.legend.items] == ["mean", "gated"]
    # The same verdict as `workbench compare` prints from the same runs.
    cli = compare.verdict(compare.aggregate(compare.summarize(ends, configs, histories)))
    assert view.verdict() == cli


def test_all_at_chance_has_no_winner_and_greys_the_rows(qtbot):
    configs = _configs()
    view = _view(qtbot, configs=configs)
    _play(view, configs, [0.27, 0.26])
    assert view.winner() is None and _highlighted(view) == []
    text = view.status.text()
    assert text.startswith("No clear winner — ") and "chance" in text
    for r in range(2):
        item = view.table.item(r, VAL)
        assert item.foreground().color().name() == AT_CHANCE_GREY
        assert "within 2 standard errors of chance (0.250)" in item.toolTip()


def test_a_generating_gan_has_no_winner_and_says_why(qtbot):
    configs = _configs("adversarial")
    view = _view(qtbot, configs=configs)
    _play(view, configs, [1.0, 2.0], metric="loss", chance=None)
    assert view.table.horizontalHeaderItem(VAL).text() == "val loss"
    assert _cells(view, VAL) == ["1.000", "2.000"]  # the fallback: validation loss
    assert view.table.isColumnHidden(SECONDARY) and view.chance_label.isHidden()
    assert view.status.text().startswith("No winner — a generating GAN has no single")
    assert view.winner() is None and _highlighted(view) == []


def test_no_test_split_is_said(qtbot):
    configs = _configs()
    view = _view(qtbot, configs=configs)
    _play(view, configs, [0.8, 0.5], test=False)
    assert _cells(view, TEST) == ["no test split", "no test split"]


def test_rows_while_running_show_the_seed_and_the_live_value(qtbot):
    configs = _configs(repeats=2)  # mean seeds 7 and 8, then gated
    view = _view(qtbot, configs=configs)
    view.start_run(0, 4, configs[0])
    assert _cells(view, STATUS) == ["running · epoch 0/2 (seed 7)", "waiting"]
    view.add_epochs(_epochs(0.8)[:1])
    assert _cells(view, STATUS)[0] == "running · epoch 1/2 (seed 7)"
    assert _cells(view, VAL)[0] == "0.400"  # its latest validation value
    view.add_epochs(_epochs(0.8)[1:])
    view.end_run(_end(0.8))
    assert _cells(view, STATUS)[0] == "1 finished, 1 waiting"
    assert _cells(view, RUNS) == ["1/2", "0/2"]
    view.start_run(1, 4, configs[1])
    assert _cells(view, STATUS)[0] == "running · epoch 0/2 (seed 8)"
    assert _cells(view, VAL)[0] == "0.800"  # the finished seed's, not the new run's
    assert "Training <b>mean</b>, seed 8 (run 2 of 4)" in view.status.text()
    assert not view.repeats_box.isEnabled()  # it sets up the next comparison
    view.end_run(_end(0.82))
    view.start_run(2, 4, configs[2])
    view.end_run(_end(0.5))
    view.start_run(3, 4, configs[3])
    # gated has one of its two seeds: it is not compared (nor anyone "leading") until both
    assert "leading" not in view.status.text()


def test_leading_so_far_only_when_the_verdict_names_one(qtbot):
    configs = _configs(fusions=("mean", "gated", "tensor"))
    view = _view(qtbot, configs=configs)
    for i, value in enumerate([0.8, 0.5]):
        view.start_run(i, 3, configs[i])
        view.add_epochs(_epochs(value))
        assert "leading" not in view.status.text()  # one finished: nothing to compare with
        view.end_run(_end(value))
    view.start_run(2, 3, configs[2])
    assert "leading so far: <b>mean</b>" in view.status.text()
    assert view.winner() is None and _highlighted(view) == []  # not before the end
    view.end_run(_end(0.8))  # tensor ties with mean
    view.end_sequence(FitEnded("finished", "3 finished", 2, 8, {}, 3.0))
    assert view.status.text().startswith("No clear winner — ")
    assert view.repeats_box.isEnabled()


def test_the_seeds_spin_box(qtbot):
    view = _view(qtbot)
    box = view.repeats_box
    assert (box.minimum(), box.maximum(), box.value()) == (1, compare.MAX_REPEATS, 1)
    for words in ("split", "mean ± standard deviation", "2 standard errors", "chance", "3"):
        assert words in box.toolTip()
    box.setValue(3)
    assert view.repeats == 3


def test_a_sequence_the_view_was_not_told_of_resets_it(qtbot):
    view = _view(qtbot)
    a, b = _configs("classifier", ("mean", "gated"), 1, "training.epochs=1")
    for _ in range(2):  # twice: the second sequence starts from a clean view
        view.start_run(0, 2, a)
        view.add_epochs([EpochEnded(1, 3, {}, {"accuracy": 0.5, "macro_f1": 0.4}, 1.0)])
        view.end_run(_end(0.4))
        view.start_run(1, 2, b)
        view.add_epochs([EpochEnded(1, 3, {}, {"macro_f1": 0.7}, 1.0)])
        assert view.rows()[1]["status"] == "running · epoch 1/1"
        view.end_run(_end(0.7))
        view.end_sequence(FitEnded("finished", "", 1, 3, {}, 2.0))
        assert [r["fusion"] for r in view.rows()] == ["mean", "gated"]
        assert view.winner() == "gated" and len(view.curves) == 2


# ---------------------------------------------------------------- real runs

def test_a_sequence_fills_the_table_and_the_curves(qtbot, folder, tmp_path):
    cfg = tiny_config(folder, "algorithm.name=classifier", "training.epochs=2")
    configs = fusion_variants(cfg, ["early", "gated"], repeats=2)
    table = load_pairs(cfg.data, cfg.preprocess.image_size)
    ctl = TrainingController()
    log = _record(ctl)
    ends = []
    ctl.run_ended.connect(ends.append)
    view = _view(qtbot, ctl, configs)
    assert _cells(view, STATUS) == ["waiting"] * 2
    run_dirs = [tmp_path / f"{c.fusion.name}-seed{c.seed}" for c in configs]
    with qtbot.waitSignal(ctl.finished, timeout=120_000) as done:
        ctl.start_many(configs, table, run_dirs, preset="shapes")
    qtbot.wait(50)  # nothing may follow the end

    expected = []
    for i, c in enumerate(configs):
        expected += [("run_started", i, c.fusion.name), ("started", c.fusion.name),
                     ("epoch", 1), ("epoch", 2), ("run_ended", "finished")]
    assert log == expected + [("finished", "finished")]
    assert done.args[0].status == "finished" and "4 finished" in done.args[0].reason
    assert not ctl.running
    for d in run_dirs:
        assert (d / "run.json").is_file() and (d / "metrics.jsonl").is_file()

    assert [c.removeprefix("★ ") for c in _cells(view, FUSION)] == ["early", "gated"]
    assert _cells(view, RUNS) == ["2/2", "2/2"] and _cells(view, STATUS) == ["2 finished"] * 2
    assert all(" ± " in v for v in _cells(view, VAL))
    assert view.table.horizontalHeaderItem(VAL).text() == "val macro-F1"
    assert view.chance_label.text().startswith("chance: macro-F1 ")
    # The verdict `workbench compare` gives from the same run folders, and only it marked.
    cli = compare.verdict(compare.aggregate(compare.summarize(ends, configs)))
    assert view.verdict() == cli
    assert _highlighted(view) == ([cli.winner] if cli.winner else [])
    assert ("Winner: " if cli.winner else "No clear winner — ") in view.status.text()
    assert len(view.curves) == 4
    for i, curve in view.curves.items():
        x, y = curve.getData()
        assert list(x) == [1.0, 2.0] and np.isfinite(y).all()
        assert curve.opts["pen"].color().name() == fusion_colour(configs[i].fusion.name)
    assert [label.text for _, label in view.legend.items] == ["early", "gated"]

    png = export_plot(view.plot, tmp_path / "curves.png")
    with Image.open(png) as im:
        assert im.size[0] > 200
    grab = view.grab()
    assert not grab.isNull()


def test_the_seeds_box_drives_the_main_windows_comparison(qtbot, folder):
    """Seeds per fusion = 2 in the Compare tab: Compare fusions trains each fusion on two
    seeds (the split fixed), each into a folder named for its fusion and seed."""
    from workbench.ui.main_window import MainWindow
    from workbench.ui.session import Session

    window = MainWindow(Session())
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.session.table_changed, timeout=90_000):
        window.data_panel.load_source(str(folder))
    # Contrastive accepts one fusion: two runs in all.
    window.session.replace_config(tiny_config(folder, "algorithm.name=contrastive",
                                              "seed=5"), preset="")
    window.compare_view.repeats_box.setValue(2)
    started = []
    window.controller.run_started.connect(lambda i, n, cfg: started.append(cfg))
    with qtbot.waitSignal(window.controller.finished, timeout=90_000) as done:
        window.training_bar.compare_button.click()
        assert "1 fusion × 2 seeds (2 runs) of contrastive" in \
            window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=90_000)
    assert [(c.fusion.name, c.seed) for c in started] == [("mean", 5), ("mean", 6)]
    assert {c.data.split_seed for c in started} == {5}
    ids = sorted(r.id for r in window.runs_view.runs())
    # named after what trained (algorithm-fusion-data), the preset being changed
    names = [i.rsplit("-", 4)[-4:] for i in ids]
    assert [(n[0], n[1], n[3]) for n in names] == [("contrastive", "mean", "seed5"),
                                                   ("contrastive", "mean", "seed6")]
    assert all(n[2].startswith("shapes") for n in names)  # the data folder's name
    assert done.args[0].status == "finished"
    view = window.compare_view
    assert _cells(view, RUNS) == ["2/2"]
    assert view.status.text().startswith("No winner — only mean finished")
    window.close()


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
    assert _cells(view, STATUS) == ["stopped", "not run", "not run"]
    assert view.winner() is None and view.status.text().startswith("Stopped. No winner")
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
    assert _cells(view, STATUS) == ["finished", "failed", "finished"]
    assert "co-attention needs caption tokens" in view.table.item(1, STATUS).toolTip()
    assert set(view.verdict().ranked) == {"mean", "gated"}  # the failed one does not compete


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
    assert _cells(view, STATUS) == ["failed", "not run"]
    assert "Failed" in view.status.text()


def test_single_runs_leave_the_view_alone(qtbot, folder):
    ctl = TrainingController()
    view = _view(qtbot, ctl, [])
    with qtbot.waitSignal(ctl.finished, timeout=60_000):
        ctl.start(tiny_config(folder), None)
    assert view.table.rowCount() == 0 and not view.curves


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
