"""The window in a small screen (issue 16, "Cramped"): at 800 × 600 it really is that size,
and every key label shows its text whole, or cut with "…" and the whole text in its tooltip,
measured with the font metrics; the training plots keep a readable width at 900 × 600; the
Runs table shows a screenful of runs at 1600 × 1000; an adversarial run has no empty metric
plot."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtWidgets import (QAbstractItemView, QAbstractScrollArea, QLabel, QPushButton,
                               QStyle, QToolButton, QWidget)

from fixtures import make_image_folder, tiny_config
from workbench.core.data import load_dataset
from workbench.core.paths import runs_dir
from workbench.core.runs.store import list_runs
from workbench.core.runs.writer import RunWriter
from workbench.core.training import Trainer
from workbench.core.training.events import EpochEnded, FitStarted, StepLogged
from workbench.ui.compact import ElidedLabel, ElidedProgressBar, ElidedToolButton
from workbench.ui.main_window import MainWindow
from workbench.ui.plots.metrics_table import PRIMARY_MARK
from workbench.ui.plots.training_view import TrainingView
from workbench.ui.session import Session

SMALL = QSize(800, 600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real tiny run of a late-fusion classifier: its metrics have the longest names
    (accuracy_text_only, accuracy_image_only)."""
    folder = make_image_folder(tmp_path_factory.mktemp("shapes"))
    run = tmp_path_factory.mktemp("runs") / "20260101-120000-classifier-late-shapes"
    cfg = tiny_config(folder, "training.epochs=2", "algorithm.name=classifier",
                      "fusion.name=late")
    end = Trainer(cfg, load_dataset(cfg), callbacks=[RunWriter(run, cfg, preset="x")],
                  run_dir=run).fit()
    assert end.status == "finished", end.reason
    return run


def open_window(qtbot, trained, size: QSize, copies: int = 1) -> MainWindow:
    """The window at ``size`` over emoji, with ``copies`` of the trained run in the runs
    folder and the first opened (its curves, metrics and progress shown)."""
    for i in range(copies):
        shutil.copytree(trained, runs_dir() / f"{trained.name}-{i:02d}")
    win = MainWindow(Session())
    qtbot.addWidget(win)
    win.resize(size)
    win.show()
    with qtbot.waitSignal(win.session.table_changed, timeout=60_000):
        win.data_panel.load_source("builtin:emoji")
    win.views.build_all()
    win.open_run(list_runs(runs_dir())[0])
    return win


def visit_every_tab(qtbot, win: MainWindow) -> None:
    """Show each centre and settings tab once (a hidden view's layout is computed when it is
    first shown): none may make the window grow."""
    for index in [*range(win.tabs.count()), 0]:
        win.tabs.setCurrentIndex(index)
        qtbot.wait(30)
    for index in [*range(win.settings.count()), 0]:
        win.settings.setCurrentIndex(index)
        qtbot.wait(30)


# -- measuring ------------------------------------------------------------------------------
def label_problem(label: QLabel) -> str | None:
    """None if ``label`` shows its text whole (or cut with its whole text in the tooltip),
    else what is wrong."""
    text = label.text()
    if not text.strip() or not label.isVisible():
        return None
    if isinstance(label, ElidedLabel):
        shown = label.shown_text()
        return None if shown == text or text in label.toolTip() else (
            f"{text!r} shows as {shown!r} with no tooltip")
    if label.wordWrap():
        need = label.heightForWidth(label.width())
        return None if label.height() >= need else (
            f"{text[:40]!r} needs {need} px height, has {label.height()}")
    if label.textFormat() == Qt.TextFormat.RichText or (
            label.textFormat() == Qt.TextFormat.AutoText and "<" in text):
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setHtml(text)
        need = doc.idealWidth()
    else:
        need = label.fontMetrics().horizontalAdvance(text)
    room = label.contentsRect().width() - 2 * label.margin()
    return None if need <= room else f"{text!r} needs {need:.0f} px, has {room}"


def clipped(widget: QWidget) -> str | None:
    """What of ``widget`` its parents cut off sideways (a scroll area scrolled sideways, or
    a panel narrower than it), or None. Scrolled away up or down is fine: it scrolls."""
    if not widget.isVisible():
        return None
    seen = widget.visibleRegion().boundingRect()
    if seen.isEmpty():
        return None  # scrolled out of view vertically
    return None if seen.width() >= widget.width() else (
        f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r} shows "
        f"{seen.width()} of {widget.width()} px")


