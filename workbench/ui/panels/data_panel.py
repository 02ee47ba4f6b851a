"""The Data panel: choose a source, load it off the GUI thread, preview and summarise it.

The panel pursues a *target* config (the session's, or a source the user just opened) and
writes the ``data.*`` keys into the :class:`~workbench.ui.session.Session` only when that
target has loaded, together with the table. So the session's config always describes the
table it holds, a failed load leaves both as they were, and the panel's own write-back is
recognised (same load key) instead of starting another load. Changes to the session from
elsewhere (a preset, the image size) that alter what is loaded start a reload.

While a load runs the controls stay usable: a new request does not cancel the running one
(``load_pairs`` has no cancel flag) but is queued, latest wins, and the superseded result is
dropped unseen.

Under the summary, :class:`.features_row.FeaturesRow` computes a pretrained encoder's
features of the loaded table in the background, when the config has one.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEventLoop, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFormLayout, QHBoxLayout, QLabel,
                               QMessageBox, QProgressBar, QPushButton, QToolButton, QVBoxLayout,
                               QWidget)

from ...core import config as C
from ...core.data import DataError
from ...core.data.sources.builtin import BUILTINS
from ...core.errors import WorkbenchError
from ..flow_layout import FlowLayout
from ..tasks import BackgroundTask
from .column_dialog import ColumnMappingDialog, is_column_error, read_header
from .data_loading import LoadProgress, load_table
from .features_row import FeaturesRow
from .open_source_menu import OpenSourceMenu
from .pair_table_model import PairTableModel, short_source, summary_rows
from .pair_table_view import PairTableView
from .recent_sources import RecentSources
from .skipped_dialog import SkippedRowsDialog

log = logging.getLogger(__name__)

# the data.* keys that change what is loaded (the memory limit and streaming: whether it
# loads at all, and whether a large sharded source streams)
LOAD_KEYS = ("source", "images", "format", "text_column", "image_column", "label_column",
             "on_error", "allow_outside_paths", "max_caption_lines", "max_memory_gb",
             "streaming")
BUILTIN_SOURCES = [f"builtin:{name}" for name in BUILTINS]
THUMBNAIL = 40


def load_key(cfg: C.ExperimentConfig) -> tuple:
    """What decides the loaded table: the ``data.*`` load keys and the image size."""
    return tuple(getattr(cfg.data, k) for k in LOAD_KEYS) + (cfg.preprocess.image_size,)


class DataPanel(QWidget):
    """Source, options, load progress, summary and a preview of the loaded pairs."""

    loading_changed = Signal(bool)  # True when a load starts, False when the last one ends
    load_failed = Signal(object)  # the exception of a load that was not superseded

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.recent = RecentSources()
        self._target = session.config  # what the panel is loading or last tried
        self._session_key = load_key(self._target)
        self._table_key = None  # load key of the table this panel put in the session
        self._loaded_table = None
        self._task: BackgroundTask | None = None
        self._loading: C.ExperimentConfig | None = None
        self._pending: C.ExperimentConfig | None = None
        self._closed = False
        self._progress = LoadProgress()
        self._label_choices: list[str] = []
        self.error_box: QMessageBox | None = None
        self.column_dialog: ColumnMappingDialog | None = None
        self._build()
        self._poll = QTimer(self, interval=50, timeout=self._on_poll_timeout)
        session.config_changed.connect(self._on_config_changed)
        session.table_changed.connect(self._on_table_changed)
        self._fill_sources()
        self._on_table_changed(session.table)

    # -- layout ------------------------------------------------------------------------
    def _build(self) -> None:
        self.source_combo = QComboBox(editable=True, minimumContentsLength=6,
                                      insertPolicy=QComboBox.InsertPolicy.NoInsert,
                                      toolTip="builtin:emoji, an image folder, a CSV, a COCO "
                                      "captions JSON, an .npz of features, Parquet / Arrow "
                                      "files or WebDataset .tar shards (a file, a folder or "
                                      "a {000..099} pattern); Enter loads it")
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.lineEdit().returnPressed.connect(self._on_source_entered)
        self.source_combo.activated.connect(self._on_source_activated)
        menu = OpenSourceMenu(lambda: self._target.data.source, self)
        menu.opened.connect(self.load_source)
        self.open_button = QToolButton(text="Open",
                                       popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.open_button.setMenu(menu)
        self.reload_button = QToolButton(text="Reload", toolTip="Load the source again")
        self.reload_button.clicked.connect(self.reload)

        self.on_error_combo = QComboBox(toolTip="Bad rows (unreadable image, empty caption, "
                                        "missing label): stop and list them, or leave them out")
        self.on_error_combo.addItem("stop at them", "fail")
        self.on_error_combo.addItem("skip them", "skip")
        self.on_error_combo.currentIndexChanged.connect(self._on_on_error_changed)
        # Off by default: a downloaded CSV naming ../../ or /home/... could read any image
        # on the machine; the user opts in for data they trust (data.allow_outside_paths).
        self.outside_check = QCheckBox(
            "Allow paths outside its folder",
            toolTip="Let the dataset name images outside its own folder (../.. or absolute "
            "paths); only for data you trust (data.allow_outside_paths)")
        self.outside_check.toggled.connect(self._on_outside_paths_changed)
        self.label_combo = QComboBox(toolTip="Which column gives the labels",
                                     minimumContentsLength=8)
        # A long column name is cut, not a reason for a wider panel.
        self.label_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.label_combo.currentIndexChanged.connect(self._on_label_column_changed)
        self.label_caption = QLabel("Labels:")
        self.progress = QProgressBar(visible=False, textVisible=False, maximumHeight=10)
        self.status = QLabel(wordWrap=True)
        self.summary = QFormLayout()
        self.skipped_button: QPushButton | None = None
        self._summary_rows: list[tuple[str, str]] = []

        self.features = FeaturesRow(self.session)
        self.loading_changed.connect(self.features.set_loading)

        self.model = PairTableModel(thumbnail_size=THUMBNAIL, parent=self)
        self.view = PairTableView(self.model)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addLayout(_row((self.source_combo, 1), self.open_button, self.reload_button))
        options = FlowLayout(spacing=8)  # two rows in a narrow panel
        options.add_widgets(QLabel("Bad rows:"), self.on_error_combo)
        options.add_widgets(self.label_caption, self.label_combo)
        layout.addLayout(options)
        layout.addLayout(_row(self.outside_check, ...))
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(self.summary)
        layout.addWidget(self.features)
        layout.addWidget(self.view, 1)

    # -- public ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None

    def load_source(self, source: str, images: str = "") -> None:
        """Load ``source`` (with ``images``, the image folder of a COCO file), detecting its
        format and columns afresh. What the Open dialogs and the source box call."""
        if not source.strip():
            return
        self._request(self._with({"data.source": source.strip(), "data.images": images,
                                  "data.format": "auto", "data.text_column": "",
                                  "data.image_column": "", "data.label_column": ""}),
                      force=True)

    def reload(self) -> None:
        self._request(self._target, force=True)

    def summary_text(self) -> str:
        return "\n".join(f"{heading}: {text}" for heading, text in self._summary_rows)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Wait for a running load, cancel the features being computed, and start nothing
        until shown again (the app is closing: a QThread still running at exit aborts the
        process); True when no thread is left."""
        self._pending, self._closed = None, True
        features_done = self.features.shutdown(timeout_ms)
        if self._task is None:
            return features_done
        loop = QEventLoop()
        self._task.ended.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        return self._task is None and features_done

    def showEvent(self, event) -> None:
        self._closed = False
        self.features.reopen()
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # -- requests and loading ------------------------------------------------------------
    def _with(self, values: dict) -> C.ExperimentConfig | None:
        try:
            return C.apply_overrides(self._target, [f"{k}={v}" for k, v in values.items()])
        except WorkbenchError as exc:
            self._show_error("Cannot use this setting", str(exc))
            return None

    def _request(self, cfg: C.ExperimentConfig | None, *, force: bool = False) -> None:
        if cfg is None or self._closed:
            return
        self._target = cfg
        self._sync_controls()
        key = load_key(cfg)
        if self._task is not None:  # queued: latest wins
            self._pending = None if key == load_key(self._loading) else cfg
            return
        if force or key != self._table_key:
            self._start(cfg)

    def _start(self, cfg: C.ExperimentConfig) -> None:
        self._loading, progress = cfg, self._progress
        progress("", 0, 0)
        data, size = cfg.data, cfg.preprocess.image_size  # never changed in place
        self._task = BackgroundTask(lambda: load_table(data, size, progress))
        self._task.succeeded.connect(self._on_load_succeeded)
        self._task.failed.connect(self._on_load_failed)
        self._task.ended.connect(self._on_load_ended)
        self.progress.setRange(0, 0)
        self.progress.show()
        self._set_status(f"Loading {short_source(cfg.data.source)}…")
        self._poll.start()
        self._task.start()
        self.loading_changed.emit(True)

    def _on_load_succeeded(self, result) -> None:
        if self._pending is not None:
            return  # superseded: the next load starts when this one has ended
        table, self._label_choices = result
        cfg = self._loading
        self._table_key = load_key(cfg)
        if not cfg.data.source.startswith("builtin:"):
            try:
                self.recent.add(cfg.data.source, cfg.data.images)
            except OSError as exc:  # a read-only config folder costs only the list
                log.warning("cannot save the recent sources: %s", exc)
            self._fill_sources()
        # Session first, then the table: a listener of table_changed sees the matching
        # config; our own config write is recognised by its load key (no reload).
        self.session.set_values({f"data.{k}": getattr(cfg.data, k) for k in LOAD_KEYS})
        self._loaded_table = table
        self.session.set_table(table)
        self._set_status(f"Loaded {short_source(cfg.data.source)} in {table.seconds:.1f} s")

    def _on_load_failed(self, exc: Exception) -> None:
        if self._pending is not None:
            return
        cfg = self._loading
        showing = self.session.table
        self._set_status(f"Could not load {short_source(cfg.data.source)}"
                         + (f"; still showing {short_source(showing.source)}" if showing else ""))
        if showing is not None:
            # The controls show (and act on) the data still loaded, not the source that
            # failed; with nothing loaded, the failed path stays in the box to be corrected.
            self._target = self.session.config
            self._sync_controls()
        columns = read_header(cfg.data.source, cfg.data.format) if isinstance(exc, DataError) \
            and is_column_error(exc) else []
        if columns:
            self._ask_columns(cfg, exc, columns)
        elif isinstance(exc, WorkbenchError):
            self._show_error("Cannot load the data", str(exc))
        else:  # a bug or an OS problem: say what it was, keep the traceback in the log
            log.error("loading %s failed:\n%s", cfg.data.source,
                      getattr(exc, "traceback_text", ""))
            self._show_error("Cannot load the data", f"{type(exc).__name__}: {exc}")
        self.load_failed.emit(exc)

    def _on_load_ended(self) -> None:
        self._task = None
        if self._pending is not None:
            cfg, self._pending = self._pending, None
            self._start(cfg)
            return
        self._poll.stop()
        self.progress.hide()
        self.loading_changed.emit(False)

    def _on_poll_timeout(self) -> None:
        stage, done, total = self._progress.get()
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self._set_status(f"Loading {short_source(self._loading.data.source)}: {stage} "
                             f"{done:,} / {total:,}")

    # -- the session ---------------------------------------------------------------------
    def _on_config_changed(self, cfg: C.ExperimentConfig) -> None:
        key = load_key(cfg)
        if key != self._session_key:  # something that decides the table changed
            self._session_key = key
            # Our own write-back matches the table just loaded: _request loads nothing.
            self._request(cfg)

    def _on_table_changed(self, table) -> None:
        if table is not self._loaded_table:  # put there by someone else
            self._table_key, self._label_choices = None, []
        self.model.set_table(table)
        self.view.layout_columns()
        self._fill_summary(table)
        self._sync_controls()

    # -- controls ------------------------------------------------------------------------
    def _on_source_entered(self) -> None:
        text = self.source_combo.currentText().strip()
        i = self.source_combo.findText(text)
        if text:
            self._on_source_chosen(text, (self.source_combo.itemData(i) or "") if i >= 0 else "")

    def _on_source_activated(self, index: int) -> None:
        self._on_source_chosen(self.source_combo.itemText(index),
                               self.source_combo.itemData(index) or "")

    def _on_source_chosen(self, source: str, images: str) -> None:
        # Enter and activated can both fire for one choice, and the combo activates on focus
        # loss: the source already chosen loads only if it is not loaded (Reload forces it).
        if (source, images) == (self._target.data.source, self._target.data.images):
            self._request(self._target)
        else:
            self.load_source(source, images)

    def _on_on_error_changed(self, _index: int) -> None:
        self._request(self._with({"data.on_error": self.on_error_combo.currentData()}))

    def _on_outside_paths_changed(self, allowed: bool) -> None:
        self._request(self._with({"data.allow_outside_paths": str(allowed).lower()}))

    def _on_label_column_changed(self, _index: int) -> None:
        column = self.label_combo.currentData()
        if column is not None:
            self._request(self._with({"data.label_column": column}))

    def _on_columns_chosen(self, cfg: C.ExperimentConfig, mapping: dict) -> None:
        self._target = cfg
        self._request(self._with(mapping), force=True)

    def _fill_sources(self) -> None:
        with QSignalBlocker(self.source_combo):
            self.source_combo.clear()
            for source in BUILTIN_SOURCES:
                self.source_combo.addItem(source, "")
            for item in self.recent.load():
                self.source_combo.addItem(item["source"], item["images"])
                if item["images"]:
                    self.source_combo.setItemData(self.source_combo.count() - 1,
                                                  f"images: {item['images']}",
                                                  Qt.ItemDataRole.ToolTipRole)
        self._show_source()

    def _show_source(self) -> None:
        # The current item must match the text shown, or the combo "activates" the item
        # matching the text when it loses focus.
        with QSignalBlocker(self.source_combo):
            i = self.source_combo.findText(self._target.data.source)
            if i >= 0:
                self.source_combo.setCurrentIndex(i)
            self.source_combo.setEditText(self._target.data.source)

    def _sync_controls(self) -> None:
        data, table = self._target.data, self.session.table
        self._show_source()
        with QSignalBlocker(self.on_error_combo):
            self.on_error_combo.setCurrentIndex(self.on_error_combo.findData(data.on_error))
        with QSignalBlocker(self.outside_check):
            self.outside_check.setChecked(data.allow_outside_paths)
        with QSignalBlocker(self.label_combo):
            self.label_combo.clear()
            for column in self._label_choices:
                self.label_combo.addItem(column, column)
            self.label_combo.addItem("(none)", "none")
            current = data.label_column or (table.label_column if table is not None else None)
            self.label_combo.setCurrentIndex(self.label_combo.findData(current or "none"))
        several = len(self._label_choices) > 1
        self.label_combo.setVisible(several)
        self.label_caption.setVisible(several)

    def _fill_summary(self, table) -> None:
        while self.summary.rowCount():
            self.summary.removeRow(0)
        self.skipped_button = None
        self._summary_rows = summary_rows(table) if table is not None else []
        if table is None:
            self.summary.addRow(QLabel("No data loaded."))
        for heading, text in self._summary_rows:
            value = QLabel(text, wordWrap=True,
                           textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
            if heading == "Skipped" and table.skipped:
                self.skipped_button = QPushButton("Show skipped rows…",
                                                  clicked=self.show_skipped)
                value = _row(value, self.skipped_button, ...)
                value.setContentsMargins(0, 0, 0, 0)
            self.summary.addRow(f"{heading}:", value)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    # -- dialogs -------------------------------------------------------------------------
    def _show_error(self, title: str, text: str) -> None:
        """A critical message box, opened window-modal without blocking (tests find it as
        ``panel.error_box``)."""
        summary, _, details = text.partition("\n")
        box = QMessageBox(QMessageBox.Icon.Critical, title, summary,
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("dataErrorBox")
        if details:
            box.setInformativeText(details)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._open_dialog("error_box", box)

    def _ask_columns(self, cfg: C.ExperimentConfig, exc: Exception, columns: list[str]) -> None:
        dlg = ColumnMappingDialog(columns, message=getattr(exc, "summary", str(exc)),
                                  current={"image": cfg.data.image_column,
                                           "text": cfg.data.text_column,
                                           "label": cfg.data.label_column},
                                  file=cfg.data.source, parent=self)
        dlg.accepted.connect(lambda: self._on_columns_chosen(cfg, dlg.mapping()))
        self._open_dialog("column_dialog", dlg)

    def _open_dialog(self, name: str, dialog: QDialog) -> None:
        """Open ``dialog`` window-modal without blocking, as ``self.<name>``: one at a time,
        the newest replacing the one open; deleted when closed."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _: self._forget(name, dialog))
        if getattr(self, name) is not None:
            getattr(self, name).close()
        setattr(self, name, dialog)
        dialog.open()

    def _forget(self, name: str, dialog: QDialog) -> None:
        if getattr(self, name) is dialog:  # closed dialogs are deleted: drop the reference
            setattr(self, name, None)

    def show_skipped(self) -> QDialog | None:
        """A list of the rows the last load left out: file, row and reason."""
        table = self.session.table
        if table is None or not table.skipped:
            return None
        dlg = SkippedRowsDialog(table, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg


def _row(*items) -> QHBoxLayout:
    """A row of widgets: ``(widget, stretch)`` stretches, an int is a spacing, ``...`` a
    trailing stretch."""
    row = QHBoxLayout()
    for item in items:
        if item is ...:
            row.addStretch(1)
        elif isinstance(item, int):
            row.addSpacing(item)
        else:
            row.addWidget(*(item if isinstance(item, tuple) else (item,)))
    return row


if __name__ == "__main__":  # preview: python -m workbench.ui.panels.data_panel
    import sys

    from PySide6.QtWidgets import QApplication

    from ..session import Session

    app = QApplication(sys.argv)
    panel = DataPanel(Session())
    panel.resize(380, 760)
    panel.show()
    panel.load_source(sys.argv[1] if len(sys.argv) > 1 else "builtin:emoji")
    sys.exit(app.exec())
