"""The Training tab's plots, fed with synthetic events as the controller would feed them."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPointF, Signal

from workbench.core.training.events import EpochEnded, FitStarted, GeneratedSamples, StepLogged
from workbench.ui.plots.adversarial_view import AdversarialView, mosaic
from workbench.ui.plots.loss_plot import LossPlot
from workbench.ui.plots.metrics_table import MetricsTable
from workbench.ui.plots.series import ema
from workbench.ui.plots.training_view import TextArea, TrainingView

SPE = 20  # steps per epoch


def started(algorithm: str = "contrastive") -> FitStarted:
    return FitStarted(algorithm, "attention", 5, 1, SPE, 640, 160, "cpu", 1000)


def loss_at(k: int) -> float:
    return 2.0 * math.exp(-k / 40) + 0.1 + 0.05 * math.sin(k)


def make_steps(first: int, last: int, **extra) -> list[StepLogged]:
    return [StepLogged(k, (k - 1) // SPE + 1, 1.0,
                       {"loss": loss_at(k), "infonce_t2i": loss_at(k) / 2,
                        "infonce_i2t": loss_at(k) / 2 + 0.01, "temperature": 0.07,
                        **{n: f(k) for n, f in extra.items()}}, 1e-3, 32, k * 0.01)
            for k in range(first, last + 1)]


def make_epochs(n: int) -> list[EpochEnded]:
    return [EpochEnded(e, e * SPE, {"loss": 1.0 / e},
                       {"loss": 1.5 / e, "infonce_t2i": 0.7 / e, "infonce_i2t": 0.8 / e,
                        "t2i_r1": 0.1 * e, "t2i_median_rank": 20.0 / e}, e * 1.0)
            for e in range(1, n + 1)]


def legend_names(panel) -> list[str]:
    return [label.text for _, label in panel.legend.items]


@pytest.fixture
def plot(qtbot):
    view = LossPlot()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.reset(started())
    return view


def test_steps_make_one_curve_per_term(plot):
    plot.smoothing_slider.setValue(0)
    plot.add_steps(make_steps(1, 30))
    first = plot.losses.steps["loss"].main
    plot.add_steps(make_steps(31, 50))
    assert set(plot.losses.steps) == {"loss", "infonce_t2i", "infonce_i2t"}
    assert set(plot.metrics.steps) == {"temperature"}  # not on the loss axis
    assert plot.losses.steps["loss"].main is first  # created once, then setData
    x, y = first.getData()
    np.testing.assert_array_equal(x, np.arange(1, 51))
    np.testing.assert_allclose(y, [loss_at(k) for k in range(1, 51)])
    assert legend_names(plot.losses) == ["loss", "infonce_t2i", "infonce_i2t"]
    assert legend_names(plot.metrics) == ["temperature"]
    colours = {c.colour for c in plot.losses.steps.values()}
    assert len(colours) == 3


def test_one_set_data_per_curve_per_call(plot, monkeypatch):
    plot.add_steps(make_steps(1, 10))
    calls = []
    for panel in plot.panels:
        for c in panel.steps.values():
            for item in (c.main, c.raw):
                monkeypatch.setattr(item, "setData",
                                    lambda *a, _item=item, _f=item.setData, **k:
                                    (calls.append(_item), _f(*a, **k))[1])
    plot.add_steps(make_steps(11, 400))
    assert len(calls) == len(set(calls)) == 8  # 4 terms x (smoothed + raw), once each


def test_colours_are_stable_per_term(qtbot, plot):
    other = LossPlot()
    qtbot.addWidget(other)
    other.add_steps([StepLogged(1, 1, 0.1, {"infonce_i2t": 1.0, "loss": 2.0}, 1e-3, 8, 0.1)])
    plot.add_steps(make_steps(1, 3))
    for name in ("loss", "infonce_i2t"):
        assert other.losses.steps[name].colour == plot.losses.steps[name].colour


def test_validation_curves_appear_after_epochs(plot):
    plot.add_steps(make_steps(1, 3 * SPE))
    assert not plot.losses.epochs
    plot.add_epochs(make_epochs(2))
    plot.add_epochs(make_epochs(3)[2:])
    val = plot.losses.epochs["loss"].main
    x, y = val.getData()
    np.testing.assert_array_equal(x, [SPE, 2 * SPE, 3 * SPE])  # at each epoch's last step
    np.testing.assert_allclose(y, [1.5, 0.75, 0.5])
    assert "val loss" in legend_names(plot.losses)
    assert val.opts["symbol"] == "o"
    assert "t2i_r1" in legend_names(plot.metrics)  # a metric: the metrics plot
    assert "t2i_median_rank" not in plot.metrics.epochs  # a rank: the table only
    assert plot.losses.epochs["loss"].colour == plot.losses.steps["loss"].colour


def test_log_scale_draws_log10_of_the_losses(plot):
    plot.smoothing_slider.setValue(0)
    plot.add_steps(make_steps(1, 40))
    curve = plot.losses.steps["loss"].main
    linear = curve.getData()[1].copy()
    plot.log_check.setChecked(True)
    np.testing.assert_allclose(curve.getData()[1], np.log10(linear))
    assert "log" in plot.losses.plot.getAxis("left").labelText
    plot.log_check.setChecked(False)
    np.testing.assert_allclose(curve.getData()[1], linear)


def test_smoothing_draws_the_ema_over_a_faint_raw_curve(plot):
    steps = make_steps(1, 100)
    raw = np.array([s.losses["loss"] for s in steps])
    plot.smoothing_slider.setValue(0)
    plot.add_steps(steps)
    c = plot.losses.steps["loss"]
    np.testing.assert_allclose(c.main.getData()[1], raw)
    assert not c.raw.isVisible()
    plot.smoothing_slider.setValue(90)
    np.testing.assert_allclose(c.main.getData()[1], ema(raw, 0.9)[0])
    np.testing.assert_allclose(c.raw.getData()[1], raw)
    # faint: the curve's colour washed towards the white background (drawn opaque)
    faint, full = c.raw.opts["pen"].color(), c.main.opts["pen"].color()
    assert c.raw.isVisible()
    assert all(f > m or m == 255 for f, m in zip(faint.getRgb()[:3], full.getRgb()[:3]))
    assert faint.lightness() > full.lightness() + 60
    assert plot.smoothing == 0.9


def settle(qtbot, item, tries: int = 50) -> None:
    """Process events until ``item``'s place in the scene stops changing."""
    last = None
    for _ in range(tries):
        qtbot.wait(10)
        rect = item.sceneBoundingRect()
        if rect == last:
            return
        last = rect
    raise AssertionError("the layout did not settle")


