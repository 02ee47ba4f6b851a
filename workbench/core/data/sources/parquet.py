"""Hugging Face datasets as files: a ``.parquet`` file, a folder of Parquet shards, or a
``save_to_disk`` folder (``state.json`` / ``dataset_info.json`` beside Arrow files).

The image column is what Hugging Face stores (a struct of ``bytes`` and ``path``), plain
encoded bytes, or a path relative to the file; caption and label columns are found by
name as a CSV's are (the same data.*_column settings). An integer label column is named
from the dataset's ``ClassLabel`` feature, read from the Parquet schema's ``huggingface``
metadata or the folder's ``dataset_info.json``. A save_to_disk folder is read with pyarrow
alone, whether or not the ``datasets`` library is installed: its shards are Arrow IPC
streams, and one reading path keeps the two cases alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ...config import DataConfig
from ...errors import DataError
from ..columns import choose_column
from ..rows import Problems, SourceRows
from ..safepath import PathRefused, resolve_image_path, special_file
from .shards import Report, Sample, ShardedSource, shard_order, read_rows, require

SAVED = ("state.json", "dataset_info.json")  # what marks a save_to_disk folder
BATCH_ROWS = 512  # rows converted to Python at a time: bounded memory, few calls
IMAGE_TYPES = ("a Hugging Face Image column (a struct of bytes and path), a binary column "
               "of encoded images, or a column of image paths")


def looks_like(folder: Path) -> bool:
    """Whether ``folder`` is a Parquet or save_to_disk dataset (for detection): Parquet
    files in it (or in its ``data/``, as on the Hub), or Arrow files with a save_to_disk
    state, or a save_to_disk dataset dict of splits."""
    if (folder / "dataset_dict.json").is_file():
        return True
    if any((folder / name).is_file() for name in SAVED) and any(folder.glob("*.arrow")):
        return True
    return any(folder.glob("*.parquet")) or any(folder.glob("data/*.parquet"))


class ParquetSource(ShardedSource):
    """Parquet or Arrow shards read with pyarrow, columns chosen from the first shard."""

    kind = "parquet"
    what = "Parquet or Arrow files"

    def __init__(self, cfg: DataConfig):
        self._pa = require("pyarrow", "Reading Parquet or Arrow data")
        require("pyarrow.parquet", "Reading Parquet or Arrow data")
        # what a damaged file raises: pyarrow's errors, OSError, and a UnicodeDecodeError
        # (a ValueError) where a damaged footer's column names are not UTF-8
        self._errors = (self._pa.ArrowException, OSError, ValueError)
        super().__init__(cfg)
        schema, first = self._first_schema()
        self.features = _features(schema, first)
        self._choose_columns(schema, first)

    # -- shards ----------------------------------------------------------------------
    def list_shards(self) -> list[Path]:
        path = Path(self.source)
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise DataError(f"{path}: no such file or folder")
        if (path / "dataset_dict.json").is_file():
            splits = sorted(p.name for p in path.iterdir() if (p / "state.json").is_file())
            shown = ", ".join(str(path / s) for s in splits) or "none found"
            raise DataError(f"{path}: a dataset saved with its splits (dataset_dict.json); "
                            f"give one split's folder: {shown}")
        state = path / "state.json"
        if state.is_file():
            try:
                files = [f["filename"] for f in json.loads(state.read_text("utf-8"))
                         ["_data_files"]]
            except (ValueError, KeyError, TypeError, OSError) as exc:
                raise DataError(f"{state}: not a save_to_disk state file ({exc})") from None
            return [path / name for name in files]
        for pattern in ("*.parquet", "*.arrow", "data/*.parquet"):
            # regular files only: opening a FIFO named .parquet would wait for ever
            found = sorted((p for p in path.glob(pattern) if p.is_file()), key=shard_order)
            if found:
                return found
        raise DataError(f"{path}: no .parquet or .arrow files in this folder")

    def count(self, shard: Path) -> int | None:
        """Rows, from the Parquet footer or the Arrow stream's batch headers."""
        try:
            if _is_parquet(shard):
                return self._pq().ParquetFile(shard).metadata.num_rows
            return sum(b.num_rows for b in _arrow_batches(self._pa, shard))
        except self._errors:
            return None

    def label_counts(self) -> dict[str, int] | None:
        if not self.label_column:
            return None
        counts: dict = {}
        for shard in self.shards:
            try:
                if self._mismatch(_schema(self._pa, shard), [self.label_column]):
                    continue  # a shard whose labels are not the first one's: left out
                for batch in self._batches(shard, [self.label_column]):
                    values = batch.column(0).value_counts().to_pylist()
                    for item in values:
                        counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
            except self._errors:
                return None  # a damaged shard: the sampled look reports it
        named: dict[str, int] = {}
        for value, n in counts.items():
            name = self._label(value, "", lambda *_: None)
            if name:  # None: no label; False: a value no class has (reported when read)
                named[name] = named.get(name, 0) + n
        return named

    def encoded_bytes(self) -> int:
        total = 0
        for shard in self.shards:
            try:
                if _is_parquet(shard):
                    meta = self._pq().ParquetFile(shard).metadata
                    for g in range(meta.num_row_groups):
                        group = meta.row_group(g)
                        for c in range(group.num_columns):
                            col = group.column(c)
                            if col.path_in_schema.split(".")[0] == self.image_column:
                                total += col.total_uncompressed_size
                else:
                    total += shard.stat().st_size
            except self._errors:
                continue  # reported when the shard is read
        return total

    # -- columns ---------------------------------------------------------------------
    def _first_schema(self):
        errors = []
        for shard in self.shards:
            try:
                return _schema(self._pa, shard), shard
            except self._errors as exc:
                errors.append(f"{self.name(shard)}: {_reason(exc)}")
        raise DataError(f"{self.source}: none of its {len(self.shards)} shards can be read as "
                        f"Parquet or Arrow (first: {errors[0]})")

    def _choose_columns(self, schema, file: Path) -> None:
        pa = self._pa
        cfg = self.cfg
        names = list(schema.names)
        types = {n: schema.field(n).type for n in names}
        self.image_column = cfg.image_column or self._image_column(names, types, file)
        if self.image_column not in types:
            choose_column("image", names, self.image_column, file)  # raises, naming it
        kind = _image_kind(pa, types[self.image_column])
        if kind is None:
            raise DataError(f"{file}: column {self.image_column!r} holds "
                            f"{types[self.image_column]}, not images (expected {IMAGE_TYPES})")
        self.image_kind = kind
        self.text_column = choose_column("text", names, cfg.text_column, file)
        t = types[self.text_column]
        if not (_is_text(pa, t) or (_is_list(pa, t) and _is_text(pa, t.value_type))):
            raise DataError(f"{file}: column {self.text_column!r} holds {t}, not captions "
                            "(expected strings, or lists of strings); set data.text_column")
        self.label_column = choose_column("label", names, cfg.label_column, file,
                                          required=False)
        self.label_names: list[str] | None = None
        if self.label_column is not None:
            t = types[self.label_column]
            if pa.types.is_nested(t) or _is_binary(pa, t):
                raise DataError(f"{file}: column {self.label_column!r} holds {t}, not labels "
                                "(expected integers or strings); set data.label_column "
                                "(none: no labels)")
            feature = self.features.get(self.label_column)
            if isinstance(feature, dict) and isinstance(feature.get("names"), list):
                self.label_names = [str(n) for n in feature["names"]]
        # the samples' own keys: webdataset's name, or workbench data convert's
        self.key_column = next((k for k in ("__key__", "key") if k in types
                                and _is_text(pa, types[k])), None)
        self._kinds = {c: _kind(pa, types[c]) for c in (self.image_column, self.text_column,
                                                        self.label_column, self.key_column)
                       if c}

    def _mismatch(self, schema, columns: list[str]) -> str | None:
        """Why a shard's ``columns`` cannot be read as the first shard's (None: they can)."""
        for c in columns:
            if c not in schema.names:
                return f"no column {c!r} (the first shard has it); the shard is left out"
            t = schema.field(c).type
            # a column of nulls alone (pyarrow's type for [None, None]) reads as gaps
            if not self._pa.types.is_null(t) and _kind(self._pa, t) != self._kinds[c]:
                return (f"column {c!r} holds {t}, not what the first shard's holds "
                        f"({self._kinds[c]}); the shard is left out")
        return None

    def _image_column(self, names: list[str], types: dict, file: Path) -> str:
        """The one column holding images by its type (or its Image feature); else one of
        path strings named like an image column."""
        typed = [n for n in names if _feature_type(self.features.get(n)) == "Image"
                 or _image_kind(self._pa, types[n]) in ("struct", "binary")]
        if len(typed) == 1:
            return typed[0]
        if typed:
            return choose_column("image", typed, "", file)  # by name, or says "several"
        paths = [n for n in names if _is_text(self._pa, types[n])]
        try:
            return choose_column("image", paths, "", file)
        except DataError:
            listed = ", ".join(f"{n!r} ({types[n]})" for n in names) or "none"
            raise DataError(f"{file}: no usable image column (expected {IMAGE_TYPES}, named "
                            f"like image or file_name); the columns are: {listed}. Set "
                            "data.image_column to the right one.") from None

    # -- samples ---------------------------------------------------------------------
    def samples(self, shard: Path, report: Report) -> Iterator[Sample]:
        name = self.name(shard)
        wanted = [c for c in (self.image_column, self.text_column, self.label_column,
                              self.key_column) if c]
        row = 0
        try:
            schema = _schema(self._pa, shard)
            mismatch = self._mismatch(schema, wanted)
            if mismatch:
                report(name, mismatch)
                return
            root = Path(self.cfg.images) if self.cfg.images else shard.parent
            for batch in self._batches(shard, wanted):
                images = _image_values(self._pa, batch.column(self.image_column),
                                       self.image_kind)
                captions = batch.column(self.text_column).to_pylist()
                labels = (batch.column(self.label_column).to_pylist()
                          if self.label_column else None)
                keys = batch.column(self.key_column).to_pylist() if self.key_column else None
                for j in range(batch.num_rows):
                    row += 1
                    where = f"{name}, row {row}"
                    key = keys[j] if keys and keys[j] else f"{shard.stem}:{row}"
                    yield from self._sample(key, where, images[j], captions[j],
                                            labels[j] if labels else None, root, report)
        except FileNotFoundError:
            report(name, "shard not found")
        except self._errors as exc:
            after = f" after row {row}" if row else ""
            report(name, f"corrupt or truncated shard, cannot be read{after} "
                         f"({_reason(exc)})")

    def _sample(self, key: str, where: str, image, caption, label, root: Path,
                report: Report) -> Iterator[Sample]:
        data = self._image_bytes(image, root, where, report)
        if data is False:
            return
        if caption is None or (isinstance(caption, list) and not caption):
            caption = None
        if data is None or caption is None:
            report(where, _missing(data is None, caption is None, self.image_column,
                                   self.text_column))
            return
        label = self._label(label, where, report)
        if label is False:
            return
        if isinstance(caption, list):  # several captions of one image: one pair each
            for k, text in enumerate(caption, start=1):
                if text is None:
                    report(f"{where}, caption {k}", f"no caption (null in column "
                                                    f"{self.text_column!r})")
                    continue
                yield Sample(key, text, data, label, f"{where}, caption {k}")
        else:
            yield Sample(key, caption, data, label, where)

    def _image_bytes(self, value, root: Path, where: str, report: Report):
        """The encoded image of a row (None: there is none; False: reported)."""
        data, path = value
        if data:
            return data
        if not path:
            return None
        try:
            file = resolve_image_path(root, path, allow_outside=self.cfg.allow_outside_paths)
        except PathRefused as exc:
            report(where, str(exc))
            return False
        special = special_file(file)
        try:
            if special:
                raise OSError(f"{special}, not an image file")
            with open(file, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            report(where, f"image file not found: {path}")
        except OSError as exc:
            report(where, f"{path}: cannot read ({exc.strerror or exc})")
        return False

    def _label(self, value, where: str, report: Report):
        """The label's name (None: no label, reported by the loader; False: reported)."""
        if value is None:
            return None
        if self.label_names is not None and isinstance(value, int):
            if value == -1:  # Hugging Face's "no label"
                return None
            if not 0 <= value < len(self.label_names):
                report(where, f"label {value} is not one of the {len(self.label_names)} "
                              f"classes of column {self.label_column!r}")
                return False
            return self.label_names[value]
        text = str(value).strip()
        return text or None

    def _batches(self, shard: Path, columns: list[str]):
        if _is_parquet(shard):
            yield from self._pq().ParquetFile(shard).iter_batches(
                batch_size=BATCH_ROWS, columns=columns)
            return
        for batch in _arrow_batches(self._pa, shard):
            yield batch.select(columns)

    def _pq(self):
        return require("pyarrow.parquet", "Reading Parquet data")


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    return read_rows(ParquetSource(cfg), problems)


# -- pyarrow helpers ---------------------------------------------------------------------
def _is_parquet(shard: Path) -> bool:
    return shard.suffix.lower() != ".arrow"


def _schema(pa, shard: Path):
    if _is_parquet(shard):
        import pyarrow.parquet as pq
        return pq.read_schema(shard)
    with pa.memory_map(str(shard)) as source:
        return _open_arrow(pa, source).schema


def _open_arrow(pa, source):
    """A save_to_disk shard is an Arrow IPC stream; other tools write the IPC file form."""
    try:
        return pa.ipc.open_stream(source)
    except pa.ArrowInvalid:
        source.seek(0)
        return pa.ipc.open_file(source)


def _arrow_batches(pa, shard: Path):
    with pa.memory_map(str(shard)) as source:
        reader = _open_arrow(pa, source)
        if isinstance(reader, pa.ipc.RecordBatchFileReader):
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
        else:
            yield from reader


def _features(schema, shard: Path) -> dict:
    """The Hugging Face features of a dataset (``{}`` when it has none): from the schema's
    ``huggingface`` metadata, else the save_to_disk folder's dataset_info.json."""
    raw = (schema.metadata or {}).get(b"huggingface")
    try:
        if raw:
            features = json.loads(raw).get("info", {}).get("features")
        else:
            info = shard.parent / "dataset_info.json"
            features = (json.loads(info.read_text("utf-8")).get("features")
                        if info.is_file() else None)
    except (ValueError, AttributeError, OSError):
        return {}  # metadata that cannot be read names nothing: plain columns
    return features if isinstance(features, dict) else {}


def _feature_type(feature) -> object:
    """A Hugging Face feature's ``_type`` (None where the metadata holds something else)."""
    return feature.get("_type") if isinstance(feature, dict) else None


def _kind(pa, t) -> str:
    """What a column holds as the reader reads it: shards alike in this read alike."""
    if _is_text(pa, t):
        return "strings"
    if _is_binary(pa, t):
        return "binary"
    if _is_list(pa, t):
        return f"lists of {_kind(pa, t.value_type)}"
    if pa.types.is_integer(t):
        return "integers"
    if pa.types.is_floating(t):
        return "numbers"
    if pa.types.is_struct(t):
        return "structs"
    return str(t)


def _is_text(pa, t) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or (
        hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t))


