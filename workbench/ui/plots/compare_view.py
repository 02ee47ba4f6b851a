"""The "Compare fusions" tab: one row per fusion (mean ± standard deviation over its seeds),
filled in as each run of the sequence ends; a winner named and highlighted only when it beats
the seeds' noise and chance; and every run's validation curve on one plot.

Fed by a :class:`~workbench.ui.worker.TrainingController` running ``start_many``: it listens
only between a sequence's first ``run_started`` and its final finished/stopped/failed, so
ordinary single runs on the same controller leave it alone. Every number and the verdict come
from :mod:`workbench.core.evaluation.compare` (``summarize``, ``aggregate``, ``verdict``), the
same as ``workbench compare`` prints; this module only lays them out.

With "Zero-shot CLIP row" ticked, a last row shows the baseline with no training (a CLIP
model's two towers on the same split and metrics, :mod:`.zero_shot_baseline`), a dashed line
marks it on the plot, and the verdict says whether the best fusion beats it.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QHeaderView, QLabel, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ...core.algorithms import ALGORITHMS
from ...core.evaluation import compare
from ...core.evaluation.rules import CHANCE_MARGIN
from ...core.evaluation.names import title
from ...core.fusion import FUSIONS
from ...core.training.events import EpochEnded, FitEnded
from ..flow_layout import FlowLayout
from .loss_plot import PALETTE, configure_curve, style_plot
from .zero_shot_baseline import ZeroShotBaseline

COLUMNS = ("fusion", "runs", "status", "val", "test", "secondary", "best epoch", "time")
FUSION, RUNS, STATUS, VAL, TEST, SECONDARY, BEST, TIME = range(len(COLUMNS))
WINNER_BRUSH = QBrush(QColor("#d8f0d2"))  # a light green: the winner's row
AT_CHANCE_GREY = "#9a9a9a"
INTRO = "Train the current setup on every valid fusion to see whether one wins on this data."
# A status cell's colour: the first of these its text holds ("2 finished, 1 failed": red).
STATUS_COLOURS = {"failed": "#c62828", "stopped": "#8a6d00", "running": "#1f77b4",
                  "waiting": "#808080", "not run": "#808080", "unavailable": "#8a6d00",
                  "scoring": "#1f77b4"}
BASELINE_COLOUR = "#555555"  # the zero-shot row and its line on the plot
REPEATS_TIP = (
    "Each fusion trains on this many seeds (seed, seed + 1, …), the train/validation/test "
    "split fixed, so every run is scored on the same pairs.<br>The table shows the mean ± "
    "standard deviation over the seeds. A winner is named only when it beats the runner-up "
    f"by more than the seeds' noise ({compare.NOISE_FACTOR:g} standard errors of the "
    "difference of the means) and beats chance.<br>With 1 seed the noise is not measured; "
    "3 measures it.")


def fusion_colour(name: str) -> str:
    """A fusion's colour, the same in every comparison (its place in the registry)."""
    names = list(FUSIONS)
    return PALETTE[names.index(name) % len(PALETTE)] if name in names else PALETTE[-1]


