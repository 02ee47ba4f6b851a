"""The Data panel: loading each kind of source off the GUI thread, errors, the column dialog,
recent sources, reloads on config changes, and a preview model that copes with 100k rows."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox, QTreeWidget

from fixtures import make_image_folder, make_npz
from workbench.core.data import PairTable
from workbench.core.paths import user_config_dir
from workbench.ui.panels.column_dialog import ColumnMappingDialog, read_header
from workbench.ui.panels.data_panel import DataPanel
from workbench.ui.panels.pair_table_model import PairTableModel
from workbench.ui.session import Session

TIMEOUT = 60_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=3)


@pytest.fixture
def panel(qtbot):
    session = Session()
    session.set_value("preprocess.image_size", 16)
    p = DataPanel(session)
    qtbot.addWidget(p)
    p.resize(380, 700)
    yield p
    assert p.shutdown(TIMEOUT)


def load(qtbot, panel, source, images=""):
    """Load through the public entry point and wait for the session's new table."""
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        panel.load_source(str(source), images)
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    return got.args[0]


def fail(qtbot, panel, source):
    with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT) as got:
        panel.load_source(str(source))
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    return got.args[0]


def close_error(panel) -> str:
    box = panel.error_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.icon() == QMessageBox.Icon.Critical
    text = f"{box.text()}\n{box.informativeText()}"
    box.button(QMessageBox.StandardButton.Ok).click()
    assert panel.error_box is None
    return text


def test_builtin_emoji(qtbot, panel):
    table = load(qtbot, panel, "builtin:emoji")
    assert len(table) == 1870 and panel.session.table is table
    assert panel.model.rowCount() == 1870
    assert "9 labels" in panel.summary_text()
    assert panel.session.config.data.source == "builtin:emoji"
    # emoji extras are in the model; several label columns give the label combo
    assert panel.model.column_of("emoji") >= 0 and panel.model.column_of("name") >= 0
    assert [panel.label_combo.itemData(i) for i in range(panel.label_combo.count())] == \
        ["group", "subgroup", "none"]
    assert not panel.label_combo.isHidden()
    emoji = panel.model.column_of("emoji")
    assert panel.view.isColumnHidden(emoji)  # the thumbnail shows it; the header menu can
    panel.view.horizontalHeader().actions()[emoji].setChecked(True)
    assert not panel.view.isColumnHidden(emoji)
    assert panel.model.index(0, emoji).data() == "😀"
    caption = panel.model.index(0, panel.model.column_of("caption"))
    assert caption.data() == table.captions[0]
    assert caption.data(Qt.ItemDataRole.ToolTipRole).startswith(table.captions[0])


def test_label_column_combo_reloads(qtbot, panel):
    load(qtbot, panel, "builtin:emoji")
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        panel.label_combo.setCurrentIndex(panel.label_combo.findData("subgroup"))
    assert got.args[0].label_column == "subgroup"
    assert panel.session.config.data.label_column == "subgroup"
    assert panel.label_combo.currentData() == "subgroup"


def test_image_folder_and_npz(qtbot, panel, folder, tmp_path):
    table = load(qtbot, panel, folder)
    assert len(table) == 12 and table.images.shape[-1] == 16
    assert panel.model.rowCount() == 12
    pix = panel.model.index(0, 0).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pix, QPixmap) and pix.width() == 40
    assert "4 labels" in panel.summary_text()
    assert panel.label_combo.isHidden()  # one label column: nothing to choose

    npz = make_npz(tmp_path / "feats.npz")
    table = load(qtbot, panel, npz)
    assert len(table) == 40 and table.images is None
    assert panel.model.column_key(0) == "row"
    assert panel.model.index(4, 0).data() == "5"
    assert panel.model.index(4, 0).data(Qt.ItemDataRole.DecorationRole) is None
    assert "text 12-d, image 9-d" in panel.summary_text()


def test_corrupt_file_shows_error_and_keeps_table(qtbot, panel, folder, tmp_path):
    before = load(qtbot, panel, folder)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"image,text\nx.png,caf\xe9\n")
    fail(qtbot, panel, bad)
    text = close_error(panel)
    assert "not UTF-8" in text
    assert panel.session.table is before
    assert panel.session.config.data.source == str(folder)  # the config still matches
    assert panel.model.rowCount() == len(before)