def button_problem(button) -> str | None:
    """A push button's text is whole at its size hint; an ElidedToolButton cuts its text and
    tips the whole."""
    if not button.isVisible():
        return None
    if isinstance(button, ElidedToolButton):
        shown = button.shown_text()
        return None if shown == button.text() or button.text() in button.toolTip() else (
            f"{button.text()!r} shows as {shown!r} with no tooltip")
    return None if button.width() >= button.sizeHint().width() else (
        f"{button.text()!r} is {button.width()} px of {button.sizeHint().width()}")


def header_problems(view: QAbstractItemView, orientation=Qt.Orientation.Horizontal) -> list[str]:
    """Each visible header section whose title neither fits nor is cut with "…" and tipped
    whole (the header's font metrics, its style's margins and the sort indicator)."""
    header = (view.horizontalHeader() if orientation == Qt.Orientation.Horizontal
              else view.verticalHeader())
    model, fm = view.model(), header.fontMetrics()
    style = header.style()
    margin = style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    problems = []
    for section in range(header.count()):
        if header.isSectionHidden(section):
            continue
        text = model.headerData(section, orientation, Qt.ItemDataRole.DisplayRole) or ""
        lines = text.split("\n")
        if orientation == Qt.Orientation.Horizontal:
            need = max(fm.horizontalAdvance(line) for line in lines) + 2 * margin
            if header.isSortIndicatorShown() and header.sortIndicatorSection() == section:
                need += style.pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, header)
            have = header.sectionSize(section)
        else:
            need = max(fm.horizontalAdvance(line) for line in lines) + 2 * margin
            have = header.width()
        if have >= need:
            continue
        tip = model.headerData(section, orientation, Qt.ItemDataRole.ToolTipRole) or ""
        if header.textElideMode() == Qt.TextElideMode.ElideNone or " ".join(lines) not in tip:
            problems.append(f"header {' '.join(lines)!r}: {have} px of {need}, "
                            f"{'no ellipsis' if not tip else 'tooltip ' + repr(tip)}")
    return problems


def metric_name_problems(win: MainWindow) -> list[str]:
    table = win.training_view.metrics_table.table
    style = table.style()
    pad = 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1)
    problems = []
    for row in range(table.rowCount()):
        item = table.item(row, 0)
        need = QFontMetrics(item.font()).horizontalAdvance(item.text()) + pad
        if table.columnWidth(0) >= need:
            continue
        name = item.text().removesuffix(PRIMARY_MARK)
        if table.textElideMode() == Qt.TextElideMode.ElideNone or name not in item.toolTip():
            problems.append(f"metric {name!r}: {table.columnWidth(0)} px of {need}")
    return problems


def panel_problems(panel: QWidget) -> list[str]:
    """Every visible label and heading of a settings panel: readable, and not cut off
    sideways by the panel's scroll area."""
    problems = [label_problem(w) or clipped(w) for w in panel.findChildren(QLabel)]
    problems += [button_problem(w) or clipped(w)
                 for w in [*panel.findChildren(QPushButton), *panel.findChildren(QToolButton)]
                 if w.text() and not isinstance(w.parent(), QAbstractScrollArea)]
    return [p for p in problems if p]


def placeholder_problem(edit) -> str | None:
    """A line edit's hint, whole in its text area (the edit's width less what its smallest
    size keeps beside the text: frame, margins, the clear button)."""
    fm = edit.fontMetrics()
    room = edit.width() - (edit.minimumSizeHint().width() - fm.maxWidth())
    need = fm.horizontalAdvance(edit.placeholderText())
    return None if need <= room else f"{edit.placeholderText()!r} needs {need} px, has {room}"


