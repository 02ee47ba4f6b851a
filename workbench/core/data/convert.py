"""Writing any source the workbench reads as Parquet or WebDataset shards (``workbench data
convert``), so a CSV, an image folder or COCO captions can grow into the streaming path.

Every sample carries a unique ``key``, its caption, its image as the original file's bytes
(never re-encoded: builtin:emoji, kept as pixels, is encoded as PNG) and, where the source
has labels, its label. Layouts:

- ``parquet``: ``data-00000-of-000NN.parquet``, as Hugging Face ``datasets`` writes an image
  data set: columns ``image`` (struct of ``bytes`` and ``path``, the file's name under the
  source's folder), ``text``, ``label`` (int64, its names a ``ClassLabel`` in the schema's
  ``huggingface`` metadata) and ``key``; ``datasets.load_dataset("parquet", ...)`` reads it
  with the names.
- ``webdataset``: ``data-000000.tar``, ... with ``KEY.png`` (or ``.jpg``, ``.webp``: the
  image's own format), ``KEY.txt`` (caption) and ``KEY.cls`` (label index), and the names
  one a line in ``classnames.txt`` beside the shards, as clip_benchmark's WebDataset sets.

Images are checked from their headers only (found, readable, an image Pillow knows, not a
decompression bomb), before anything is written: ``fail`` lists every bad row at once.
"""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from PIL import Image

from ..atomic import atomic_write, atomic_write_bytes
from ..config import DataConfig
from ..errors import DataError, RowProblem
from .images import ImageProblem, check_pixels, image_problems
from .loader import Progress, check_rows, label_ids, show_path
from .rows import Problems, SourceRows, check_left, keep_rows, problem_order
from .safepath import special_file
from .sources import read_source
from .sources.shards import require

SHARD_SIZE = 10_000  # samples per shard unless told
# A row group is what a Parquet reader reads at once: small enough that the first rows show
# at once and a shuffle buffer stays small, large enough that a shard is not mostly headers.
ROW_GROUP_ROWS = 1_000
ROW_GROUP_BYTES = 64 << 20
# Pillow's name for a format -> the extension readers expect (MPO: a camera's JPEG).
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif",
              "BMP": "bmp", "TIFF": "tiff"}
# What a conversion writes in its folder: shards, sidecars, and atomic_write's temporaries
# of them (``.NAME.<writer>.tmp``); --overwrite replaces these and nothing else.
OURS = re.compile(r"(\.)?(data-\d+(-of-\d+)?\.(parquet|tar)|classnames\.txt)(?(1)\..+\.tmp)")


@dataclass(frozen=True)
class Sample:
    """One pair as a shard holds it."""

    key: str
    caption: str
    label: int | None  # index into the label names
    name: str  # the image's file name under the source's folder
    ext: str  # the image format's extension: png, jpg, webp, ...
    image: bytes


@dataclass(frozen=True)
class ShardFormat:
    """How one output format names and fills its files."""

    shard_name: Callable[[int, int], str]  # (shard index, shard count) -> file name
    write: Callable[[Path, Iterable[Sample], list[str]], None]  # fill one shard file
    sidecars: Callable[[list[str]], dict[str, bytes]]  # label names -> files beside shards
    needs: str  # the package it writes with


@dataclass
class ConvertResult:
    """What a conversion wrote: shards as ``(file name, samples, bytes)``."""

    out: Path
    format: str
    source: str
    shards: list[tuple[str, int, int]]
    sidecars: list[str]
    label_names: list[str]
    label_column: str | None
    skipped: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def samples(self) -> int:
        return sum(n for _, n, _ in self.shards)

    @property
    def bytes(self) -> int:
        return sum(b for _, _, b in self.shards) + sum(
            (self.out / name).stat().st_size for name in self.sidecars)

    def to_dict(self) -> dict:
        return {"out": str(self.out), "format": self.format, "source": self.source,
                "pairs": self.samples, "bytes": self.bytes,
                "shards": [{"file": f, "pairs": n, "bytes": b} for f, n, b in self.shards],
                "sidecars": self.sidecars, "labels": self.label_names,
                "label_column": self.label_column,
                "skipped": [p.to_dict() for p in self.skipped], "notes": self.notes,
                "seconds": round(self.seconds, 3)}