def test_hover_shows_the_values_of_that_step(qtbot, plot):
    plot.smoothing_slider.setValue(0)
    plot.show()
    qtbot.waitExposed(plot)
    plot.add_steps(make_steps(1, 100))
    plot.add_epochs(make_epochs(5))
    box = plot.losses.plot.vb
    assert box.viewRange()[0][1] >= 100  # the view follows at once
    settle(qtbot, box)  # the legend grew: the view box's size moves after a layout pass
    pos = box.mapViewToScene(QPointF(42, 1.0))
    plot.graphics.scene().sigMouseMoved.emit(pos)
    qtbot.waitUntil(lambda: "step 42" in plot.readout.text())
    text = plot.readout.text()
    assert f"loss&nbsp;{loss_at(42):.3g}" in text
    assert f"infonce_t2i&nbsp;{loss_at(42) / 2:.3g}" in text
    assert "validation, step 40" in text and "loss&nbsp;0.75" in text  # epoch 2's values
    assert "epoch 2.10" in text
    assert plot.losses.crosshair.isVisible() and plot.losses.crosshair.value() == pytest.approx(42, abs=0.5)


def test_terms_can_be_left_out(plot):
    plot.set_excluded_terms({"temperature"})
    plot.add_steps(make_steps(1, 5))
    assert "temperature" not in plot.metrics.steps


def test_reset_forgets_the_curves(plot):
    plot.add_steps(make_steps(1, 5))
    plot.add_epochs(make_epochs(1))
    plot.reset(None)
    assert not plot.losses.steps and not plot.losses.epochs and not plot.metrics.steps
    assert legend_names(plot.losses) == []
    assert len(plot.losses.plot.listDataItems()) == 0