# -- the tests ------------------------------------------------------------------------------
def test_at_800_by_600_the_window_fits_and_every_key_label_reads(qtbot, trained):
    win = open_window(qtbot, trained, SMALL)
    assert win.minimumSizeHint().width() <= SMALL.width()
    assert win.minimumSizeHint().height() <= SMALL.height()
    visit_every_tab(qtbot, win)
    assert win.size() == SMALL  # not widened by a minimum size (it was 1142 wide)

    problems: list[str | None] = []
    # the metric table's metric names (below the curves at this width)
    win.select_tab("training")
    qtbot.wait(50)
    assert win.training_view.metrics_table.table.rowCount() >= 4
    problems += metric_name_problems(win)
    problems += header_problems(win.training_view.metrics_table.table)
    problems.append(label_problem(win.training_view.verdict))
    # the training bar: its buttons whole, the progress and time whole or cut and tipped
    bar = win.training_bar
    problems += [button_problem(b) for b in (bar.start_button, bar.pause_button,
                                             bar.stop_button, bar.compare_button)]
    progress: ElidedProgressBar = bar.progress
    assert progress.full_text().startswith("opened ")
    if progress.text() != progress.full_text():
        assert progress.text().endswith("…") and progress.full_text() in progress.toolTip()
    problems.append(label_problem(bar.detail))
    # the retrieval query box's hint and the R@K headers
    win.select_tab("retrieval")
    qtbot.wait(50)
    view = win.retrieval_view
    problems.append(placeholder_problem(view.query_edit))
    problems += header_problems(view.recall)
    problems += header_problems(view.recall, Qt.Orientation.Vertical)
    problems.append(clipped(view.recall))
    problems.append(clipped(view.query_edit))
    # the Runs table's headers (the table scrolls sideways: each header whole in it)
    win.select_tab("runs")
    qtbot.wait(50)
    problems += header_problems(win.runs_view.table)
    # the Data and Model panels' field labels and headings
    for index, panel in enumerate((win.data_panel, win.model_panel)):
        win.settings.setCurrentIndex(index)
        qtbot.wait(50)
        problems += panel_problems(panel)
    for area in (win.settings.widget(0), win.model_panel.findChild(QAbstractScrollArea)):
        if area.isVisible():
            assert not area.horizontalScrollBar().isVisible()
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
    assert win.size() == SMALL


def test_at_900_by_600_the_training_plots_keep_a_readable_width(qtbot, trained):
    win = open_window(qtbot, trained, QSize(900, 600))
    visit_every_tab(qtbot, win)
    assert win.size() == QSize(900, 600)
    plot = win.training_view.loss_plot
    for panel in plot.panels:  # the plotting area itself, not the widget around it
        assert panel.plot.vb.width() >= 200, panel.plot.vb.width()
        assert panel.plot.vb.height() >= 40, panel.plot.vb.height()
    assert not metric_name_problems(win)


def test_at_1600_by_1000_the_runs_table_shows_a_screenful(qtbot, trained):
    win = open_window(qtbot, trained, QSize(1600, 1000), copies=16)
    view = win.runs_view
    win.select_tab("runs")
    view.select(view.runs()[:1])  # the selected run's details must not take its rows
    qtbot.wait(100)
    table = view.table
    rows = table.viewport().height() // table.verticalHeader().defaultSectionSize()
    assert rows >= 12, f"the Runs table shows {rows} rows"
    assert not header_problems(table)


def started(algorithm: str, primary: str | None) -> FitStarted:
    return FitStarted(algorithm, "mean", 3, 1, 10, 100, 20, "cpu", 1000, None, primary=primary)


def test_a_run_without_metrics_gives_the_losses_all_the_height(qtbot):
    """A generating GAN's validation has no metric the metrics plot draws (D's outputs have
    the adversarial view): no empty "metric" plot under the losses."""
    view = TrainingView()
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    view.reset(started("adversarial", None))
    steps = [StepLogged(i, 1, i / 10, {"d_loss": 0.7, "g_loss": 0.69, "d_real": 0.5,
                                       "d_fake": 0.5, "loss": 1.4}, 1e-3, 8, 0.1 * i)
             for i in range(1, 11)]
    view.add_steps(steps)
    view.add_epochs([EpochEnded(1, 10, {"d_loss": 0.7}, {"d_loss": 0.7, "d_real": 0.5}, 1.0)])
    qtbot.wait(50)
    plot = view.loss_plot
    assert not plot.metrics_shown
    assert plot.losses.plot.height() > 0.8 * plot.graphics.height()
    # A classifier run (a primary metric) has its metrics plot from the start.
    view.reset(started("classifier", "macro_f1"))
    qtbot.wait(50)
    assert plot.metrics_shown and plot.metrics.plot.height() > 50
