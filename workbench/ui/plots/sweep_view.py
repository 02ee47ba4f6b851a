"""The Sweep tab: a hyperparameter search of the settings in the Model panel.

The settings searched are the ones whose search toggle (⌕) is on in the Model panel, over
the ranges typed there (the Session's ``search``). The tab names a study (a new one, or one
of the studies in the sweeps folder, which it shows and can continue), runs it off the GUI
thread (:class:`~workbench.ui.sweep_worker.SweepController`), and shows it live: the trial
table, the best value so far, every trial's learning curve (pruned ones faded), the
settings against the value (parallel coordinates) and the settings' importances. A trial's
run opens in the other tabs; the best trial's settings save as a preset.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHeaderView, QInputDialog, QLabel, QPushButton, QSpinBox,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from ...core.errors import WorkbenchError
from ..flow_layout import FlowLayout
from ..session import Session
from ..sweep_worker import SweepController, SweepRequest
from .sweep_plots import SweepPlots

STATE_COLOURS = {"running": QColor(46, 160, 67), "pruned": QColor(150, 150, 150),
                 "fail": QColor(198, 40, 40)}
REDRAW_MS = 250  # the plots follow the events at most four times a second
HINT = ("Turn on \u2315 beside the settings to search in the Model panel (its range shows "
        "under the setting), then Start.")


class SweepView(QWidget):
    run_opened = Signal(object)  # RunInfo of a trial's run

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.controller = SweepController(self)
        self.spec = None  # the shown study's SweepSpec
        self.rows: dict[int, dict] = {}
        self.study_name = ""
        self.url = ""
        # what changed since the last redraw: trials started or ended (the table and every
        # plot), or only a running trial's curve (an epoch: that curve alone)
        self._dirty = False
        self._curves_dirty = False
        self._known: dict = {}  # the sweeps folder's studies by name (StudyInfo)
        self._tasks: list = []  # background reads of the sweeps folder
        self._closing = False

        self.study = QComboBox()
        self.study.setEditable(True)
        self.study.setObjectName("study")
        self.study.setMinimumContentsLength(14)
        self.study.setToolTip("A new study's name, or one of the studies in the sweeps "
                              "folder (shown, and continued by Start)")
        self.trials = _spin(1, 10_000, 20, "Trials to run (more trials of the study)")
        self.jobs = _spin(1, 64, 1, "Trials at once, each in its own process with cores ÷ "
                          "jobs threads (1: in this process)")
        self.seeds = _spin(1, 20, 1, "Each trial is the mean over this many model seeds "
                           "(the split stays fixed)")
        self.prune = QCheckBox("Prune")
        self.prune.setChecked(True)
        self.prune.setToolTip("Stop a trial whose validation value falls below the median of "
                              "earlier trials at the same epoch")
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("sweep-start")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.space_label = QLabel(HINT)
        self.space_label.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(self._open_selected)
        self.open_button = QPushButton("Open run")
        self.open_button.setToolTip("Show the selected trial's run (its first seed's) in the "
                                    "Training, Attention, Embeddings and Retrieval tabs")
        self.save_button = QPushButton("Save best as preset…")
        self.plots = SweepPlots()

        controls = FlowLayout()  # wraps in a narrow window
        controls.add_widgets(QLabel("Study"), self.study)
        for label, spin in (("Trials", self.trials), ("Jobs", self.jobs),
                            ("Seeds", self.seeds)):
            controls.add_widgets(QLabel(label), spin)
        controls.addWidget(self.prune)
        controls.add_widgets(self.start_button, self.pause_button, self.stop_button)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 1)
        buttons = FlowLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.save_button)
        column.addLayout(buttons)
        self.table.setMinimumWidth(120)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(left)
        split.addWidget(self.plots)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([440, 560])  # the table's settings columns readable beside the plots
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.space_label)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

        self._redraw = QTimer(self)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._draw_if_dirty)
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.stop_button.clicked.connect(self.controller.stop)
        self.open_button.clicked.connect(self._open_selected)
        self.save_button.clicked.connect(self.save_best)
        self.study.currentTextChanged.connect(self._on_study_chosen)
        self.controller.opened.connect(self._on_opened)
        self.controller.event.connect(self._on_event)
        self.controller.importances.connect(self.plots.set_importances)
        self.controller.ended.connect(self._on_ended)
        self.controller.failed.connect(self._on_failed)
        self.controller.running_changed.connect(self._on_running_changed)
        session.search_changed.connect(self._show_space)
        session.preset_changed.connect(self._on_preset_changed)
        self.refresh_studies()
        self._update_enabled(False)
        self._show_space()
        self.plots.set_importances({})

    # -- studies -----------------------------------------------------------------------
    # Reading the sweeps folder and a study (SQLite, Optuna, the importances' fANOVA) takes
    # tens of milliseconds: it runs on a background thread, never on the GUI thread.
    @property
    def loading(self) -> bool:
        """A study or the list of studies is being read (tests wait for it)."""
        return bool(self._tasks)

    def _background(self, fn, done) -> None:
        from ..tasks import BackgroundTask
        if self._closing:
            return
        task = BackgroundTask(fn, self)
        self._tasks.append(task)
        task.succeeded.connect(done)
        task.failed.connect(lambda exc: self._say(str(exc), error=True))
        task.ended.connect(lambda: self._forget(task))
        task.start()

    def _forget(self, task) -> None:
        self._tasks.remove(task)
        task.deleteLater()

    def refresh_studies(self) -> None:
        """List the studies in the sweeps folder (the current name kept)."""
        from ...core.sweep.study import list_studies
        self._background(list_studies, self._on_studies_listed)

    def _on_studies_listed(self, studies: list) -> None:
        text = self.study.currentText() or self.session.preset_name or "untitled"
        self.study.blockSignals(True)
        self.study.clear()
        self._known = {s.name: s for s in studies}
        for info in studies:
            best = f"best {info.best:.4g}" if info.best is not None else "no value yet"
            self.study.addItem(info.name)
            self.study.setItemData(self.study.count() - 1,
                                   f"{info.preset}: {info.trials} trials, {info.metric} "
                                   f"{best}", Qt.ItemDataRole.ToolTipRole)
        self.study.setEditText(text)
        self.study.blockSignals(False)
        self._on_study_chosen(text)

    def _on_preset_changed(self, name: str, _modified: bool) -> None:
        if not self.controller.running and name and self.study.currentText() in ("", "untitled"):
            self.study.setEditText(name)

    def _on_study_chosen(self, name: str) -> None:
        """An existing study: shown, and Start continues it with its own settings."""
        if self.controller.running:
            return
        self.study_name = name.strip()
        existing = self._known.get(self.study_name)
        if existing is None:
            self.spec = None
            self.rows = {}
            self.plots.reset()
            self.start_button.setText("Start")
            self._update_enabled(False)
            self._draw()
            self.plots.set_importances({})
            self._show_space()
            return
        self.start_button.setText("Continue study")
        self._update_enabled(False)
        self._background(lambda: _read_study(existing.storage, existing.name),
                         self._on_study_read)

    def _on_study_read(self, read: tuple) -> None:
        name, spec, rows, shares = read
        if name != self.study_name or self.controller.running:
            return  # another study was chosen (or started) meanwhile
        self.seeds.setValue(spec.seeds)
        self.prune.setChecked(spec.pruner != "none")
        self._on_opened(spec, rows)
        self.plots.set_importances(shares)

    # -- starting ----------------------------------------------------------------------
    def request(self) -> SweepRequest:
        """What Start asks for (raises WorkbenchError saying what is missing or wrong)."""
        from ...core.sweep.space import build_space
        from ...core.sweep.study import check_study_name, default_storage
        name = check_study_name(self.study.currentText().strip())
        common = dict(name=name, trials=self.trials.value(), jobs=self.jobs.value())
        existing = self._known.get(name)
        if existing is not None and self.spec is not None:
            return SweepRequest(url=existing.storage, continue_spec=self.spec, **common)
        items = self.session.search_items()
        if not items:
            raise WorkbenchError("nothing to search: " + HINT)
        cfg = self.session.config
        build_space(items, cfg)  # a wrong range: said now, naming the setting
        table = self.session.table
        return SweepRequest(url=default_storage(name), seeds=self.seeds.value(),
                            prune=self.prune.isChecked(), config=cfg, params=tuple(items),
                            preset=self.session.preset_name or "untitled",
                            labelled=table.has_labels if table is not None else None,
                            **common)

    def start(self) -> None:
        if self.controller.running:
            return
        try:
            request = self.request()
        except WorkbenchError as exc:
            self._say(str(exc), error=True)
            return
        self.study_name, self.url = request.name, request.url
        self._say(f"Starting {request.trials} trials of {request.name!r}…")
        self.controller.start(request)

    def shutdown(self) -> None:
        """Stop a running sweep and wait for its threads (the window closes)."""
        self._closing = True
        if self.controller.running:
            self.controller.stop()
            self.controller.wait()
        for task in list(self._tasks):
            task.wait()

    # -- events ------------------------------------------------------------------------
    def _on_opened(self, spec, rows: list[dict]) -> None:
        self.plots.reset()
        self.spec = spec
        self.rows = {r["number"]: r for r in rows}
        self._show_space()
        self._draw()

    def _on_event(self, event: dict) -> None:
        kind = event["event"]
        if kind == "started":
            self.rows[event["number"]] = {"number": event["number"], "state": "running",
                                          "value": None, "params": event["params"],
                                          "seconds": None, "epochs": None, "reason": "",
                                          "runs": [], "intermediate": {}}
        elif kind == "epoch" and event["number"] in self.rows:
            self.rows[event["number"]]["intermediate"][event["epoch"]] = event["value"]
            self._curves_dirty = True
            return
        elif kind == "ended":
            row = self.rows.setdefault(event["number"], {"intermediate": {}})
            state = {"failed": "fail"}.get(event["state"], event["state"])
            row.update(number=event["number"], state=state, value=event["value"],
                       params=event["params"], seconds=event["seconds"],
                       epochs=event["epochs"], reason=event["reason"], runs=event["runs"])
        elif kind == "lost":
            for number in event["numbers"]:
                if number in self.rows:
                    self.rows[number]["state"] = "fail"
        elif kind == "error":
            self._say(event["message"], error=True)
        self._dirty = True  # the table, the plots and the progress line, at the next redraw

    def _on_ended(self, summary: dict) -> None:
        self._draw()
        if summary["best_trial"] is None:
            self._say(f"Ended: {summary['trials']} trials, none complete.")
        else:
            self._say(f"Ended: {summary['complete']} complete, {summary['pruned']} pruned, "
                      f"{summary['failed']} failed. Best: trial {summary['best_trial']}, "
                      f"{summary['metric']} {summary['best_value']:.4f} on validation.")

    def _on_failed(self, message: str) -> None:
        self._say(message, error=True)

    def _on_running_changed(self, running: bool) -> None:
        self._update_enabled(running)
        if not running:  # the study is in the sweeps folder now: listed, and continuable
            self.refresh_studies()

    def _update_enabled(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        for widget in (self.study, self.trials, self.jobs):
            widget.setEnabled(not running)
        # an existing study's trials are all scored alike: its seeds and pruner stay
        new = self.study_name not in self._known
        for widget in (self.seeds, self.prune):
            widget.setEnabled(not running and new)
        if not running:
            self.pause_button.setChecked(False)
            self._redraw.stop()
        else:
            self._redraw.start()

    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self.controller.pause()
            self.pause_button.setText("Resume")
        else:
            self.controller.resume()
            self.pause_button.setText("Pause")
        self._say_progress()

    # -- actions -----------------------------------------------------------------------
    def selected_row(self) -> dict | None:
        items = self.table.selectedItems()
        if not items:
            return None
        return self.rows.get(int(self.table.item(items[0].row(), 0).text()))

    def _open_selected(self, *_args) -> None:
        from ...core.runs.store import load_run
        row = self.selected_row()
        if row is None or not row.get("runs"):
            self._say("Select a trial that has a run (a failed trial may have none).")
            return
        try:
            self.run_opened.emit(load_run(Path(row["runs"][0])))
        except WorkbenchError as exc:
            self._say(str(exc), error=True)

    def best_row(self) -> dict | None:
        from ...core.sweep.analysis import best_so_far
        if self.spec is None:
            return None
        best = best_so_far(list(self.rows.values()), self.spec.direction)
        if not best:
            return None
        return next(r for r in self.rows.values() if r["state"] == "complete"
                    and r["value"] == best[-1][1])

    def save_best(self, name: str | None = None) -> Path | None:
        """Save the best trial's settings as a user preset (asks for the name)."""
        from ...core.presets import save_user_preset
        from ...core.sweep.plan import best_preset
        row = self.best_row()
        if row is None:
            self._say("No complete trial yet: nothing to save.")
            return None
        if name is None:
            name, ok = QInputDialog.getText(self, "Save best as preset", "Preset name",
                                            text=f"{self.study_name}-best")
            if not ok or not name.strip():
                return None
        try:
            cfg = best_preset(self.spec, self.study_name, row["number"], row["value"],
                              row["params"])
            path = save_user_preset(cfg, name.strip())
        except WorkbenchError as exc:
            self._say(str(exc), error=True)
            return None
        self._say(f"Saved trial {row['number']}'s settings as the preset {name.strip()!r}.")
        return path

    # -- showing -----------------------------------------------------------------------
    def _show_space(self, *_args) -> None:
        if self.spec is not None and self.study_name in self._known:
            texts = self.spec.space.texts()
            what = f"Study {self.study_name!r} ({self.spec.preset}) searches "
            tail = (f"; scored by {self.spec.metric} on validation"
                    f"{f', mean of {self.spec.seeds} seeds' if self.spec.seeds > 1 else ''}.")
        else:
            texts = {k: t or "its default range" for k, t in self.session.search.items()}
            what = "Searching "
            tail = "."
        if not texts:
            self.space_label.setText(HINT)
            return
        self.space_label.setText(what + "; ".join(f"{k} over {t}" for k, t in texts.items())
                                 + tail)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c62828;" if error else "")
        self.status.setText(text)

    def _say_progress(self) -> None:
        rows = list(self.rows.values())
        running = [r["number"] for r in rows if r["state"] == "running"]
        done = sum(r["state"] in ("complete", "pruned", "fail") for r in rows)
        best = self.best_row()
        parts = [f"{done} trials done"]
        if running:
            parts.append("running " + ", ".join(f"#{n}" for n in running))
        if best is not None:
            parts.append(f"best #{best['number']}: {self.spec.metric} {best['value']:.4f}")
        if self.controller.paused:
            parts.append("paused")
        self._say(" · ".join(parts))

    def _draw_if_dirty(self) -> None:
        if self._dirty:
            self._draw()
        elif self._curves_dirty and self.spec is not None:
            self._curves_dirty = False
            self.plots.update_curves(sorted(self.rows.values(), key=lambda r: r["number"]),
                                     self.spec.direction, self.spec.metric)
        else:
            return
        if self.controller.running:
            self._say_progress()

    def _draw(self) -> None:
        self._dirty = self._curves_dirty = False
        rows = sorted(self.rows.values(), key=lambda r: r["number"])
        self._fill_table(rows)
        if self.spec is not None:
            self.plots.set_rows(rows, self.spec.space.to_json(), self.spec.direction,
                                self.spec.metric)
        else:
            self.plots.set_rows([], [], "maximize", "value")

    def _fill_table(self, rows: list[dict]) -> None:
        keys = self.spec.space.keys if self.spec is not None else []
        metric = self.spec.metric if self.spec is not None else "value"
        headers = ["#", "State", metric, *[k.rpartition(".")[2] for k in keys], "Epochs",
                   "Time (s)", "Note"]
        selected = self.selected_row()
        self.table.setSortingEnabled(False)
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        for i, key in enumerate(keys):
            self.table.horizontalHeaderItem(3 + i).setToolTip(key)
        self.table.setRowCount(len(rows))
        best = self.best_row()
        for r, row in enumerate(rows):
            value = row["value"]
            cells = [str(row["number"]), {"fail": "failed"}.get(row["state"], row["state"]),
                     f"{value:.4f}" if isinstance(value, float) and math.isfinite(value)
                     else "",
                     *[_value(row["params"].get(k)) for k in keys],
                     "" if row.get("epochs") is None else str(row["epochs"]),
                     "" if row.get("seconds") is None else f"{row['seconds']:.1f}",
                     row.get("reason") or ""]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                colour = STATE_COLOURS.get(row["state"])
                if colour is not None:
                    item.setForeground(QBrush(colour))
                if best is not None and row["number"] == best["number"]:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                if c == len(cells) - 1:
                    item.setToolTip(text)
                self.table.setItem(r, c, item)
            if selected is not None and row["number"] == selected["number"]:
                self.table.selectRow(r)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)


def _read_study(url: str, name: str) -> tuple:
    """(name, spec, trial rows, importances) of a stored study (a background thread)."""
    from ...core.sweep.analysis import importances, trial_rows
    from ...core.sweep.study import load_existing, open_storage
    study, spec = load_existing(open_storage(url), name)
    return name, spec, trial_rows(study), importances(study)


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin
