"""``workbench data convert``: sources written as Parquet (Hugging Face layout) and WebDataset
shards, read back with pyarrow and webdataset themselves (and ``datasets`` where installed)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_helpers import COLORS, save_image, write_csv, write_jsonl
from fixtures import make_image_folder, make_npz
from workbench.cli import build_parser, main
from workbench.core.config import DataConfig
from workbench.core.data import convert as C
from workbench.core.data.emoji_asset import load_emoji_asset
from workbench.core.errors import DataError

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
wds = pytest.importorskip("webdataset")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """12 coloured shapes, 4 labels, in metadata.jsonl order."""
    return make_image_folder(tmp_path_factory.mktemp("convert") / "shapes", n_per_class=3)


def source_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]


def read_parquet(out: Path) -> tuple[list[dict], list[str]]:
    files = sorted(out.glob("*.parquet"))
    meta = json.loads(pq.read_schema(files[0]).metadata[b"huggingface"])
    names = meta["info"]["features"].get("label", {}).get("names", [])
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return rows, names


def read_tars(out: Path) -> list[dict]:
    urls = [str(p) for p in sorted(out.glob("data-*.tar"))]
    return list(wds.WebDataset(urls, shardshuffle=False))


def test_parquet_holds_the_source_in_hugging_face_layout(folder, tmp_path):
    out = tmp_path / "pq"
    result = C.convert(DataConfig(source=str(folder)), "parquet", out, shard_size=5)
    assert [f for f, _, _ in result.shards] == [f"data-0000{i}-of-00003.parquet"
                                                for i in range(3)]
    assert sorted(p.name for p in out.iterdir()) == [f for f, _, _ in result.shards]
    assert [n for _, n, _ in result.shards] == [5, 5, 2] and result.samples == 12
    assert result.bytes == sum(p.stat().st_size for p in out.iterdir())
    schema = pq.read_schema(out / result.shards[0][0])
    assert schema.field("image").type == pa.struct([("bytes", pa.binary()),
                                                    ("path", pa.string())])
    assert schema.field("label").type == pa.int64()
    # Exactly what datasets' Features.arrow_schema writes (checked against datasets 5.2.0).
    assert json.loads(schema.metadata[b"huggingface"]) == {"info": {"features": {
        "image": {"_type": "Image"}, "text": {"dtype": "string", "_type": "Value"},
        "label": {"names": ["blue", "green", "red", "yellow"], "_type": "ClassLabel"},
        "key": {"dtype": "string", "_type": "Value"}}}}
    rows, names = read_parquet(out)
    expected = source_rows(folder)
    assert len(rows) == len(expected)
    assert len({r["key"] for r in rows}) == len(rows)
    for got, want in zip(rows, expected):
        assert got["text"] == want["text"]
        assert names[got["label"]] == want["label"]
        assert got["image"]["path"] == want["file_name"]
        assert got["image"]["bytes"] == (folder / want["file_name"]).read_bytes()


def test_parquet_row_groups_are_bounded(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(C, "ROW_GROUP_ROWS", 2)
    out = tmp_path / "pq"
    C.convert(DataConfig(source=str(folder)), "parquet", out, shard_size=5)
    meta = pq.ParquetFile(out / "data-00000-of-00003.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2, 2, 1]


def test_datasets_library_reads_the_parquet_with_its_class_names(folder, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "pq"
    C.convert(DataConfig(source=str(folder)), "parquet", out, shard_size=5)
    ds = datasets.load_dataset("parquet", data_files=sorted(map(str, out.glob("*.parquet"))),
                               split="train")
    expected = source_rows(folder)
    assert ds.features["label"].names == ["blue", "green", "red", "yellow"]
    assert [ds.features["label"].int2str(x) for x in ds["label"]] == [
        r["label"] for r in expected]
    assert ds[0]["image"].size == (16, 16)


def test_webdataset_holds_the_source(folder, tmp_path):
    out = tmp_path / "wds"
    result = C.convert(DataConfig(source=str(folder)), "webdataset", out, shard_size=5)
    assert sorted(p.name for p in out.iterdir()) == [
        "classnames.txt", "data-000000.tar", "data-000001.tar", "data-000002.tar"]
    assert result.sidecars == ["classnames.txt"]
    names = (out / "classnames.txt").read_text().splitlines()
    assert names == ["blue", "green", "red", "yellow"]
    samples = read_tars(out)
    expected = source_rows(folder)
    assert len(samples) == len(expected)
    assert len({s["__key__"] for s in samples}) == len(samples)
    for got, want in zip(samples, expected):
        assert set(got) >= {"png", "txt", "cls"}
        assert got["txt"].decode() == want["text"]
        assert names[int(got["cls"])] == want["label"]
        assert got["png"] == (folder / want["file_name"]).read_bytes()


def test_builtin_emoji_is_written_as_png_of_its_pixels(tmp_path):
    out = tmp_path / "emoji"
    result = C.convert(DataConfig(source="builtin:emoji"), "parquet", out, shard_size=2000)
    asset = load_emoji_asset()
    rows, names = read_parquet(out)
    assert result.samples == len(rows) == len(asset)
    assert len(names) == 9 and result.label_column == "group"
    for i in (0, len(rows) - 1):
        assert rows[i]["text"] == asset.rows[i]["caption"]
        assert names[rows[i]["label"]] == asset.rows[i]["group"]
        pixels = np.asarray(Image.open(io.BytesIO(rows[i]["image"]["bytes"]))).transpose(2, 0, 1)
        assert np.array_equal(pixels, asset.images[i])


def test_csv_and_coco_keep_each_caption_and_the_file_format(tmp_path):
    for i, color in enumerate(COLORS[:3]):
        save_image(tmp_path / "img" / f"{i}.jpg", color, fmt="JPEG")
    save_image(tmp_path / "img" / "3.webp", COLORS[3], fmt="WEBP")
    write_csv(tmp_path / "pairs.csv", ["image", "caption"],
              [[f"img/{i}.jpg", f"colour {i}"] for i in range(3)] + [["img/3.webp", "c 3"]])
    C.convert(DataConfig(source=str(tmp_path / "pairs.csv")), "webdataset", tmp_path / "a")
    samples = read_tars(tmp_path / "a")
    assert [next(k for k in s if k in ("jpg", "webp")) for s in samples] == ["jpg"] * 3 + ["webp"]
    assert not (tmp_path / "a" / "classnames.txt").exists()  # no labels: no names, no .cls
    assert all("cls" not in s for s in samples)

    coco = {"images": [{"id": 1, "file_name": "0.jpg"}, {"id": 2, "file_name": "1.jpg"}],
            "annotations": [{"image_id": 1, "caption": "first of one"},
                            {"image_id": 2, "caption": "only two"},
                            {"image_id": 1, "caption": "second of one"}]}
    (tmp_path / "img" / "captions.json").write_text(json.dumps(coco))
    C.convert(DataConfig(source=str(tmp_path / "img" / "captions.json")), "parquet",
              tmp_path / "b")
    rows, names = read_parquet(tmp_path / "b")
    assert names == [] and "label" not in rows[0]
    assert [r["text"] for r in rows] == ["first of one", "only two", "second of one"]
    assert [r["image"]["path"] for r in rows] == ["0.jpg", "1.jpg", "0.jpg"]
    assert rows[0]["image"]["bytes"] == rows[2]["image"]["bytes"] == \
        (tmp_path / "img" / "0.jpg").read_bytes()


def bad_folder(root: Path) -> Path:
    for i in range(4):
        save_image(root / f"{i}.png", COLORS[i])
    (root / "broken.png").write_bytes(b"not a png")
    write_jsonl(root / "metadata.jsonl", [
        {"file_name": "0.png", "text": "good zero"}, {"file_name": "1.png", "text": "  "},
        {"file_name": "gone.png", "text": "missing"}, {"file_name": "2.png", "text": "good"},
        {"file_name": "broken.png", "text": "corrupt"}, {"file_name": "3.png", "text": "ok"}])
    return root


def test_skip_leaves_bad_rows_out_and_reports_them(tmp_path):
    src = bad_folder(tmp_path / "bad")
    seen = []
    result = C.convert(DataConfig(source=str(src), on_error="skip"), "parquet",
                       tmp_path / "out", shard_size=2, progress=lambda *a: seen.append(a))
    # the empty caption's image is not looked at
    assert ("checking images", 5, 5) in seen and seen[-1] == ("writing shards", 3, 3)
    rows, _ = read_parquet(tmp_path / "out")
    assert [r["text"] for r in rows] == ["good zero", "good", "ok"]
    assert [(p.row, p.reason.split(":")[0]) for p in result.skipped] == [
        (2, "empty caption"), (3, "gone.png"), (5, "broken.png")]
    assert "not found" in result.skipped[1].reason


def test_fail_lists_every_bad_row_and_writes_nothing(tmp_path):
    src = bad_folder(tmp_path / "bad")
    with pytest.raises(DataError) as err:
        C.convert(DataConfig(source=str(src)), "webdataset", tmp_path / "out")
    assert "3 bad rows" in str(err.value) and "broken.png" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_out_must_be_empty_unless_overwriting_an_earlier_conversion(folder, tmp_path):
    out = tmp_path / "out"
    cfg = DataConfig(source=str(folder))
    C.convert(cfg, "webdataset", out, shard_size=5)
    with pytest.raises(DataError, match="is not empty"):
        C.convert(cfg, "parquet", out)
    # the old set goes whole, tars and classnames.txt too (and a killed write's temporary):
    # one data set per folder
    (out / ".data-000003.tar.123-abcd0123.x1y2.tmp").write_bytes(b"half a shard")
    C.convert(cfg, "parquet", out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["data-00000-of-00001.parquet"]
    (out / "notes.md").write_text("mine")
    with pytest.raises(DataError, match="notes.md"):
        C.convert(cfg, "parquet", out, overwrite=True)
    assert (out / "data-00000-of-00001.parquet").exists()
    with pytest.raises(DataError, match="holds the source"):
        C.convert(cfg, "parquet", folder.parent, overwrite=True)


def test_a_failed_write_leaves_no_shard_behind(folder, tmp_path, monkeypatch):
    calls = []

    def failing(path, samples, names):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        C._write_parquet(path, samples, names)

    monkeypatch.setitem(C.FORMATS, "parquet", C.ShardFormat(
        C.FORMATS["parquet"].shard_name, failing, lambda names: {}, "pyarrow"))
    out = tmp_path / "out"
    with pytest.raises(OSError):
        C.convert(DataConfig(source=str(folder)), "parquet", out, shard_size=5)
    assert list(out.iterdir()) == []


def test_features_only_source_is_refused(tmp_path):
    npz = make_npz(tmp_path / "f.npz")
    with pytest.raises(DataError, match="feature vectors, not images"):
        C.convert(DataConfig(source=str(npz)), "parquet", tmp_path / "out")


def test_cli_summary_and_json(folder, tmp_path, capsys):
    assert main(["data", "convert", str(folder), "--to", "parquet", str(tmp_path / "a"),
                 "--shard-size", "5"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("Wrote 12 pairs in 3 shards (data-00000-of-00003.parquet ... "
                           "data-00002-of-00003.parquet), ")
    assert main(["data", "convert", str(folder), "--to", "webdataset", str(tmp_path / "b"),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == 12 and report["shards"][0]["pairs"] == 12 and report["shards"][0]["file"] == "data-000000.tar"
    assert report["labels"] == ["blue", "green", "red", "yellow"] and report["skipped"] == []


@pytest.mark.parametrize("case", ["missing", "npz", "not-empty", "bad-rows", "shard-size"])
def test_cli_bad_input_exits_with_a_message(case, folder, tmp_path, capsys):
    out = tmp_path / "out"
    source, extra, expect = {
        "missing": (str(tmp_path / "nope"), [], "no such file or folder"),
        "npz": (str(make_npz(tmp_path / "f.npz")), [], "feature vectors"),
        "not-empty": (str(folder), [], "is not empty"),
        "bad-rows": (str(bad_folder(tmp_path / "bad")), [], "3 bad rows"),
        "shard-size": (str(folder), ["--shard-size", "0"], "at least 1"),
    }[case]
    if case == "not-empty":
        out.mkdir()
        (out / "x").write_text("")
    code = main(["data", "convert", source, "--to", "parquet", str(out), *extra])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith("error: ") and expect in captured.err
    assert "Traceback" not in captured.err


def test_cli_help_states_the_default_shard_size():
    data = build_parser()._subparsers._group_actions[0].choices["data"]
    convert = data._subparsers._group_actions[0].choices["convert"]
    assert f"(default {C.SHARD_SIZE:,})" in convert.format_help()


@pytest.mark.parametrize("to", ["parquet", "webdataset"])
def test_round_trip_through_the_shard_readers(to, folder, tmp_path):
    """What training reads from the shards is what it read from the source: captions,
    label names (webdataset: the .cls index named by classnames.txt) and pixels."""
    from workbench.core.data import SOURCES, load_pairs
    if to not in SOURCES:
        pytest.skip(f"no {to} reader registered yet")
    before = load_pairs(DataConfig(source=str(folder)), 16)
    C.convert(DataConfig(source=str(folder)), to, tmp_path / to, shard_size=5)
    after = load_pairs(DataConfig(source=str(tmp_path / to)), 16)
    assert after.skipped == []
    assert after.captions == before.captions
    assert after.label_names == before.label_names
    assert np.array_equal(after.labels, before.labels)
    assert np.array_equal(after.images[after.image_index], before.images[before.image_index])


def test_shards_convert_to_the_other_layout_byte_for_byte(folder, tmp_path):
    """Parquet to WebDataset (and back): the encoded images pass through untouched."""
    from workbench.core.data import SOURCES
    if "parquet" not in SOURCES:
        pytest.skip("no parquet reader registered yet")
    C.convert(DataConfig(source=str(folder)), "parquet", tmp_path / "p", shard_size=5)
    result = C.convert(DataConfig(source=str(tmp_path / "p")), "webdataset", tmp_path / "w",
                       shard_size=7)
    assert [n for _, n, _ in result.shards] == [7, 5]
    samples = read_tars(tmp_path / "w")
    expected = source_rows(folder)
    assert [s["txt"].decode() for s in samples] == [r["text"] for r in expected]
    assert [s["png"] for s in samples] == [(folder / r["file_name"]).read_bytes()
                                          for r in expected]
    names = (tmp_path / "w" / "classnames.txt").read_text().splitlines()
    assert [names[int(s["cls"])] for s in samples] == [r["label"] for r in expected]


@pytest.mark.parametrize("to", ["parquet", "webdataset"])
def test_a_large_sharded_source_is_looked_at_not_loaded(tmp_path, capsys, monkeypatch, to):
    """Issue 18: ``data inspect`` of a sharded source past QUICK_ABOVE pairs counts them from
    the shards' metadata, labels from the label column alone (Parquet), and decodes only the
    first samples, saying which figures came from them; --full loads every pair."""
    from workbench.core.data import quick_look as quick
    folder = make_image_folder(tmp_path / "shapes", n_per_class=5)  # 20 pairs, 4 labels
    out = tmp_path / to
    C.convert(DataConfig(source=str(folder)), to, out, shard_size=6)
    monkeypatch.setattr(quick, "QUICK_ABOVE", 10)
    monkeypatch.setattr(quick, "SAMPLE", 7)
    assert main(["data", "inspect", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == 20 and report["sampled"] == 7 and report["shards"] == 4
    assert report["split"] == {"train": 16, "val": 2, "test": 2}
    if to == "parquet":  # every shard's label column, no image read
        assert report["labels"] == {"blue": 5, "green": 5, "red": 5, "yellow": 5}
    else:  # a tar cannot tell without reading whole samples: the first ones' labels
        assert report["labels_sampled"] and sum(report["labels"].values()) == 7
    assert "first 7" in report["notes"][-1]
    assert main(["data", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Pairs        20 in 4 shards; the figures below marked * come from the first 7" \
        in text and "Images*" in text
    assert main(["data", "inspect", str(out), "--json", "--full"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["pairs"] == 20 and "sampled" not in full
