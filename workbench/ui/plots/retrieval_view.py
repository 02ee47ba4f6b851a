"""The Retrieval tab: type a caption and see the closest images; pick an image and see the
closest captions; the R@K table of the validation or test split, beside chance. Results
that tie (the same score, so their order means nothing) say so.

The view wraps a :class:`~workbench.core.evaluation.retrieval.RetrievalIndex`. Building one (loading a
checkpoint and its data, embedding every pair) runs in a :class:`BackgroundTask`; searching a
built index is one small forward pass and a matrix product (about a millisecond for 1,870
images), so it runs on the GUI thread, as the user types (debounced).

"Search with" picks the trained model or zero-shot CLIP: the two towers of the run's
``model.image_model`` (a CLIP model on this machine), with no training, over the run's data
and split (:class:`~workbench.core.evaluation.zero_shot_index.ZeroShotIndex`, built in the
background) — what the trained model adds is the difference. The results say which searched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (QSignalBlocker, QSize, QSortFilterProxyModel, Qt, QTimer,
                            Signal, Slot)
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGridLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListView,
                               QListWidget, QListWidgetItem, QPushButton, QSizePolicy, QSpinBox,
                               QSplitter, QTableView, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from ..flow_layout import FlowLayout
from ..panels.pair_table_model import PairTableModel
from ..tasks import BackgroundTask
from .recall_box import RecallBox
from .retrieval_sources import ZERO_SHOT, SearchSources

if TYPE_CHECKING:  # the module imports torch: loaded when an index is built, after start-up
    from ...core.evaluation.retrieval import Results, RetrievalIndex

DEBOUNCE_MS = 250  # search-as-you-type waits this long after the last key
THUMB = 64  # result thumbnails (pixels)
SMALL_THUMB = 32  # picker and caption-list thumbnails
NO_MODEL = "No model yet: train a run, or open one from the Runs tab, to search it."
TRAINING = ("Training: this run's model can be searched here once the run ends or is "
            "stopped.")
SCOPES = {"all splits": None, "validation": "val", "training": "train", "test": "test"}


class RetrievalView(QWidget):
    """Cross-modal search with one run's model; give it one with :meth:`set_run`,
    :meth:`set_checkpoint` (built in the background) or :meth:`set_index`."""

    index_built = Signal(object)  # RetrievalIndex: built (or given) and now shown
    index_failed = Signal(str)  # why there is no index (also shown in the header)
    text_searched = Signal(object)  # Results of a typed caption
    image_searched = Signal(object)  # Results of a picked image

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.index: RetrievalIndex | None = None
        self.image: int | None = None  # the picked image
        self._tasks: list[BackgroundTask] = []
        self._request = 0  # the latest build asked for; older results are dropped
        # "Search with": the trained model or zero-shot CLIP (retrieval_sources)
        self.sources = SearchSources(NO_MODEL, self)
        self.source_combo = self.sources.combo
        self.sources.shown.connect(self._on_source_shown)
        self.sources.built.connect(self.index_built)
        self.sources.failed.connect(self.index_failed)
        self._thumbs = PairTableModel(thumbnail_size=THUMB, parent=self)
        self._small = PairTableModel(thumbnail_size=SMALL_THUMB, parent=self)

        self.header = QLabel(NO_MODEL)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.search)

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._build_text_side(), 1)
        # R@K under the caption search, where a narrow window leaves it its width
        self.recall_box = RecallBox()
        self.recall_box.split_changed.connect(self._on_recall_split_changed)
        self.recall = self.recall_box.table
        self.recall_split = self.recall_box.split_combo
        self.recall_title = self.recall_box.title
        column.addWidget(self.recall_box)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self._build_image_side())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        source_label = QLabel("Search with:")
        source_label.setBuddy(self.source_combo)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(source_label)
        top.addWidget(self.source_combo)
        # As wide as "trained model" ("zero-shot CLIP (unavailable)" is cut while shown, whole
        # in the list): the rest is the header's, which wraps.
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(14)
        self.source_combo.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        for box in self.findChildren(QGroupBox):  # tighter than the style's: 600 px high
            box.layout().setContentsMargins(6, 4, 6, 6)
            box.layout().setSpacing(4)
        self._show_index(None)

    # -- building ------------------------------------------------------------------------
    def _build_text_side(self) -> QWidget:
        box = QGroupBox("Caption \u2192 images")
        self.query_edit = QLineEdit(placeholderText="type a caption, e.g. red heart",
                                    clearButtonEnabled=True)
        self.search_button = QPushButton("Search")
        self.k_spin = QSpinBox(minimum=1, maximum=100, value=10, prefix="top ")
        self.k_spin.setToolTip("How many results to list")
        self.scope_combo = QComboBox()
        self.scope_combo.addItems(list(SCOPES))
        self.scope_combo.setToolTip("Search every image, or only those of one split "
                                    "(validation and test images were never trained on)")
        # Both hidden while empty (``_show_line``).
        self.query_note = QLabel("", visible=False)
        self.query_note.setWordWrap(True)
        self.query_note.setStyleSheet("color: #8a5a00;")
        self.searched_with = QLabel("", visible=False)  # which model the results are of
        self.searched_with.setWordWrap(True)
        self.results = QListWidget(viewMode=QListView.ViewMode.IconMode,
                                   movement=QListView.Movement.Static,
                                   resizeMode=QListView.ResizeMode.Adjust, wordWrap=False,
                                   uniformItemSizes=True, spacing=4)
        self.results.setIconSize(QSize(THUMB, THUMB))
        self.results.setGridSize(QSize(170, THUMB + 3 * self.fontMetrics().lineSpacing() + 16))
        self.results.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.results.setMinimumHeight(self.results.gridSize().height() + 8)  # a row of hits
        self.results.setToolTip("Click an image to list the captions closest to it")
        # The caption box on a line of its own, never narrower than its hint; the controls
        # under it wrap in a narrow view.
        fm = self.query_edit.fontMetrics()
        self.query_edit.setMinimumWidth(
            fm.horizontalAdvance(self.query_edit.placeholderText()) + fm.averageCharWidth()
            + self.query_edit.minimumSizeHint().width())
        row = FlowLayout()
        row.addWidget(self.search_button)
        row.add_widgets(self.k_spin, self.scope_combo)
        layout = QVBoxLayout(box)
        layout.addWidget(self.query_edit)
        layout.addLayout(row)
        layout.addWidget(self.query_note)
        layout.addWidget(self.searched_with)
        layout.addWidget(self.results, 1)

        self.query_edit.textChanged.connect(self._on_query_changed)
        self.query_edit.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        self.k_spin.valueChanged.connect(self._on_k_changed)
        self.scope_combo.currentIndexChanged.connect(self._on_k_changed)
        self.results.itemClicked.connect(self._on_result_clicked)
        return box

    def _build_image_side(self) -> QWidget:
        box = QGroupBox("Image \u2192 captions")
        self.image_filter = QLineEdit(placeholderText="find an image by its caption",
                                      clearButtonEnabled=True)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self._small)
        self._proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.picker = QTableView(selectionBehavior=QAbstractItemView.SelectionBehavior.SelectRows,
                                 selectionMode=QAbstractItemView.SelectionMode.SingleSelection,
                                 editTriggers=QAbstractItemView.EditTrigger.NoEditTriggers,
                                 showGrid=False, wordWrap=False)
        self.picker.setModel(self._proxy)
        self.picker.verticalHeader().hide()
        self.picker.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.picker.verticalHeader().setDefaultSectionSize(SMALL_THUMB + 4)
        self.picker.horizontalHeader().setStretchLastSection(True)
        self.picker.setIconSize(QSize(SMALL_THUMB, SMALL_THUMB))
        self.chosen = QLabel("Pick an image below, or click a result on the left.")
        self.chosen.setWordWrap(True)
        self.chosen_icon = QLabel()
        self.chosen_icon.setFixedSize(THUMB, THUMB)
        self.captions = QTableWidget(0, 5, editTriggers=QAbstractItemView.EditTrigger.NoEditTriggers,
                                     selectionBehavior=QAbstractItemView.SelectionBehavior.SelectRows,
                                     alternatingRowColors=True, wordWrap=False)
        self.captions.setHorizontalHeaderLabels(["#", "score", "caption", "label", "split"])
        self.captions.verticalHeader().hide()
        self.captions.verticalHeader().setDefaultSectionSize(SMALL_THUMB + 4)
        self.captions.setIconSize(QSize(SMALL_THUMB, SMALL_THUMB))
        header = self.captions.horizontalHeader()
        for col in range(5):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch if col == 2
                                        else QHeaderView.ResizeMode.ResizeToContents)
        chosen = QHBoxLayout()
        chosen.addWidget(self.chosen_icon)
        chosen.addWidget(self.chosen, 1)
        layout = QGridLayout(box)
        layout.addWidget(self.image_filter, 0, 0)
        layout.addWidget(self.picker, 1, 0)
        layout.addLayout(chosen, 2, 0)
        layout.addWidget(self.captions, 3, 0)
        layout.setRowStretch(1, 2)
        layout.setRowStretch(3, 3)

        self.image_filter.textChanged.connect(self._on_image_filter_changed)
        self.picker.selectionModel().currentRowChanged.connect(self._on_picker_changed)
        return box

    # -- choosing the model ----------------------------------------------------------------
    def set_run(self, run_dir: str | Path, table=None) -> None:
        """Search with the last checkpoint of the run folder ``run_dir``."""
        self.set_checkpoint(Path(run_dir) / "checkpoints" / "last.pt", table)

    def set_checkpoint(self, path: str | Path, table=None) -> None:
        """Build the index of checkpoint ``path`` in the background, over ``table`` when it is
        the run's data (the loaded session table), else over the data the run names."""
        self._request += 1
        request = self._request
        path = Path(path)
        self.sources.set_trained(None, f"Building the retrieval index of {_run_name(path)}: "
                                       "loading the model and its data, embedding every "
                                       "caption and image…", select=True)

        def build() -> RetrievalIndex:
            from ...core.evaluation.retrieval import DataMismatch, RetrievalIndex
            try:
                index = RetrievalIndex.from_checkpoint(path, table)
            except DataMismatch:
                if table is None:
                    raise
                index = RetrievalIndex.from_checkpoint(path)  # the loaded data is another
            index.prepare_text_queries()  # a pretrained text model loads here, not on typing
            return index

        task = BackgroundTask(build, self)
        task.succeeded.connect(lambda index: self._on_built(request, index))
        task.failed.connect(lambda exc: self._on_build_failed(request, exc))
        task.ended.connect(lambda: self._tasks.remove(task))
        # Parented to the view, a finished task (and its QThread) would live as long as the
        # window: one more per run without this.
        task.ended.connect(task.deleteLater)
        self._tasks.append(task)
        task.start()

    def set_index(self, index: RetrievalIndex | None) -> None:
        """Search with ``index`` (None: no model)."""
        self._request += 1
        self.sources.set_trained(index, NO_MODEL, select=True)
        if index is not None:
            self.index_built.emit(index)

    def set_config(self, cfg) -> None:
        """The session's config: zero-shot CLIP's data, split and model while no run's index
        is here (a run's own config is used once there is one)."""
        self.sources.set_config(cfg)

    def note_running(self, running: bool) -> None:
        """A run started or ended. With no model to search, say when there will be one; an
        index already shown (an earlier run's) stays searchable and says whose it is, and one
        being built is left to finish."""
        if self.index is not None or self.sources.zero_shot_chosen():
            return
        if running:
            self.sources.set_trained(None, TRAINING)
        elif self.header.text() == TRAINING:  # a run that failed, or stopped before a step
            self.sources.set_trained(None, NO_MODEL)

    def set_unavailable(self, reason: str) -> None:
        """No index: show why (e.g. the model's refusal) and disable searching."""
        self._request += 1
        self.sources.set_trained(None, reason, error=True, select=True)
        self.index_failed.emit(reason)

    def shutdown(self) -> None:
        """Wait for a build in progress (before the window closes)."""
        for task in list(self._tasks):
            task.wait()
        self.sources.shutdown()

    def _on_built(self, request: int, index: RetrievalIndex) -> None:
        if request == self._request:
            self.sources.set_trained(index, NO_MODEL)
            self.index_built.emit(index)

    def _on_build_failed(self, request: int, exc: Exception) -> None:
        if request == self._request:
            reason = str(exc) or type(exc).__name__
            self.sources.set_trained(None, reason, error=True)
            self.index_failed.emit(reason)

    @Slot(object, str, bool)
    def _on_source_shown(self, index, message: str, error: bool) -> None:
        self._show_index(index, message or NO_MODEL, error=error)

    def _show_index(self, index: RetrievalIndex | None, message: str = NO_MODEL, *,
                    error: bool = False) -> None:
        self.index = index
        self.image = None
        table = index.table if index is not None else None
        self._thumbs.set_table(table)
        self._small.set_table(table)
        self._proxy.setFilterKeyColumn(max(0, self._small.column_of("caption")))
        self.results.clear()
        self.captions.setRowCount(0)
        self.chosen_icon.clear()
        self.chosen.setText("Pick an image below, or click a result on the left.")
        _show_line(self.query_note, "")
        typed = index is not None and not index.text_query_problem
        for w in (self.query_edit, self.search_button, self.k_spin, self.scope_combo):
            w.setEnabled(typed)
        for w in (self.image_filter, self.picker):
            w.setEnabled(index is not None)
        _show_line(self.searched_with, _searched_with(index))
        if index is None:
            self.header.setText(message)
            self.header.setStyleSheet("color: #b00020;" if error else "color: #555;")
            self._show_recall({})
            return
        self.header.setStyleSheet("")
        self.header.setText(_describe(index))
        if index.text_query_problem:
            _show_line(self.query_note, "Typed captions cannot be searched: "
                       + index.text_query_problem)
        self._show_recall(index.recall_table(self.recall_box.split()))
        self._layout_picker()
        if typed and self.query_edit.text().strip():
            self.search()

    def _layout_picker(self) -> None:
        header = self.picker.horizontalHeader()
        for c in range(self._small.columnCount()):
            key = self._small.column_key(c)
            self.picker.setColumnHidden(c, key not in ("image", "row", "caption", "label"))
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Stretch if key == "caption"
                                        else QHeaderView.ResizeMode.ResizeToContents)

    # -- caption -> images -------------------------------------------------------------------
    @Slot(str)
    def _on_query_changed(self, text: str) -> None:
        self._timer.start()  # restarts: searches once the user pauses

    @Slot()
    def _on_k_changed(self) -> None:
        if self.query_edit.text().strip():
            self._timer.start()
        if self.image is not None:
            self.pick_image(self.image)

    @Slot()
    def search(self) -> Results | None:
        """Search the typed caption now (also what the debounce timer calls)."""
        self._timer.stop()
        index = self.index
        if index is None or index.text_query_problem:
            return None
        result = index.search_text(self.query_edit.text(), self.k_spin.value(),
                                   split=self._scope())
        self._show_text_results(result)
        self.text_searched.emit(result)
        return result

    def _show_text_results(self, result: Results) -> None:
        notes = []
        if result.reason and result.words:
            notes.append(result.reason)
        elif result.unknown:
            notes.append("Not in the model's vocabulary (read as an unknown word): "
                         + ", ".join(result.unknown))
        if result.dropped:
            notes.append(f"Only the first {len(result.words)} words are used; ignored: "
                         + " ".join(result.dropped))
        _show_line(self.query_note, "\n".join(notes))
        self.results.clear()
        fm = self.results.fontMetrics()
        width = self.results.gridSize().width() - 12
        for rank, hit in enumerate(result.hits, 1):
            label = f" \u00b7 {hit.label}" if hit.label else ""
            held_out = "" if hit.split == "train" else f"  ({hit.split})"
            # Three fixed lines (score, caption, label): the icon view shows three at most,
            # so a wrapped caption would push the label out. The tooltip has it all.
            tied = f"  (tied \u00d7{hit.tied + 1})" if hit.tied else ""
            lines = [fm.elidedText(f"#{rank}  {hit.score:.3f}{tied}{held_out}",
                                   Qt.TextElideMode.ElideRight, width),
                     fm.elidedText(hit.caption, Qt.TextElideMode.ElideRight, width)]
            if hit.label:
                lines.append(fm.elidedText(hit.label, Qt.TextElideMode.ElideRight, width))
            item = QListWidgetItem("\n".join(lines))
            if self.index.table.images is not None:
                item.setIcon(QIcon(self._thumbs.thumbnail(hit.image)))
            item.setToolTip(f"{hit.caption}\nscore {hit.score:.4f} \u00b7 {hit.split} split"
                            f"{label}\nimage {hit.image}, pair row(s) "
                            f"{', '.join(map(str, hit.rows[:8]))}{_tie_note(hit)}"
                            "\nclick: its closest captions")
            item.setData(Qt.ItemDataRole.UserRole, hit.image)
            self.results.addItem(item)

    @Slot(QListWidgetItem)
    def _on_result_clicked(self, item: QListWidgetItem) -> None:
        self.pick_image(int(item.data(Qt.ItemDataRole.UserRole)))

    def _scope(self) -> str | None:
        return SCOPES[self.scope_combo.currentText()]

    # -- image -> captions -------------------------------------------------------------------
    @Slot(str)
    def _on_image_filter_changed(self, text: str) -> None:
        self._proxy.setFilterFixedString(text)

    def _on_picker_changed(self, current, previous=None) -> None:
        if current.isValid():
            row = self._proxy.mapToSource(current).row()
            self.pick_image(int(self.index.image_of_pair[row]))

    def pick_image(self, image: int) -> Results | None:
        """List the captions closest to distinct image ``image``."""
        index = self.index
        if index is None:
            return None
        self.image = image
        result = index.search_image(image, self.k_spin.value(), split=self._scope())
        own = set(index.pairs_of_image[image])
        if index.table.images is not None:
            self.chosen_icon.setPixmap(self._thumbs.thumbnail(image))
        label = index.image_label(image)
        self.chosen.setText(f"<b>{_escape(result.query)}</b><br>{index.image_split(image)} "
                            f"split{' · ' + _escape(label) if label else ''} \u00b7 image {image}"
                            f"<br>{_own_rank(result.true_rank)}")
        self._select_in_picker(image)
        self.captions.setRowCount(len(result))
        bold = QFont(self.font())
        bold.setBold(True)
        for r, hit in enumerate(result):
            score = f"{hit.score:.3f}" + (" =" if hit.tied else "")
            cells = [str(r + 1), score, hit.caption, hit.label or "", hit.split]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c in (0, 1):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if hit.row in own:
                    item.setFont(bold)
                item.setToolTip(hit.caption + _tie_note(hit))
                self.captions.setItem(r, c, item)
            if index.table.images is not None:
                self.captions.item(r, 2).setIcon(QIcon(self._small.thumbnail(hit.image)))
        self.image_searched.emit(result)
        return result

    def _select_in_picker(self, image: int) -> None:
        """Show the picked image's first pair in the picker (without searching again)."""
        source = self._small.index(int(self.index.first_pair[image]), 0)
        current = self._proxy.mapFromSource(source)
        if current.isValid() and current != self.picker.currentIndex():
            with QSignalBlocker(self.picker.selectionModel()):
                self.picker.setCurrentIndex(current)
            self.picker.scrollTo(current)

    # -- R@K ---------------------------------------------------------------------------------
    @property
    def recall_values(self) -> dict[str, float]:
        """The R@K figures shown (``RetrievalIndex.recall_table`` of the chosen split)."""
        return self.recall_box.values

    @Slot(str)
    def _on_recall_split_changed(self, split: str) -> None:
        if self.index is not None:
            self._show_recall(self.index.recall_table(split))

    def _show_recall(self, table: dict[str, float]) -> None:
        self.recall_box.show_table(table, has_model=self.index is not None)

    # -- for tests and other views -----------------------------------------------------------
    def result_images(self) -> list[int]:
        """The images listed for the typed caption, best first."""
        return [int(self.results.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.results.count())]

    def caption_texts(self) -> list[str]:
        """The captions listed for the picked image, best first."""
        return [self.captions.item(r, 2).text() for r in range(self.captions.rowCount())]


def _show_line(label: QLabel, text: str) -> None:
    """Set ``label``'s text, hiding it while empty (an empty line is height taken from the
    results in a 600-pixel window)."""
    label.setText(text)
    label.setVisible(bool(text))


def _describe(index: RetrievalIndex) -> str:
    a = index.about
    ds = index.dataset
    data = (f"{index.num_images:,} images, {len(ds):,} captions from "
            f"{_escape(index.table.source)}")
    if a.get("zero_shot"):
        return f"<b>{ZERO_SHOT}</b>: {_escape(a['model'])}, no training \u00b7 {data}"
    run = a.get("run", "the current model")
    parts = [f"<b>{_escape(run)}</b>: {a['algorithm']} with {a['fusion']} fusion"]
    if "epoch" in a:
        parts.append(f"epoch {a['epoch']} (step {a['step']:,})")
    parts.append(data)
    return " \u00b7 ".join(parts)


def _searched_with(index) -> str:
    """Which model the results are of, for the line above them."""
    if index is None:
        return ""
    a = index.about
    if a.get("zero_shot"):
        return (f"Results of <b>{ZERO_SHOT}</b> ({_escape(a['model'])}), no training "
                "\u2014 pick \u201ctrained model\u201d to compare")
    return f"Results of the <b>trained model</b> ({_escape(a.get('run', 'the current run'))})"