class CompareView(QWidget):
    """Results of a Compare-fusions sequence: the seeds control, the per-fusion table with
    the verdict, and the overlaid validation curves."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("<b>Compare fusions</b>")
        self.repeats_box = QSpinBox()
        self.repeats_box.setRange(1, compare.MAX_REPEATS)
        self.repeats_box.setValue(1)
        self.repeats_box.setToolTip(REPEATS_TIP)
        seeds_label = QLabel("Seeds per fusion:")
        seeds_label.setToolTip(REPEATS_TIP)
        seeds_label.setBuddy(self.repeats_box)
        self.save_button = QPushButton("Save plot…")
        self.save_button.setToolTip("Save the curves as a PNG or SVG picture")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.baseline = ZeroShotBaseline(self)
        self.baseline.changed.connect(self._refresh)
        head = FlowLayout(spacing=12)  # wraps in a narrow view
        head.addWidget(self.title)
        head.add_widgets(self.baseline.checkbox, self.baseline.prompt_edit)
        head.add_widgets(seeds_label, self.repeats_box)
        head.addWidget(self.save_button)
        # Its own line, wrapped: a verdict's reason is a sentence.
        self.status = QLabel(INTRO)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().lineSpacing() + 8)
        header = self.table.horizontalHeader()
        # Every column as wide as its text, none stretched: the numbers stay next to the
        # fusion's name and status instead of across a wide gap.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.chance_label = QLabel()
        self.chance_label.setStyleSheet(f"color: {AT_CHANCE_GREY}")
        self.baseline_note = QLabel()  # which model and prompt, or why there is no row
        self.baseline_note.setWordWrap(True)
        self.baseline_note.setStyleSheet(f"color: {BASELINE_COLOUR}")
        self.baseline_note.setVisible(False)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.chance_label)
        top_layout.addWidget(self.baseline_note)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot = self.graphics.addPlot(row=0, col=0)
        style_plot(self.plot, "validation", bottom="epoch")
        self.plot.getAxis("left").setWidth(48)
        self.legend_cell = pg.GraphicsWidget()
        self.graphics.addItem(self.legend_cell, row=0, col=1)
        self.legend = pg.LegendItem(size=(1, 1), verSpacing=-6, labelTextColor="k",
                                    labelTextSize="9pt")
        self.legend.setParentItem(self.legend_cell)
        self.baseline_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(BASELINE_COLOUR, width=1.5,
                                                 style=Qt.PenStyle.DashLine),
            label="zero-shot CLIP", labelOpts={"position": 0.02, "color": BASELINE_COLOUR,
                                               "anchors": [(0, 1), (0, 1)]})
        self.baseline_line.setVisible(False)
        self.plot.addItem(self.baseline_line, ignoreBounds=False)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.graphics)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

        self.configs: list = []  # the sequence's configs by run index (None: not yet known)
        self.total = 0
        self.current: int | None = None
        self.active = False  # between a sequence's first run_started and its end
        self.ended: dict[int, FitEnded] = {}
        self.history: dict[int, list[EpochEnded]] = {}
        self.curves: dict[int, pg.PlotDataItem] = {}
        self._legend_fusions: set[str] = set()
        self._tick_spacing: tuple = ()
        self.metric_name = compare.FALLBACK
        self._final: FitEnded | None = None
        self._progress = ""  # what is running, while a sequence runs

    @property
    def repeats(self) -> int:
        """Seeds per fusion for the next comparison (the header's spin box)."""
        return self.repeats_box.value()

    # -- feeding ---------------------------------------------------------------------
    def connect_controller(self, controller) -> None:
        """Follow ``controller``'s ``start_many`` sequences (a ``TrainingController``)."""
        controller.run_started.connect(self.start_run)
        controller.epochs_ended.connect(self.add_epochs)
        controller.run_ended.connect(self.end_run)
        for signal in (controller.finished, controller.stopped, controller.failed):
            signal.connect(self.end_sequence)

    def reset(self, configs=()) -> None:
        """Forget the last comparison; ``configs`` (the sequence about to run) fill the
        table with waiting rows."""
        self.configs = list(configs)
        self.total = len(self.configs)
        self.current = None
        self.active = False
        self.ended.clear()
        self.history.clear()
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves.clear()
        self.legend.clear()
        self._legend_fusions.clear()
        self.legend_cell.setMinimumSize(0, 0)
        self._final = None
        self._progress = f"{self.total} runs to go" if self.total else ""
        self.status.setText(self._progress or INTRO)
        first = next((c for c in self.configs if c is not None), None)
        self.baseline.set_config(first, running=first is not None)  # refreshes

    def start_run(self, index: int, total: int, cfg) -> None:
        """Run ``index`` of ``total`` starts (``TrainingController.run_started``)."""
        if index == 0 and (self.active or self._final is not None or self.total != total):
            self.reset([cfg] + [None] * (total - 1))  # a sequence the view was not told of
        self.active = True
        self.repeats_box.setEnabled(False)  # it sets up the next comparison, not this one
        self.total = total
        while len(self.configs) < total:
            self.configs.append(None)
        self.configs[index] = cfg
        self.current = index
        self.history[index] = []
        name = cfg.fusion.name
        colour = fusion_colour(name)
        curve = configure_curve(pg.PlotDataItem(
            pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
            symbolPen=pg.mkPen(colour), symbolBrush=pg.mkBrush(colour), name=name))
        self.plot.addItem(curve)
        self.curves[index] = curve
        if name not in self._legend_fusions:  # one entry per fusion; its seeds share it
            self._legend_fusions.add(name)
            self._add_to_legend(curve)
        seed = f", seed {cfg.seed}" if len(self._plan()[name]) > 1 else ""
        self._progress = f"Training <b>{name}</b>{seed} (run {index + 1} of {total})…"
        self._refresh()

    def add_epochs(self, epochs: list[EpochEnded]) -> None:
        """Validation values of the running run (``TrainingController.epochs_ended``)."""
        if not self.active or self.current is None:
            return  # an ordinary run, not part of a comparison
        self.history[self.current].extend(epochs)
        self._refresh()

    def end_run(self, end: FitEnded) -> None:
        """The running run ended (``TrainingController.run_ended``)."""
        if not self.active or self.current is None:
            return
        self.ended[self.current] = end
        self.current = None
        self._refresh()

    def end_sequence(self, end: FitEnded) -> None:
        """The whole sequence ended (finished, stopped or failed)."""
        if not self.active:
            return
        self.active = False
        self.repeats_box.setEnabled(True)
        self._final = end
        self.baseline.runs_ended()  # scores the zero-shot row when asked for; refreshes

    # -- reading ---------------------------------------------------------------------
    def rows(self) -> list[dict]:
        """The table's rows, one per fusion in the sequence's order.

        A fusion with runs that ended has :func:`compare.aggregate`'s row over them (``mean``
        and ``std`` over its seeds, ``test_mean``, ``chance``, ``at_chance``, ...), with
        ``status`` extended by its runs still waiting or not run; one with none has the
        same keys, empty. Every row adds ``planned`` (its runs in the sequence) and, while
        one of its runs trains, ``live_value`` (that run's latest validation value),
        ``live_seconds`` and a ``status`` of ``running · epoch e/E`` (with ``(seed s)``
        when the fusion has several seeds).
        """
        metric = self.metric_name = self._metric()
        done = sorted(self.ended)
        runs = compare.summarize([self.ended[i] for i in done], [self.configs[i] for i in done],
                                 [self.history.get(i, []) for i in done], metric=metric) \
            if done else []
        fusions = {f["fusion"]: f for f in compare.aggregate(runs)}
        out = []
        for fusion, indices in self._plan().items():
            row = dict(fusions.get(fusion) or _empty_row(fusion, metric))
            row.update(planned=len(indices), live_value=None, live_seconds=0.0)
            left = len(indices) - row["runs"]
            if self.current in indices:
                cfg = self.configs[self.current]
                hist = self.history.get(self.current, [])
                vals = [e.val[metric] for e in hist if metric in e.val]
                row["live_value"] = vals[-1] if vals else None
                row["live_seconds"] = hist[-1].seconds if hist else 0.0
                seed = f" (seed {cfg.seed})" if len(indices) > 1 else ""
                row["status"] = f"running · epoch {hist[-1].epoch if hist else 0}/" \
                                f"{cfg.training.epochs}{seed}"
            elif left:
                waiting = "not run" if self._final is not None else "waiting"
                done = row["status"] if row["status"][:1].isdigit() else \
                    f"{row['runs']} {row['status']}"  # aggregate's one run: a bare word
                row["status"] = f"{done}, {left} {waiting}" if row["runs"] else waiting
            out.append(row)
        return out

    def verdict(self) -> compare.Verdict:
        """:func:`compare.verdict` over the fusions that ran: every one once the sequence has
        ended; while it runs, only those whose runs have all ended (so a winner then is
        only "leading so far")."""
        return self._verdict(self.rows())

    def winner(self) -> str | None:
        """The fusion named the winner once the sequence has ended; None while it runs and
        when there is no clear winner."""
        return self.verdict().winner if self._final is not None else None

    def _verdict(self, rows: list[dict]) -> compare.Verdict:
        ran = [r for r in rows if r["runs"] and (self._final is not None
                                                   or r["runs"] == r["planned"])]
        cfg = next((c for c in self.configs if c is not None), None)
        no_primary = ALGORITHMS[cfg.algorithm.name].no_primary if cfg is not None else ""
        return compare.verdict(ran, no_primary=no_primary)

    def _metric(self) -> str:
        # compare.compared_metric, as the CLI ranks by: the primary metric, else the loss.
        return compare.compared_metric(
            [c for c in self.configs if c is not None],
            [e.metrics for e in self.ended.values()]
            + [e.val for h in self.history.values() for e in h])

    def _plan(self) -> dict[str, list[int]]:
        """Run indices per fusion, in the order the fusions come."""
        plan: dict[str, list[int]] = {}
        for i, cfg in enumerate(self.configs):
            if cfg is not None:
                plan.setdefault(cfg.fusion.name, []).append(i)
        return plan

    # -- drawing ---------------------------------------------------------------------
    def baseline_row(self) -> dict | None:
        """The zero-shot row on the compared metric (:func:`compare.zero_shot_row`, with its
        state in ``status``); None when the box is not ticked."""
        return self.baseline.row(self.metric_name)

    def shutdown(self) -> None:
        """Wait for zero-shot scoring in progress (before the window closes)."""
        self.baseline.shutdown()

    def _refresh(self) -> None:
        rows = self.rows()
        result = self._verdict(rows)
        won = result.winner if self._final is not None else None  # only a real winner
        baseline = self.baseline_row()
        self._set_headers(rows)
        shown = rows + ([baseline] if baseline is not None else [])
        if self.table.rowCount() != len(shown):
            self.table.setRowCount(len(shown))
            self._fit_table_height()
        for r, row in enumerate(shown):
            self._fill_row(r, row, row["fusion"] == won and not row.get("zero_shot"))
        note = self.baseline.note(baseline)
        self.baseline_note.setText(note)
        self.baseline_note.setVisible(bool(note))
        value = baseline["mean"] if baseline is not None else None
        self.baseline_line.setVisible(value is not None)
        if value is not None:
            self.baseline_line.setValue(value)
        for i, curve in self.curves.items():
            epochs = [e for e in self.history.get(i, []) if self.metric_name in e.val]
            curve.setData(np.array([e.epoch for e in epochs], dtype=np.float64),
                          np.array([e.val[self.metric_name] for e in epochs], dtype=np.float64))
            fusion = self.configs[i].fusion.name
            curve.setPen(pg.mkPen(fusion_colour(fusion), width=3.5 if fusion == won else 2))
            curve.setZValue(1 if fusion == won else 0)
        self._show_status(result)

    def _set_headers(self, rows: list[dict]) -> None:
        metric = self.metric_name
        name = compare.column_title(metric)
        secondary = compare.SECONDARY.get(metric)
        lower = "" if compare.higher_is_better(metric) else " (lower is better)"
        heads = {
            VAL: (f"val {name}", f"{name} of the model each run handed over, on the "
                  "validation split: the mean ± standard deviation over the fusion's seeds"
                  f"{lower}. The verdict is decided on this column."),
            TEST: (f"test {name}", f"{name} on the test split (mean ± standard deviation): "
                   "shown beside the validation score, never used to pick the winner."),
            SECONDARY: (title(secondary) if secondary else "",
                        f"mean {title(secondary)} on the validation split" if secondary
                        else ""),
            RUNS: ("runs", "runs that finished of the runs planned for this fusion"),
            BEST: ("best epoch", f"the epoch with the best validation {name} (the most "
                   "common over seeds)"),
            TIME: ("time", "training time of the fusion's runs, together")}
        for column, (text, tip) in heads.items():
            item = self.table.horizontalHeaderItem(column)
            item.setText(text)
            item.setToolTip(tip)
        self.table.setColumnHidden(SECONDARY, secondary is None)
        self.plot.setLabel("left", f"validation {name}")
        # Whole epochs: pyqtgraph's own ticks put 1.5 between two of a few epochs.
        epochs = max((c.training.epochs for c in self.configs if c is not None), default=0)
        spacing = (1, 1) if 0 < epochs <= 10 else ()
        if spacing != self._tick_spacing:  # setting it repaints the axis
            self._tick_spacing = spacing
            self.plot.getAxis("bottom").setTickSpacing(*spacing)
        chance = next((r["chance"] for r in rows if r["chance"] is not None), None)
        self.chance_label.setText("" if chance is None else
                                  f"chance: {name} {chance:.3f} on the validation split")
        self.chance_label.setVisible(chance is not None)

    def _fit_table_height(self) -> None:
        # Every fusion's row in view (there are at most as many as fusions), with room for
        # the horizontal scroll bar of a narrow window: a scrolled table would hide a result.
        rows = self.table.verticalHeader().defaultSectionSize() * max(self.table.rowCount(), 1)
        self.table.setMinimumHeight(rows + self.table.horizontalHeader().sizeHint().height()
                                    + self.table.horizontalScrollBar().sizeHint().height()
                                    + 2 * self.table.frameWidth() + 2)

    def _fill_row(self, r: int, row: dict, won: bool) -> None:
        if row["test_size"] == 0:
            test = "no test split"
        else:
            test = compare.mean_text(row["test_mean"], row["test_std"])
        value = compare.mean_text(row["mean"], row["std"])
        if not value and row["live_value"] is not None:
            value = f"{row['live_value']:.3f}"  # the running run's latest
        seconds = row["seconds"] + row["live_seconds"]
        runs = "—" if row.get("zero_shot") else f"{row['finished']}/{row['planned']}"
        cells = [("★ " if won else "") + row["fusion"], runs,
                 row["status"], value, test, compare.mean_text(row["secondary_mean"], None),
                 "" if row["best_epoch"] is None else str(row["best_epoch"]),
                 f"{seconds:.1f} s" if seconds else ""]
        grey = bool(row["at_chance"])
        tip = ""
        if grey:
            name = compare.column_title(row["metric"])
            tip = (f"{row['fusion']}'s mean {name}, {row['mean']:.3f}, is within "
                   f"{CHANCE_MARGIN:g} standard errors of chance ({row['chance']:.3f}): no "
                   "evidence that it learned anything")
        elif row["live_value"] is not None and row["mean"] is None:
            tip = "the running run's latest validation value"
        font = QFont(self.table.font())
        font.setBold(won)
        for c, text in enumerate(cells):
            item = self.table.item(r, c)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(r, c, item)
            item.setText(text)
            item.setFont(font)
            item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter | (
                Qt.AlignmentFlag.AlignLeft if c in (FUSION, STATUS) else
                Qt.AlignmentFlag.AlignRight))
            item.setBackground(WINNER_BRUSH if won else QBrush())
            item.setForeground(QBrush(QColor(AT_CHANCE_GREY)) if grey else QBrush())
            item.setToolTip(tip)
        if row["reason"]:
            self.table.item(r, STATUS).setToolTip(row["reason"])
        if row.get("zero_shot"):
            self._style_baseline_row(r, row, grey)
            return
        if not grey:
            self.table.item(r, FUSION).setForeground(QBrush(QColor(fusion_colour(row["fusion"]))))
            colour = next((c for s, c in STATUS_COLOURS.items() if s in row["status"]), None)
            if colour:
                self.table.item(r, STATUS).setForeground(QBrush(QColor(colour)))

    def _style_baseline_row(self, r: int, row: dict, grey: bool) -> None:
        """The zero-shot row apart from the fusions': italic, its own colour, what it is in
        every cell's tooltip."""
        about = self.baseline.note(row)
        for c in range(len(COLUMNS)):
            item = self.table.item(r, c)
            font = item.font()
            font.setItalic(True)
            item.setFont(font)
            if not grey:
                item.setForeground(QBrush(QColor(BASELINE_COLOUR)))
            if c != STATUS or not row["reason"]:
                item.setToolTip(about or item.toolTip())
        colour = next((c for s, c in STATUS_COLOURS.items() if s in row["status"]), None)
        if colour and not grey:
            self.table.item(r, STATUS).setForeground(QBrush(QColor(colour)))

    def _show_status(self, result: compare.Verdict) -> None:
        if self._final is None:
            if self._progress:
                lead = f" &nbsp; leading so far: <b>{html.escape(result.winner)}</b>" \
                    if self.active and result.winner else ""
                self.status.setText(self._progress + lead)
            return
        if self._final.status == "failed":  # the sequence itself (a run's failure is a row)
            reason = self._final.reason.splitlines()[0] if self._final.reason else ""
            self.status.setText(f"<span style='color:#c62828'>Failed:</span> "
                                f"{html.escape(reason)}")
            return
        text = verdict_html(result)
        baseline = self.baseline_row()
        if baseline is not None and (baseline["mean"] is not None or baseline["reason"]):
            text += "<br>Baseline: " + html.escape(
                compare.baseline_verdict(self.rows(), baseline))
        self.status.setText(("Stopped. " if self._final.status == "stopped" else "") + text)

    def _add_to_legend(self, curve: pg.PlotDataItem) -> None:
        # Sized from the rows' preferred heights, as the loss plot's legend (see CurvePanel).
        self.legend.addItem(curve, curve.name())
        size = self.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        self.legend.setGeometry(0, 0, size.width(), size.height())
        self.legend_cell.setMinimumSize(size.width() + 4, size.height())

    def _on_save_clicked(self) -> None:
        from ..plot_export import ask_and_export
        ask_and_export(self, self.plot, "compare-fusions.png")


