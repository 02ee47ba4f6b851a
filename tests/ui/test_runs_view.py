"""The Runs tab over run folders left by real tiny trainings; its dialogs are answered by the
test (never shown)."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import Qt

from fixtures import make_image_folder, tiny_config
from workbench.core.data import load_dataset
from workbench.core.runs.writer import RunWriter
from workbench.core.training import Trainer
from workbench.ui.panels.runs_view import RunsView

COLUMNS = {name: i for i, name in enumerate(("Date", "Preset", "Algorithm", "Fusion", "Data",
                                             "Epochs", "Duration", "Metric", "Validation",
                                             "Test", "Status"))}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two real runs: a classifier (2 epochs) and a contrastive model (3 epochs)."""
    folder = make_image_folder(tmp_path_factory.mktemp("shapes"))
    base = tmp_path_factory.mktemp("runs")
    for name, epochs, overrides in (("a-classifier", 2, ["algorithm.name=classifier",
                                                         "fusion.name=late"]),
                                    ("b-contrastive", 3, [])):
        cfg = tiny_config(folder, f"training.epochs={epochs}", *overrides)
        end = Trainer(cfg, load_dataset(cfg), callbacks=[RunWriter(base / name, cfg,
                                                                   preset=name)],
                      run_dir=base / name).fit()
        assert end.status == "finished", end.reason
    return base


@pytest.fixture
def base(trained, tmp_path):
    """A copy of the trained runs per test, so a test may delete them."""
    return shutil.copytree(trained, tmp_path / "runs")


class Dialogs:
    def __init__(self):
        self.epochs: int | None = 3
        self.confirm = True
        self.dir: str | None = None
        self.asked: list[str] = []
        self.errors: list[tuple[str, str]] = []


@pytest.fixture
def dialogs(monkeypatch):
    d = Dialogs()

    def confirm(self, text):
        d.asked.append(text)
        return d.confirm

    monkeypatch.setattr(RunsView, "_ask_epochs", lambda self, run: d.epochs)
    monkeypatch.setattr(RunsView, "_confirm", confirm)
    monkeypatch.setattr(RunsView, "_ask_dir", lambda self: d.dir)
    monkeypatch.setattr(RunsView, "_show_error",
                        lambda self, title, text: d.errors.append((title, text)))
    return d


@pytest.fixture
def view(qtbot, base, dialogs):
    widget = RunsView(base)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    return widget


def cell(view: RunsView, run_id: str, column: str, role=Qt.ItemDataRole.DisplayRole):
    row = [r.id for r in view.runs()].index(run_id)
    return view.proxy.index(row, COLUMNS[column]).data(role)


def test_lists_real_runs(view):
    assert sorted(r.id for r in view.runs()) == ["a-classifier", "b-contrastive"]
    assert cell(view, "a-classifier", "Algorithm") == "classifier"
    assert cell(view, "a-classifier", "Fusion") == "late"
    assert cell(view, "a-classifier", "Status") == "finished"
    assert cell(view, "a-classifier", "Epochs") == "2"
    f1 = next(r for r in view.runs() if r.id == "a-classifier").metrics["macro_f1"]
    # each run's primary metric: macro-F1 for the classifier, mean recall for contrastive
    assert cell(view, "a-classifier", "Metric") == "macro-F1"
    assert cell(view, "a-classifier", "Validation") == f"{f1:.3f}"
    assert cell(view, "b-contrastive", "Metric").startswith("mean recall")
    assert cell(view, "b-contrastive", "Validation") != ""
    # the tiny config holds no test pairs out: said, not left blank or made up
    assert cell(view, "a-classifier", "Test") == "no test split"
    tip = cell(view, "a-classifier", "Validation", Qt.ItemDataRole.ToolTipRole)
    assert "chance" in tip and "primary metric" in tip
    assert cell(view, "b-contrastive", "Duration").endswith(" s")
    assert "2 runs in" in view.status.text()
    assert not view.buttons["Open"].isEnabled() and not view.buttons["Delete"].isEnabled()


def test_overlay_draws_one_curve_per_selected_run(view):
    view.select(["a-classifier", "b-contrastive"])
    assert {k: len(c.xData) for k, c in view.loss_curves.items()} == \
        {"a-classifier": 2, "b-contrastive": 3}
    assert list(view.loss_curves["b-contrastive"].xData) == [1, 2, 3]
    colours = {c.opts["pen"].color().name() for c in view.loss_curves.values()}
    assert len(colours) == 2
    assert sorted(label.text for _, label in view.legend.items) == \
        ["a-classifier", "b-contrastive"]
    metrics = [view.metric_combo.itemText(i) for i in range(view.metric_combo.count())]
    # the primary metrics first: macro-F1 (classifier), mean recall (contrastive)
    assert metrics[:2] == ["macro_f1", "mean_recall"] and "loss" not in metrics
    assert set(view.metric_curves) == {"a-classifier"}  # only the classifier has macro-F1
    view.metric_combo.setCurrentText("t2i_r10")
    assert {k: len(c.xData) for k, c in view.metric_curves.items()} == {"b-contrastive": 3}
    assert view.metric_plot.titleLabel.text == "t2i_r10"
    # the table shows each overlaid run's colour
    assert cell(view, "a-classifier", "Date", Qt.ItemDataRole.DecorationRole) is not None
    view.select(["b-contrastive"])
    assert set(view.loss_curves) == {"b-contrastive"} and len(view.legend.items) == 1
    assert cell(view, "a-classifier", "Date", Qt.ItemDataRole.DecorationRole) is None