def _own_rank(rank: float | None) -> str:
    """The picked image's own caption's rank, in words (a rank that is not a whole number
    is the average place of a caption tied with others)."""
    if rank is None:
        return "its own caption is outside the searched split"
    if rank == 1:
        return "its own caption (in bold) ranks first"
    if rank != int(rank):
        return (f"its own caption ties with others: #{rank:,.1f} on average"
                + (" (in bold below)" if rank <= 100 else ""))
    return f"its own caption ranks #{int(rank):,}" + (" (in bold below)" if rank <= 100 else "")


def _tie_note(hit) -> str:
    if not hit.tied:
        return ""
    return (f"\ntied with {hit.tied} other{'s' if hit.tied > 1 else ''} at this score: "
            "their order among themselves means nothing")


def _run_name(checkpoint: Path) -> str:
    return checkpoint.parent.parent.name if checkpoint.parent.name == "checkpoints" \
        else checkpoint.name


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    import sys

    from PySide6.QtWidgets import QApplication

    if len(sys.argv) != 2:
        sys.exit("usage: python -m workbench.ui.plots.retrieval_view RUN_DIR")
    app = QApplication([])
    view = RetrievalView()
    view.set_run(sys.argv[1])
    view.resize(1300, 800)
    view.show()
    app.exec()
    view.shutdown()
    # Free the Qt objects before Python tears down: PySide6 can crash at exit otherwise.
    view.deleteLater()
    app.processEvents()