def test_paths_outside_the_folder_need_the_check_box(qtbot, panel, tmp_path):
    # A CSV naming ../secret.png is refused (it could read any image on the machine) until
    # the user ticks "Allow paths outside its folder"; the setting travels with the config.
    from PIL import Image
    data = tmp_path / "data"
    data.mkdir()
    for i, colour in enumerate([(200, 0, 0), (0, 200, 0)]):
        Image.new("RGB", (8, 8), colour).save(data / f"{i}.png")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "secret.png")
    csv = data / "pairs.csv"
    csv.write_text("image,caption\n0.png,red\n../secret.png,secret\n1.png,green\n")
    assert not panel.outside_check.isChecked()
    exc = fail(qtbot, panel, csv)
    assert "leaves the dataset folder" in str(exc)
    assert "leaves the dataset folder" in close_error(panel)
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        panel.outside_check.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    assert got.args[0].captions == ["red", "secret", "green"]
    assert panel.session.config.data.allow_outside_paths is True
    # A preset without the permission unticks it again (the box shows the config).
    panel.session.set_value("data.allow_outside_paths", False)
    assert not panel.outside_check.isChecked()
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    close_error(panel)


def test_missing_image_fails_then_skip_lists_it(qtbot, panel, tmp_path):
    data = make_image_folder(tmp_path / "broken", n_per_class=2)
    (data / "red_circle_1.png").unlink()
    exc = fail(qtbot, panel, data)
    assert "red_circle_1.png" in str(exc)
    close_error(panel)
    assert panel.session.table is None
    # "skip" applies to the source that failed, and lists the row it left out
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        panel.on_error_combo.setCurrentIndex(panel.on_error_combo.findData("skip"))
    table = got.args[0]
    assert len(table) == 7 and len(table.skipped) == 1
    assert panel.session.config.data.on_error == "skip"
    assert "Skipped: 1 row" in panel.summary_text()
    dlg = panel.show_skipped()  # a child of the panel, deleted when closed
    tree = dlg.findChild(QTreeWidget)
    assert tree.topLevelItemCount() == 1
    item = tree.topLevelItem(0)
    assert item.text(0) == "metadata.jsonl" and "red_circle_1.png" in item.text(2)
    assert int(item.text(1)) == table.skipped[0].row
    dlg.close()


def test_column_dialog_for_unusual_columns(qtbot, panel, tmp_path):
    images = make_image_folder(tmp_path / "pics", n_per_class=3)
    rows = [json.loads(x) for x in (images / "metadata.jsonl").read_text().splitlines()]
    csv = tmp_path / "odd.csv"
    csv.write_text("picture;blurb;kind\n" + "".join(
        f"pics/{r['file_name']};{r['text']};{r['label']}\n" for r in rows))
    assert read_header(str(csv)) == ["picture", "blurb", "kind"]
    fail(qtbot, panel, csv)
    assert panel.error_box is None
    dlg = panel.column_dialog
    assert isinstance(dlg, ColumnMappingDialog) and dlg.isVisible()
    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # nothing detected: the user must choose
    dlg.choose("image", "picture")
    dlg.choose("text", "blurb")
    dlg.choose("label", "kind")
    assert ok.isEnabled()
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        ok.click()
    table = got.args[0]
    assert len(table) == 12 and table.label_column == "kind"
    data = panel.session.config.data
    assert (data.source, data.image_column, data.text_column, data.label_column) == \
        (str(csv), "picture", "blurb", "kind")


def test_recent_sources_persist(qtbot, panel, folder):
    load(qtbot, panel, folder)
    saved = json.loads((user_config_dir() / "recent_sources.json").read_text())
    assert saved[0]["source"] == str(folder)
    other = DataPanel(Session())
    qtbot.addWidget(other)
    items = [other.source_combo.itemText(i) for i in range(other.source_combo.count())]
    assert items[0] == "builtin:emoji" and str(folder) in items


def test_image_size_change_reloads(qtbot, panel, folder):
    load(qtbot, panel, folder)
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        panel.session.set_value("preprocess.image_size", 24)
    assert got.args[0].images.shape[-1] == 24
    # a change that does not affect the data loads nothing
    with qtbot.assertNotEmitted(panel.loading_changed, wait=50):
        panel.session.set_value("training.epochs", 7)