def test_open_and_continue_emit_the_run(view, qtbot, dialogs):
    view.select(["b-contrastive"])
    with qtbot.waitSignal(view.run_opened) as opened:
        view.buttons["Open"].click()
    assert opened.args[0].id == "b-contrastive"
    with qtbot.waitSignal(view.continue_requested) as requested:
        view.buttons["Continue training…"].click()
    run, epochs = requested.args
    assert run.id == "b-contrastive" and run.checkpoint.is_file() and epochs == 3
    dialogs.epochs = None  # cancelled
    with qtbot.assertNotEmitted(view.continue_requested):
        view.buttons["Continue training…"].click()
    view.select(["a-classifier", "b-contrastive"])
    assert not view.buttons["Open"].isEnabled()
    assert not view.buttons["Continue training…"].isEnabled()


def test_delete_asks_then_deletes(view, base, dialogs):
    view.select(["a-classifier"])
    dialogs.confirm = False
    view.buttons["Delete"].click()
    assert (base / "a-classifier").is_dir() and "a-classifier" in dialogs.asked[0]
    dialogs.confirm = True
    view.buttons["Delete"].click()
    assert not (base / "a-classifier").exists()
    assert [r.id for r in view.runs()] == ["b-contrastive"] and not view.loss_curves
    assert dialogs.errors == []


def test_delete_refuses_a_folder_that_is_not_only_a_run(view, base, dialogs):
    (base / "a-classifier" / "notes.txt").write_text("mine")
    view.select(["a-classifier"])
    view.buttons["Delete"].click()
    assert (base / "a-classifier" / "notes.txt").is_file()
    [(title, text)] = dialogs.errors
    assert title == "Cannot delete" and "notes.txt" in text


def test_export_copies_the_selected_runs(view, tmp_path, dialogs):
    view.select(["a-classifier", "b-contrastive"])
    dialogs.dir = None
    view.buttons["Export…"].click()  # cancelled: nothing happens
    dialogs.dir = str(tmp_path / "shared")
    view.buttons["Export…"].click()
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == \
        ["a-classifier", "b-contrastive"]
    assert (tmp_path / "shared" / "a-classifier" / "checkpoints" / "last.pt").is_file()
    assert "Exported 2 runs" in view.status.text()


def test_a_damaged_run_shows_its_status_without_breaking_the_view(view, base):
    (base / "c-broken").mkdir()
    (base / "c-broken" / "run.json").write_text('{"status": "finis')
    (base / "d-empty").mkdir()
    view.select(["a-classifier"])
    view.buttons["Refresh"].click()
    assert cell(view, "c-broken", "Status") == "damaged"
    assert "not readable JSON" in cell(view, "c-broken", "Status", Qt.ItemDataRole.ToolTipRole)
    assert cell(view, "d-empty", "Status") == "incomplete"
    assert [r.id for r in view.selected_runs()] == ["a-classifier"]  # kept over the refresh
    assert "2 damaged or incomplete" in view.status.text()
    view.select(["a-classifier", "c-broken", "d-empty"])
    assert set(view.loss_curves) == {"a-classifier"}
    view.select(["c-broken"])
    assert not view.loss_curves and not view.buttons["Open"].isEnabled()
    assert "damaged" in view.details.text()


def test_refresh_picks_up_a_new_run(view, base):
    shutil.copytree(base / "a-classifier", base / "e-new")
    summary = json.loads((base / "e-new" / "run.json").read_text())
    (base / "e-new" / "run.json").write_text(json.dumps({**summary, "id": "e-new",
                                                         "created": "2099-01-01T00:00:00"}))
    view.refresh()
    assert view.runs()[0].id == "e-new"  # newest first


def test_two_hundred_runs_list(qtbot, base, dialogs):
    run = base / "a-classifier"
    for i in range(200):
        dest = base / f"r{i:03d}"
        dest.mkdir()
        for name in ("run.json", "config.toml", "metrics.jsonl"):
            shutil.copy(run / name, dest / name)
    widget = RunsView(base)
    qtbot.addWidget(widget)
    assert widget.proxy.rowCount() == 202