@pytest.mark.slow
def test_a_million_streamed_points_stay_bounded_and_cheap(qtbot, capsys):
    cap = 200_000
    view = LossPlot(cap=cap)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    view.reset(started())
    seconds = []
    for start in range(0, 1_000_000, 1000):
        batch = [StepLogged(k, 1, 0.5, {"loss": 1.0 / math.sqrt(k), "temperature": 0.07},
                            1e-3, 32, 0.0) for k in range(start + 1, start + 1001)]
        t = time.perf_counter()
        view.add_steps(batch)
        seconds.append(time.perf_counter() - t)
    for panel in view.panels:
        for c in panel.steps.values():
            assert len(c.series) <= cap
            assert c.series.capacity <= 2 * cap
    # The newest point was handed to the curve, and what it draws (each pixel column's
    # minimum and maximum, at the column's first step) reaches its pixel column.
    main = view.losses.steps["loss"].main
    assert main.full_data()[0][-1] == 1_000_000
    assert len(main.xData) < 3_000 and main.xData[-1] > 1_000_000 * (1 - 1 / 500)
    mean_ms = 1000 * float(np.mean(seconds))
    with capsys.disabled():
        print(f"\nadd_steps of 1,000 points: mean {mean_ms:.2f} ms, "
              f"p95 {1000 * float(np.percentile(seconds, 95)):.2f} ms; stored points "
              f"{len(view.losses.steps['loss'].series)} of {1_000_000}")
    assert mean_ms < 160  # 10x headroom over a 16 ms frame; speed itself is benchmarked


def test_metrics_table_latest_and_best(qtbot):
    table = MetricsTable()
    qtbot.addWidget(table)
    table.add_epochs([EpochEnded(1, 10, {"loss": 2.0}, {"loss": 1.0, "accuracy": 0.5,
                                                        "t2i_median_rank": 9.0,
                                                        "recon_error_text": 0.3,
                                                        "weight_text": 0.4}, 1.0)])
    table.add_epochs([EpochEnded(2, 20, {"loss": 1.0}, {"loss": 1.2, "accuracy": 0.7,
                                                        "t2i_median_rank": 4.0,
                                                        "recon_error_text": 0.2,
                                                        "weight_text": 0.6}, 2.0),
                      EpochEnded(3, 30, {"loss": 0.5}, {"loss": 0.9, "accuracy": 0.6,
                                                        "t2i_median_rank": 5.0,
                                                        "recon_error_text": 0.25,
                                                        "weight_text": 0.5}, 3.0)])
    assert table.latest("accuracy") == 0.6 and table.best("accuracy") == (0.7, 2)
    assert table.latest("loss") == 0.9 and table.best("loss") == (0.9, 3)
    assert table.best("t2i_median_rank") == (4.0, 2)
    assert table.best("recon_error_text") == (0.2, 2)
    assert table.best("weight_text") is None and table.latest("weight_text") == 0.5
    rows = {table.table.item(r, 0).text(): r for r in range(table.table.rowCount())}
    assert set(rows) == {"loss", "accuracy", "t2i_median_rank", "recon_error_text", "weight_text"}
    r = rows["accuracy"]
    assert [table.table.item(r, c).text() for c in range(5)] == ["accuracy", "0.6", "↑ 0.7", "2",
                                                                 ""]
    table.reset()
    assert table.table.rowCount() == 0 and table.latest("loss") is None


def test_metrics_table_shows_chance_and_marks_the_primary_metric(qtbot):
    table = MetricsTable()
    qtbot.addWidget(table)
    table.reset(FitStarted("classifier", "mean", 3, 1, 10, 100, 20, "cpu", 1000,
                           primary="macro_f1", chance={"accuracy": 0.3, "macro_f1": 0.1},
                           chance_spread=0.02))
    table.add_epochs([EpochEnded(1, 10, {"loss": 2.0}, {"loss": 1.0, "accuracy": 0.5,
                                                        "macro_f1": 0.12}, 1.0)])
    rows = {table.table.item(r, 0).text(): r for r in range(table.table.rowCount())}
    assert set(rows) == {"loss", "accuracy", "macro_f1 ★"}
    assert table.table.item(rows["accuracy"], 4).text() == "0.3"
    assert table.table.item(rows["macro_f1 ★"], 4).text() == "0.1"
    assert table.table.item(rows["macro_f1 ★"], 0).font().bold()
    assert "primary" in table.table.item(rows["macro_f1 ★"], 0).toolTip()
    # 0.12 is within two standard errors (0.02) of chance 0.1
    assert table.at_chance() is True
    table.add_epochs([EpochEnded(2, 20, {"loss": 1.0}, {"loss": 0.8, "accuracy": 0.7,
                                                        "macro_f1": 0.6}, 2.0)])
    assert table.at_chance() is False