def test_a_second_request_while_loading_is_queued(qtbot, panel, folder, tmp_path):
    npz = make_npz(tmp_path / "f.npz")
    tables = []
    panel.session.table_changed.connect(tables.append)
    panel.load_source(str(folder))
    panel.load_source(str(npz))  # queued; the folder's result is dropped
    qtbot.waitUntil(lambda: not panel.busy and bool(tables), timeout=TIMEOUT)
    assert [t.kind for t in tables] == ["npz"]


def synthetic(n: int, distinct: int = 1000, size: int = 8) -> PairTable:
    rng = np.random.default_rng(0)
    return PairTable(
        source="synthetic", kind="csv", file="synthetic.csv", rows=list(range(2, n + 2)),
        captions=[f"caption {i}" for i in range(n)], tokens=None,
        images=rng.integers(0, 255, (distinct, 3, size, size), dtype=np.uint8),
        image_index=np.arange(n, dtype=np.int64) % distinct,
        image_paths=[f"img{i}.png" for i in range(distinct)],
        original_sizes=np.full((distinct, 2), size), text_features=None,
        image_features=None, labels=np.arange(n, dtype=np.int64) % 3,
        label_names=["a", "b", "c"], label_column="label")


def test_model_over_100k_rows_is_lazy(qtbot):
    table = synthetic(100_000)
    t0 = time.perf_counter()
    model = PairTableModel(table, thumbnail_size=40, cache_size=50)
    assert time.perf_counter() - t0 < 0.5
    assert model.rowCount() == 100_000 and model.thumbnails_made == 0
    assert model.rowCount(model.index(0, 0)) == 0
    far = model.index(99_999, model.column_of("caption"))
    assert far.data() == "caption 99999"
    assert model.index(99_999, model.column_of("label")).data() == "a"
    assert model.thumbnails_made == 0
    for row in (99_990, 99_991, 99_992):
        pix = model.index(row, 0).data(Qt.ItemDataRole.DecorationRole)
        assert isinstance(pix, QPixmap) and pix.width() == 40
    assert model.thumbnails_made == 3
    model.index(99_990, 0).data(Qt.ItemDataRole.DecorationRole)  # cached
    model.index(990, 0).data(Qt.ItemDataRole.DecorationRole)  # the same image as row 99,990
    assert model.thumbnails_made == 3
    for row in range(100):
        model.index(row, 0).data(Qt.ItemDataRole.DecorationRole)
    assert model.cached_thumbnails == 50  # bounded
    assert not model.index(0, 0, QModelIndex()).data(Qt.ItemDataRole.DisplayRole)


def test_view_paints_only_visible_thumbnails(qtbot, panel):
    panel.session.set_table(synthetic(100_000))
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.model.thumbnails_made > 0)  # the view lays out, then paints
    visible = panel.view.viewport().height() // panel.view.verticalHeader().defaultSectionSize()
    assert panel.model.thumbnails_made <= visible + 1
    first = panel.model.thumbnails_made
    panel.view.scrollToBottom()
    qtbot.waitUntil(lambda: panel.model.thumbnails_made > first)
    assert panel.model.thumbnails_made <= 2 * (visible + 1)


def test_choosing_the_loaded_source_again_loads_nothing(qtbot, panel, folder):
    load(qtbot, panel, folder)
    combo = panel.source_combo
    assert combo.currentText() == str(folder) == combo.itemText(combo.currentIndex())
    with qtbot.assertNotEmitted(panel.loading_changed, wait=50):
        combo.activated.emit(combo.currentIndex())
        combo.lineEdit().returnPressed.emit()
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT):
        panel.reload_button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    # picking another entry loads it
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        combo.activated.emit(combo.findText("builtin:emoji"))
    assert got.args[0].kind == "builtin"
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)


def test_coco_through_the_open_menu_asks_for_the_image_folder(qtbot, panel, tmp_path,
                                                              monkeypatch):
    images = make_image_folder(tmp_path / "pics", n_per_class=2)
    files = sorted(p.name for p in images.glob("*.png"))
    doc = {"images": [{"id": i, "file_name": f} for i, f in enumerate(files)],
           "annotations": [{"image_id": i, "caption": f"shape {f[:-4]} {k}"}
                           for i, f in enumerate(files) for k in range(2)]}
    captions = tmp_path / "ann" / "captions.json"
    captions.parent.mkdir()
    captions.write_text(json.dumps(doc))
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a: (asked.append(a[1]), (str(captions), ""))[1])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *a: (asked.append(a[1]), str(images))[1])
    action = next(a for a in panel.open_button.menu().actions() if "COCO" in a.text())
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        action.trigger()
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    table = got.args[0]
    assert len(asked) == 2 and table.kind == "coco"
    assert len(table) == 16 and table.images.shape[0] == 8  # two captions per image
    assert panel.session.config.data.images == str(images)
    assert "8 distinct" in panel.summary_text()


