"""The Sweep tab's plots: parallel coordinates' scales, learning curves kept and updated
one line at a time, pruned trials faded."""

from __future__ import annotations

import math

import pytest

from workbench.ui.plots.sweep_plots import PRUNED_COLOUR, SweepPlots, normalise

SPACE = [{"key": "optimizer.lr", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True,
          "choices": []},
         {"key": "model.hidden_dim", "kind": "categorical", "low": None, "high": None,
          "log": False, "choices": [64, 128, 256]}]


def row(n, state, value, curve, lr=1e-3, hidden=128):
    return {"number": n, "state": state, "value": value, "params": {
        "optimizer.lr": lr, "model.hidden_dim": hidden}, "intermediate": dict(curve),
        "seconds": 1.0, "epochs": len(curve), "reason": "", "runs": []}


def test_settings_are_placed_on_their_own_scale():
    assert normalise([1e-4, 1e-3, 1e-2], SPACE[0]) == pytest.approx([0, 0.5, 1])
    assert normalise([64, 256, 128], SPACE[1]) == [0, 1, 0.5]
    assert math.isnan(normalise([512], SPACE[1])[0])  # not among the list's values
    linear = {"kind": "int", "low": 10, "high": 20, "log": False}
    assert normalise([15], linear) == [0.5]


def test_curves_are_updated_in_place_and_pruned_ones_faded(qtbot):
    plots = SweepPlots()
    qtbot.addWidget(plots)
    rows = [row(0, "complete", 0.5, {1: 0.2, 2: 0.5}),
            row(1, "pruned", None, {1: 0.1}, lr=1e-4, hidden=64),
            row(2, "running", None, {1: 0.3})]
    plots.set_rows(rows, SPACE, "maximize", "mean_recall")
    assert plots.drawn_lines == 1  # complete trials only
    items = {n: item for n, (item, _, _) in plots._curve_items.items()}
    assert set(items) == {0, 1, 2}
    assert items[1].opts["pen"].color().alpha() == PRUNED_COLOUR[3]
    rows[2]["intermediate"][2] = 0.6  # an epoch of the running trial
    plots.update_curves(rows, "maximize", "mean_recall")
    assert plots._curve_items[2][0] is items[2]  # the same line, new points
    assert list(items[2].yData) == [0.3, 0.6]
    rows[2].update(state="complete", value=0.6)  # it ends, the best now: drawn thick
    plots.set_rows(rows, SPACE, "maximize", "mean_recall")
    assert plots._curve_items[2][1] == "best" and plots._curve_items[0][1] == "complete"
    assert plots.drawn_lines == 2
    plots.reset()
    assert plots._curve_items == {}
    assert not [i for i in plots.curves.listDataItems()]


def test_importances_show_bars_or_say_when_they_will(qtbot):
    plots = SweepPlots()
    qtbot.addWidget(plots)
    plots.set_importances({})
    texts = [i for i in plots.importance.items() if hasattr(i, "textItem")]
    assert any("three complete trials" in t.textItem.toPlainText() for t in texts)
    plots.set_importances({"optimizer.lr": 0.8, "model.hidden_dim": 0.2})
    texts = [i.textItem.toPlainText() for i in plots.importance.items()
             if hasattr(i, "textItem")]
    assert "optimizer.lr  0.80" in texts and "model.hidden_dim  0.20" in texts