def verdict_html(result: compare.Verdict) -> str:
    """``Winner: <b>X</b> — reason`` or ``No clear winner — reason`` (the verdict's own
    "no clear winner:" prefix folded into the heading)."""
    reason = result.reason
    if result.winner:
        reason = reason.removeprefix(result.winner + " ")  # "mean beats ..." -> "beats ..."
        return f"Winner: <b>{html.escape(result.winner)}</b> — {html.escape(reason)}"
    for prefix, head in (("no clear winner: ", "No clear winner"), ("no winner: ", "No winner")):
        if reason.startswith(prefix):
            return f"{head} — {html.escape(reason[len(prefix):])}"
    return f"No winner — {html.escape(reason)}"


def _empty_row(fusion: str, metric: str) -> dict:
    """An :func:`compare.aggregate` row for a fusion none of whose runs has ended."""
    return {"fusion": fusion, "runs": 0, "finished": 0, "status": "", "metric": metric,
            "values": [], "mean": None, "std": None, "test_mean": None, "test_std": None,
            "test_size": None, "secondary": compare.SECONDARY.get(metric),
            "secondary_mean": None, "chance": None, "spread": None, "at_chance": None,
            "best_epoch": None, "seconds": 0.0, "reason": "", "run_dirs": []}


if __name__ == "__main__":
    import argparse

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ...core import config as C
    from .. import worker

    # A real comparison: python -m workbench.ui.plots.compare_view [preset] [key=value ...]
    parser = argparse.ArgumentParser(description="Preview the Compare tab on a real "
                                     "comparison.")
    parser.add_argument("preset", nargs="?", default="presets/classifier-attention-emoji.toml")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument("--repeats", type=int, default=1, help="seeds per fusion")
    parser.add_argument("--fusions", metavar="A,B,...", help="only these fusions")
    parser.add_argument("--zero-shot", action="store_true",
                        help="tick the zero-shot CLIP row (model.image_model: a CLIP model)")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save a picture of the tab when the sequence ends, then quit")
    args = parser.parse_args()
    if "=" in args.preset:  # only overrides were given
        args.overrides.insert(0, args.preset)
        args.preset = parser.get_default("preset")
    app = QApplication([])
    cfg = C.apply_overrides(C.load(args.preset), args.overrides or ["training.epochs=5"])
    view = CompareView()
    view.repeats_box.setValue(args.repeats)
    view.baseline.checkbox.setChecked(args.zero_shot)
    configs = compare.fusion_variants(cfg, args.fusions.split(",") if args.fusions else None,
                                      repeats=view.repeats)
    controller = worker.TrainingController()
    view.connect_controller(controller)
    view.reset(configs)
    view.resize(1000, 720)
    view.show()
    if args.screenshot:
        def _save(_end=None) -> None:  # after the view's own end_sequence, connected first
            if view.baseline.state in ("waiting", "scoring"):  # the zero-shot row comes next
                QTimer.singleShot(200, _save)
                return
            QTimer.singleShot(200, lambda: (view.grab().save(args.screenshot), app.quit()))
        for signal in (controller.finished, controller.stopped, controller.failed):
            signal.connect(_save)
    controller.start_many(configs, None)
    app.aboutToQuit.connect(controller.shutdown)
    app.exec()
    view.shutdown()
    # Free the Qt objects before Python tears down: PySide6 can crash at exit otherwise.
    view.deleteLater()
    app.processEvents()