def test_after_a_failed_load_the_source_box_shows_what_is_loaded(qtbot, panel, folder,
                                                                  tmp_path):
    missing = tmp_path / "nowhere.csv"
    fail(qtbot, panel, missing)  # nothing loaded yet: the path stays, to be corrected
    close_error(panel)
    assert panel.source_combo.currentText() == str(missing)
    load(qtbot, panel, folder)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"image,text\nx.png,caf\xe9\n")
    fail(qtbot, panel, bad)
    close_error(panel)
    combo = panel.source_combo
    assert combo.currentText() == str(folder) == combo.itemText(combo.currentIndex())
    assert bad.name in panel.status.text() and folder.name in panel.status.text()
    # The options shown are the loaded source's too, and act on it.
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        panel.reload()
    assert got.args[0].source == str(folder)


def test_an_npz_with_other_arrays_loads_and_the_panel_says_what_was_left_out(qtbot, panel,
                                                                            tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "sk.npz"
    np.savez(path, text=rng.normal(size=(20, 4)), image=rng.normal(size=(20, 3)),
             label=np.arange(20) % 2, label_names=np.array(["cat", "dog"]),
             ids=np.arange(20))
    table = load(qtbot, panel, path)
    assert table.label_names == ["cat", "dog"]
    summary = panel.summary_text()
    assert "Note: sk.npz: array 'ids' left out" in summary
    assert "cat (10)" in summary


@pytest.mark.parametrize("to", ["parquet", "webdataset"])
def test_shards_open_from_the_menu_and_preview_with_thumbnails(qtbot, panel, folder, tmp_path,
                                                               monkeypatch, to):
    """Issue 18: Parquet files and WebDataset shards open from the Data panel (the menu's own
    entries, or a folder of shards) and preview like an image folder, each pair saying where
    in the shards it is."""
    from workbench.core.config import DataConfig
    from workbench.core.data.convert import convert
    out = tmp_path / to
    result = convert(DataConfig(source=str(folder)), to, out, shard_size=5)
    first = out / result.shards[0][0]  # (name, pairs, bytes)
    entry = {"parquet": "Open Parquet / Arrow…", "webdataset": "Open WebDataset shard…"}[to]
    action = next(a for a in panel.open_button.menu().actions() if a.text() == entry)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(first), ""))
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT) as got:
        action.trigger()
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    assert len(got.args[0]) == 5 and panel.model.rowCount() == 5
    pix = panel.model.index(0, 0).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pix, QPixmap) and pix.width() == 40
    table = load(qtbot, panel, out)  # the folder of 3 shards
    assert len(table) == 12 and "4 labels" in panel.summary_text()
    assert first.name in table.extras["sample"][0]


def test_a_large_sharded_source_previews_its_first_pairs_at_once(qtbot, panel, folder, tmp_path,
                                                                 monkeypatch):
    """Issue 18: a Parquet source past QUICK_ABOVE pairs shows its first ones at once, the
    summary giving the whole count and what training will do (stream, or load them all)."""
    from workbench.core.config import DataConfig
    from workbench.core.data import quick_look as quick
    from workbench.core.data.convert import convert
    convert(DataConfig(source=str(folder)), "parquet", tmp_path / "pq", shard_size=5)
    monkeypatch.setattr(quick, "QUICK_ABOVE", 8)
    monkeypatch.setattr(quick, "SAMPLE", 6)
    table = load(qtbot, panel, tmp_path / "pq")
    assert len(table) == 6 and table.sampled_of == 12 and panel.model.rowCount() == 6
    text = panel.summary_text()
    assert "12 in pq (parquet); the figures below are of the first 6" in text
    assert "showing the first 6 of 12 pairs in 3 shards; training loads them all" in text
    with qtbot.waitSignal(panel.session.table_changed, timeout=TIMEOUT):  # reloads
        # 6.4 KB: the 6 pairs shown fit (4.6 KB decoded), the 12 do not (9.2 KB)
        panel.session.set_value("data.max_memory_gb", 0.000006)
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    assert "training streams them from the shards" in panel.summary_text()