def _is_binary(pa, t) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or (
        hasattr(pa.types, "is_binary_view") and pa.types.is_binary_view(t))


def _is_list(pa, t) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _image_kind(pa, t) -> str | None:
    if pa.types.is_struct(t):
        names = {t.field(i).name for i in range(t.num_fields)}
        return "struct" if names & {"bytes", "path"} else None
    if _is_binary(pa, t):
        return "binary"
    if _is_text(pa, t):
        return "path"
    return None


def _image_values(pa, column, kind: str) -> list[tuple[bytes | None, str | None]]:
    """``(bytes, path)`` per row of an image column of the given kind."""
    if kind == "binary":
        return [(b, None) for b in column.to_pylist()]
    if kind == "path":
        return [(None, p) for p in column.to_pylist()]
    t = column.type
    if pa.types.is_null(t):  # a shard's column of nulls alone
        return [(None, None)] * len(column)
    fields = {t.field(i).name for i in range(t.num_fields)}
    n = len(column)
    data = column.field("bytes").to_pylist() if "bytes" in fields else [None] * n
    paths = column.field("path").to_pylist() if "path" in fields else [None] * n
    if column.null_count:  # a null struct: its fields' values are not the row's
        valid = column.is_valid().to_pylist()
        data = [d if v else None for d, v in zip(data, valid)]
        paths = [p if v else None for p, v in zip(paths, valid)]
    return list(zip(data, paths))


def _missing(no_image: bool, no_caption: bool, image_column: str, text_column: str) -> str:
    if no_image and no_caption:
        return f"no image (column {image_column!r}) and no caption (column {text_column!r})"
    if no_image:
        return f"a caption but no image (null in column {image_column!r})"
    return f"an image but no caption (null in column {text_column!r})"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