def adversarial_steps(n: int, align: bool = False) -> list[StepLogged]:
    extra = {"pair": 0.3, "match": 0.2} if align else {"d_wrong": 0.45}
    return [StepLogged(k, 1, 0.1, {"loss": 1.4, "d_loss": 0.69, "g_loss": 0.7,
                                   "d_real": 0.6, "d_fake": 0.4, **extra}, 1e-3, 8, 0.1)
            for k in range(1, n + 1)]


def test_adversarial_view_lines_and_curves(qtbot):
    view = AdversarialView()
    qtbot.addWidget(view)
    view.add_steps(adversarial_steps(30))
    assert view.ln2_line.value() == pytest.approx(math.log(2))
    assert view.ln2_line in view.losses.plot.items
    assert view.losses.plot.getAxis("right")._tickLevels[0][0][1] == "ln 2"
    assert view.half_line.value() == 0.5 and view.half_line in view.outputs.plot.items
    assert legend_names(view.outputs) == ["D(real)", "D(fake)", "D(wrong)"]
    assert legend_names(view.losses) == ["d_loss", "g_loss"]
    assert len(view.outputs.steps["d_real"].main.getData()[0]) == 30
    view.reset()
    view.add_steps(adversarial_steps(5, align=True))
    assert legend_names(view.outputs) == ["D(text)", "D(image)"]


def test_adversarial_view_shows_the_mosaic(qtbot):
    view = AdversarialView()
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()
    qtbot.waitExposed(view)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    words = [[f"w{i}", "smile"] for i in range(5)]
    view.set_samples(GeneratedSamples(2, 40, images, words))
    shown = view.image_item.image
    assert shown.shape == (2 * 10 + 2, 3 * 10 + 2, 3)  # 3 columns x 2 rows of 8 px + padding
    np.testing.assert_array_equal(shown[2:10, 12:20], images[1].transpose(1, 2, 0))
    assert view.image_item.levels is not None and list(view.image_item.levels) == [0, 255]
    assert "4. w3, smile" in view.samples_view.toolTip()
    centre = view.samples_box.mapViewToScene(QPointF(2 + 10 + 4, 2 + 10 + 4))  # row 1, col 1
    view.samples_view.scene().sigMouseMoved.emit(centre)
    qtbot.waitUntil(lambda: "Sample 5: w4, smile" in view.caption.text())
    view.set_samples(GeneratedSamples(3, 60, None, words))  # feature vectors: no images
    assert "no images" in view.caption.text()
    # pretrained features: the nearest real caption of each sample, the nearest real images
    captions = [f"a real caption {i}" for i in range(5)]
    view.set_samples(GeneratedSamples(4, 80, images, [], captions=captions, nearest=True))
    assert "nearest real images" in view.caption.text()
    assert "“a real caption 3” (nearest real caption)" in view.samples_view.toolTip()
    view.samples_view.scene().sigMouseMoved.emit(centre)
    qtbot.waitUntil(lambda: "Sample 5: ≈ “a real caption 4”" in view.caption.text())


def test_mosaic_of_sixteen():
    picture, cols = mosaic(np.zeros((16, 3, 32, 32), np.uint8))
    assert cols == 4 and picture.shape == (4 * 34 + 2, 4 * 34 + 2, 3)


class FakeController(QObject):
    started = Signal(object)
    steps_logged = Signal(list)
    epochs_ended = Signal(list)
    samples_generated = Signal(object)