def convert(cfg: DataConfig, to: str, out: str | Path, *, shard_size: int = SHARD_SIZE,
            overwrite: bool = False, progress: Progress | None = None) -> ConvertResult:
    """Write the pairs ``cfg`` names into shards of ``shard_size`` samples in ``out``.

    ``out`` must be empty or new; ``overwrite`` replaces an earlier conversion there (a
    folder holding anything else is refused). Bad rows follow ``cfg.on_error``. Each shard
    is written under a temporary name and renamed when complete; a conversion that fails
    part-way removes the shards it wrote.
    """
    t0 = time.perf_counter()
    if to not in FORMATS:
        raise DataError(f"unknown output format {to!r}; known: {', '.join(FORMATS)}")
    if shard_size < 1:
        raise DataError(f"--shard-size must be at least 1, not {shard_size}")
    fmt = FORMATS[to]
    require(fmt.needs, f"writing {to}")
    out = Path(out)
    old = _check_out(out, overwrite, cfg.source)
    problems = Problems(cfg.on_error)
    src, exts = _checked_rows(cfg, problems, progress)
    labels, names = label_ids(src)
    sidecars = fmt.sidecars(names)
    for stale in old:  # only now: a source that cannot be read leaves the old data set whole
        stale.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    n = len(src)
    count = -(-n // shard_size)
    shards: list[tuple[str, int, int]] = []
    written: list[Path] = []
    samples = _samples(src, exts, labels, progress)
    try:
        for i in range(count):
            path = out / fmt.shard_name(i, count)
            size = min(shard_size, n - i * shard_size)
            chunk = (next(samples) for _ in range(size))
            atomic_write(path, lambda tmp: fmt.write(tmp, chunk, names))
            written.append(path)
            shards.append((path.name, size, path.stat().st_size))
        for name, data in sidecars.items():
            written.append(atomic_write_bytes(out / name, data))
    except BaseException:
        for path in written:  # never leave a data set that looks whole but is not
            path.unlink(missing_ok=True)
        raise
    return ConvertResult(
        out=out, format=to, source=cfg.source, shards=shards, sidecars=list(sidecars),
        label_names=names, label_column=src.label_column,
        skipped=sorted(problems.items, key=problem_order),
        notes=list(src.notes), seconds=time.perf_counter() - t0)


def _check_out(out: Path, overwrite: bool, source: str) -> list[Path]:
    """The files of an earlier conversion in ``out`` that ``overwrite`` replaces; refuses a
    file, a non-empty folder without ``overwrite`` or with other files in it, and the
    folder the source is in (it would be deleted under the reader)."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder; give a new or empty folder")
    if out.is_dir() and not source.startswith("builtin:") and \
            Path(source).resolve().is_relative_to(out.resolve()):
        raise DataError(f"{out}: holds the source {source}; write the shards to another "
                        "folder")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if entries and not overwrite:
        raise DataError(f"{out}: is not empty ({len(entries)} entries, e.g. "
                        f"{entries[0].name}); give a new or empty folder, or --overwrite to "
                        "replace an earlier conversion there")
    foreign = [e for e in entries if not _ours(e)]
    if foreign:
        raise DataError(f"{out}: holds {foreign[0].name}, which no conversion writes; "
                        "--overwrite only replaces an earlier conversion's shards (give a new "
                        "or empty folder)")
    return entries


def _ours(entry: Path) -> bool:
    """Whether ``entry`` is a file some conversion writes: a shard, a sidecar, or the
    temporary of a write that was killed (atomic_write's ``.NAME.<writer>.tmp``)."""
    return entry.is_file() and OURS.fullmatch(entry.name) is not None


def _checked_rows(cfg: DataConfig, problems: Problems, progress: Progress | None
                  ) -> tuple[SourceRows, list[str]]:
    """The source's good rows and each one's image extension; bad rows go to ``problems``
    (raising, in fail mode, once every row has been checked)."""
    src = read_source(cfg, problems)
    if src.image_paths is None and src.image_bytes is None and src.images is None:
        raise DataError(f"{cfg.source}: holds feature vectors, not images; only a source "
                        "with images (an image folder, a CSV, COCO captions, builtin:emoji) "
                        "can be written as shards")
    src, _ = check_rows(src, problems)
    if src.images is not None:
        exts = ["png"] * len(src)  # pixels, encoded as PNG when written
    else:
        src, exts = _check_images(src, problems, progress)
    check_left(src, problems, "nothing to write")
    return src, exts


def _check_images(src: SourceRows, problems: Problems, progress: Progress | None
                  ) -> tuple[SourceRows, list[str]]:
    """The rows whose image (a file, or encoded bytes from shards) is usable, and each one's
    extension; each image is checked once, however many captions share it."""
    items = src.image_paths if src.image_paths is not None else src.image_bytes
    found: dict[str | bytes, str | ImageProblem] = {}
    total = len(set(items))
    for item in items:
        if item not in found:
            try:
                found[item] = image_extension(item)
            except ImageProblem as exc:
                found[item] = exc
            if progress and (len(found) % 256 == 0 or len(found) == total):
                progress("checking images", len(found), total)
    bad = [item for item, v in found.items() if isinstance(v, ImageProblem)]
    if src.image_paths is not None and len(found) >= 5 and len(bad) == len(found) and all(
            str(found[p]) == "image file not found" for p in bad):
        raise DataError(f"{src.file}: none of its {len(found)} images were found under "
                        f"{src.root} (e.g. {show_path(bad[0], src.root)}); if they are in another "
                        "folder, give it with --images DIR (data.images)")
    if not bad:
        return src, [found[item] for item in items]
    keep = np.array([not isinstance(found[item], ImageProblem) for item in items])
    for i in np.flatnonzero(~keep):
        what = f"{show_path(items[i], src.root)}: " if src.image_paths is not None else ""
        src.problem(problems, i, f"{what}{found[items[i]]}")
    src = keep_rows(src, keep)
    return src, [found[item] for item in (src.image_paths if src.image_paths is not None
                                          else src.image_bytes)]


def image_extension(image: str | Path | bytes) -> str:
    """The extension for an image (a file, or its encoded bytes): ``png``, ``jpg``, ... from
    its header, or an ImageProblem saying why it is no usable image. No pixel is decoded."""
    encoded = isinstance(image, bytes)
    special = None if encoded else special_file(image)
    if special:  # Pillow would wait for ever on a FIFO
        raise ImageProblem(f"{special}, not an image file")
    if encoded and not image:
        raise ImageProblem("empty image (0 bytes)")
    with image_problems(), Image.open(io.BytesIO(image) if encoded else image) as im:
        (w, h), kind = im.size, im.format
    check_pixels(w, h)
    suffix = "" if encoded else Path(image).suffix.lstrip(".").lower()
    return EXTENSIONS.get(kind) or suffix or kind.lower()


def _samples(src: SourceRows, exts: list[str], labels, progress: Progress | None
             ) -> Iterator[Sample]:
    """Each good row as a Sample, in source order, its image read (or PNG-encoded) now."""
    n = len(src)
    step = max(1, n // 200)
    for i in range(n):
        key = f"{i:09d}"
        if src.image_paths is not None:
            path = src.image_paths[i]
            name = show_path(path, src.root)
            try:
                data = Path(path).read_bytes()
            except OSError as exc:  # it was there a moment ago: moved or deleted since
                raise DataError(f"{src.where(i)}: {name}: cannot read it any more "
                                f"({exc.strerror or exc})") from None
        elif src.image_bytes is not None:
            name, data = f"{key}.{exts[i]}", src.image_bytes[i]
        else:
            name, data = f"{key}.png", _png(src.images[i])
        # before the yield: the generator is not resumed after the last sample
        if progress and ((i + 1) % step == 0 or i + 1 == n):
            progress("writing shards", i + 1, n)
        yield Sample(key=key, caption=src.captions[i],
                     label=None if labels is None else int(labels[i]),
                     name=name, ext=exts[i], image=data)


def _png(pixels) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels.transpose(1, 2, 0)).save(buf, format="PNG")
    return buf.getvalue()


# --- Parquet ----------------------------------------------------------------------------

def _parquet_schema(names: list[str]):
    """The columns and the ``huggingface`` metadata ``datasets`` writes for these features
    (``Features.arrow_schema``), so ``load_dataset`` restores Image and ClassLabel."""
    import pyarrow as pa

    columns = [("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
               ("text", pa.string())]
    features = {"image": {"_type": "Image"}, "text": {"dtype": "string", "_type": "Value"}}
    if names:
        columns.append(("label", pa.int64()))
        features["label"] = {"names": names, "_type": "ClassLabel"}
    columns.append(("key", pa.string()))
    features["key"] = {"dtype": "string", "_type": "Value"}
    meta = json.dumps({"info": {"features": features}}, ensure_ascii=False)
    return pa.schema(columns, metadata={b"huggingface": meta.encode("utf-8")})


def _write_parquet(path: Path, samples: Iterable[Sample], names: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema(names)
    with pq.ParquetWriter(path, schema) as writer:
        for group in _row_groups(samples):
            cols = {"image": [{"bytes": s.image, "path": s.name} for s in group],
                    "text": [s.caption for s in group]}
            if names:
                cols["label"] = [s.label for s in group]
            cols["key"] = [s.key for s in group]
            writer.write_table(pa.Table.from_pydict(cols, schema=schema),
                               row_group_size=len(group))


def _row_groups(samples: Iterable[Sample]) -> Iterator[list[Sample]]:
    group: list[Sample] = []
    size = 0
    for s in samples:
        group.append(s)
        size += len(s.image)
        if len(group) >= ROW_GROUP_ROWS or size >= ROW_GROUP_BYTES:
            yield group
            group, size = [], 0
    if group:
        yield group


# --- WebDataset -------------------------------------------------------------------------

def _write_tar(path: Path, samples: Iterable[Sample], names: list[str]) -> None:
    import webdataset as wds

    # A whole-second mtime: a fractional one costs each member a 1 KB PAX header.
    with open(path, "wb") as fh, wds.TarWriter(fh, encoder=False,
                                               mtime=int(time.time())) as sink:
        for s in samples:
            entry = {"__key__": s.key, s.ext: s.image, "txt": s.caption.encode("utf-8")}
            if s.label is not None:
                entry["cls"] = str(s.label).encode("ascii")
            sink.write(entry)


def _classnames(names: list[str]) -> dict[str, bytes]:
    """``classnames.txt``: label ``i``'s name on line ``i + 1`` (clip_benchmark's layout)."""
    if not names:
        return {}
    broken = next((n for n in names if "\n" in n or "\r" in n), None)
    if broken is not None:
        raise DataError(f"label {broken!r} holds a line break; classnames.txt keeps one name "
                        "a line (write parquet instead, or fix the label)")
    return {"classnames.txt": ("\n".join(names) + "\n").encode("utf-8")}


FORMATS: dict[str, ShardFormat] = {
    "parquet": ShardFormat(shard_name=lambda i, n: f"data-{i:05d}-of-{n:05d}.parquet",
                           write=_write_parquet, sidecars=lambda names: {}, needs="pyarrow"),
    "webdataset": ShardFormat(shard_name=lambda i, n: f"data-{i:06d}.tar", write=_write_tar,
                              sidecars=_classnames, needs="webdataset"),
}