def test_training_view_shows_the_adversarial_part_only_for_adversarial_runs(qtbot):
    view = TrainingView()
    qtbot.addWidget(view)
    ctl = FakeController()
    view.connect_controller(ctl)
    ctl.started.emit(started("adversarial"))
    assert view.adversarial and view.adversarial_view.isVisibleTo(view)
    ctl.steps_logged.emit(adversarial_steps(10))
    ctl.epochs_ended.emit([EpochEnded(1, 10, {"loss": 1.4}, {"loss": 1.3, "d_real": 0.6}, 1.0)])
    ctl.samples_generated.emit(GeneratedSamples(1, 10, np.zeros((4, 3, 8, 8), np.uint8),
                                                [["a"]] * 4))
    assert len(view.adversarial_view.outputs.steps["d_real"].series) == 10
    assert "d_real" not in view.loss_plot.metrics.steps  # shown once, in the game's view
    assert view.metrics_table.latest("loss") == 1.3
    assert view.adversarial_view.image_item.image.shape == (22, 22, 3)
    ctl.started.emit(started("classifier"))
    assert not view.adversarial and not view.adversarial_view.isVisibleTo(view)
    assert not view.loss_plot.losses.steps and view.metrics_table.latest("loss") is None
    ctl.steps_logged.emit(make_steps(1, 5))
    assert len(view.loss_plot.losses.steps["loss"].series) == 5
    assert not view.adversarial_view.outputs.steps


def test_training_view_says_whether_the_primary_metric_beats_chance(qtbot):
    view = TrainingView()
    qtbot.addWidget(view)
    view.reset(FitStarted("classifier", "mean", 3, 1, 10, 100, 20, "cpu", 1000,
                          primary="macro_f1", chance={"macro_f1": 0.1, "accuracy": 0.44},
                          chance_spread=0.02))
    assert "macro-F1" in view.verdict.text() and "0.100" in view.verdict.text()
    view.add_epochs([EpochEnded(1, 10, {"loss": 2.0}, {"loss": 1.0, "accuracy": 0.44,
                                                       "macro_f1": 0.068}, 1.0)])
    assert "At chance" in view.verdict.text()
    view.add_epochs([EpochEnded(2, 20, {"loss": 1.0}, {"loss": 0.5, "accuracy": 0.8,
                                                       "macro_f1": 0.7}, 2.0)])
    assert "At chance" not in view.verdict.text() and "0.700" in view.verdict.text()
    scores = {"val": {"size": 20, "metrics": {"macro_f1": 0.7}, "chance": {"macro_f1": 0.1}},
              "test": {"size": 20, "metrics": {"macro_f1": 0.65}, "chance": {"macro_f1": 0.1}}}
    view.show_result("macro_f1", scores, ["the text vectors collapsed"], best_epoch=2,
                     health={"text": {"effective_rank": 1.4, "centred_cosine": 0.2}})
    text = view.verdict.text()
    assert "test <b>0.650</b> (chance 0.100)" in text and "best epoch (2)" in text
    assert "collapsed" in text and "effective rank 1.4" in text
    view.show_result("macro_f1", {"val": scores["val"], "test": {"size": 0}}, [])
    assert "no test split" in view.verdict.text()


def test_the_datas_warnings_stay_under_the_live_verdict_and_the_area_fits_them(qtbot):
    """Issue 17, item 16: what makes the data's numbers weak is said when the run starts, stays
    while validation figures come in, and the verdict grows to show it (scrolling past half
    the column rather than being cut off)."""
    view = TrainingView()
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    warning = "small held-out split (validation 6 pairs): one pair moves a score by up to 0.17"
    view.reset(FitStarted("classifier", "mean", 3, 1, 10, 18, 6, "cpu", 1000,
                          primary="macro_f1", chance={"macro_f1": 0.1}, warnings=[warning],
                          split_notes=["1 label ('x') has one example"]))
    assert warning in view.verdict.text() and "note: 1 label" in view.verdict.text()
    view.add_epochs([EpochEnded(1, 10, {"loss": 2.0}, {"loss": 1.0, "macro_f1": 0.7}, 1.0)])
    text = view.verdict.text()
    assert "0.700" in text and text.count(warning) == 1
    qtbot.waitUntil(lambda: view.verdict_area.height()
                    >= view.verdict.heightForWidth(view.verdict_area.viewport().width()))
    view.show_result("macro_f1", {}, [f"warning {i}: " + "long words " * 20 for i in range(30)])
    column = view.verdict_area.parentWidget()
    qtbot.waitUntil(lambda: view.verdict_area.verticalScrollBar().isVisible())
    assert view.verdict_area.height() <= column.height() * TextArea.MAX_SHARE + 1
