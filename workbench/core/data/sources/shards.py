"""Sharded sources (Parquet / Arrow, WebDataset): their samples, one shard at a time.

A sharded source is a list of shard files. Each format (a :class:`ShardedSource` subclass)
lists a source's shards, counts a shard's samples from its metadata where it has some, and
iterates one shard's :class:`Sample` s, reporting the samples it leaves out and why. The
in-memory path (:func:`read_rows`) reads every shard into a :class:`SourceRows` whose images
are the encoded bytes, decoded by the loader as it decodes files; streaming training is to
iterate the same samples shard by shard.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterator

from ...config import DataConfig
from ...errors import DataError
from ..memory import memory_budget, size_text
from ..rows import Problems, SourceRows, natural_key

#: what installs the optional readers (pyarrow, webdataset)
INSTALL = 'pip install "multimodal-workbench[formats]"'


@dataclass(frozen=True)
class Sample:
    """One pair as a shard holds it: the image still encoded (PNG, JPEG, WebP bytes).

    ``key`` names it in its shard (WebDataset's key; a Parquet file's ``__key__`` column, or
    its row); ``where`` says where it is, for messages: "data-000003.tar, key 000123" or
    "part-00001.parquet, row 17" (rows counted from 1, as everywhere in the workbench).
    """

    key: str
    caption: str | None
    image: bytes | None
    label: str | None
    where: str


#: ``report(where, reason)``: a sample (or a whole shard) is left out, and why
Report = Callable[[str, str], None]


def require(module: str, what: str):
    """Import an optional package, or say which pip command installs it (no traceback)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DataError(f"{what} needs the {module.split('.')[0]} package, which is not "
                        f"installed; install it with: {INSTALL}") from None


def shard_order(path: Path) -> list:
    """Shards in number order: data-9 before data-10."""
    return natural_key(path.name)


class ShardedSource(ABC):
    """A source read shard by shard. Subclasses set ``kind`` and implement listing,
    counting and iterating; ``missing`` holds shards a pattern names that do not exist
    (left out and reported, not fatal, unless no shard exists at all)."""

    kind: ClassVar[str]
    what: ClassVar[str]  # for messages: "a Parquet source"

    def __init__(self, cfg: DataConfig):
        self.cfg = cfg
        self.source = cfg.source
        self.missing: list[Path] = []
        self.notes: list[str] = []
        self.label_column: str | None = None
        # True: the labels are kept only if some sample has one (a WebDataset's optional
        # .cls); a column the user or the data names is kept and every gap reported.
        self.labels_if_any = False
        self.shards: list[Path] = self.list_shards()
        if not self.shards:
            raise DataError(f"{self.source}: no shards to read ({self.what})")
        self._base = self._common_folder()

    # -- per format ------------------------------------------------------------------
    @abstractmethod
    def list_shards(self) -> list[Path]:
        """The shard files, in order (raises DataError when there are none)."""

    @abstractmethod
    def count(self, shard: Path) -> int | None:
        """How many samples ``shard`` holds, from its metadata where it has some (without
        decoding an image); None when only reading it would tell."""

    @abstractmethod
    def samples(self, shard: Path, report: Report) -> Iterator[Sample]:
        """``shard``'s complete samples (image and caption), in order; a bad sample, or the
        rest of a shard that cannot be read, is reported and left out."""

    def label_counts(self) -> dict[str, int] | None:
        """Every shard's label counts read from the label column alone (no image read);
        None when the format cannot tell without reading whole samples."""
        return None

    @abstractmethod
    def encoded_bytes(self) -> int:
        """About how many bytes the encoded images take in memory (before decoding)."""

    # -- shared ----------------------------------------------------------------------
    def name(self, shard: Path) -> str:
        """The shard as messages name it: its path from the source's folder."""
        try:
            return str(shard.relative_to(self._base))
        except ValueError:
            return str(shard)

    def _common_folder(self) -> Path:
        folders = {p.parent for p in self.shards + self.missing}
        if len(folders) == 1:
            return folders.pop()
        return Path(os.path.commonpath([str(f) for f in folders]))

    def total(self) -> int | None:
        """All shards' samples from metadata, or None when a shard does not say."""
        counts = [self.count(s) for s in self.shards]
        return None if any(c is None for c in counts) else sum(counts)


def check_encoded_memory(src: ShardedSource) -> None:
    """Refuse before reading when the encoded images alone pass the memory budget (the
    decoded pixels are checked again, with the image size, before decoding)."""
    budget = memory_budget(src.cfg.max_memory_gb)
    need = src.encoded_bytes()
    if not budget.allows(need):
        n = len(src.shards)
        raise DataError(f"{src.source}: its {n} shard{'s' if n != 1 else ''} hold about "
                        f"{size_text(need)} of encoded images, all held in memory while "
                        f"they are decoded: more than the {size_text(budget.bytes)} data may "
                        f"take ({budget.origin}); read fewer shards, or raise "
                        "data.max_memory_gb")


def read_rows(src: ShardedSource, problems: Problems, limit: int | None = None) -> SourceRows:
    """Every shard's samples as the loader's rows: encoded images, captions, labels, and
    where each pair is. Samples are numbered 1..N across the shards in ``rows``. ``limit``:
    only the first that many samples (a quick look at a large source)."""
    if limit is None:
        check_encoded_memory(src)

    def report(where: str, reason: str) -> None:
        problems.add(where, None, reason)

    for shard in src.missing:
        report(src.name(shard), "shard not found (named by the pattern)")
    captions, images, labels, places, shards = [], [], [], [], []
    for shard in src.shards:
        path = str(shard)
        if limit is not None and len(captions) >= limit:
            break
        for s in src.samples(shard, report):
            if limit is not None and len(captions) >= limit:
                break
            captions.append(s.caption)
            images.append(s.image)
            labels.append(s.label)
            places.append(s.where)
            shards.append(path)
    column = src.label_column
    if column and src.labels_if_any and all(v is None for v in labels):
        column = None
    source = Path(src.source)
    return SourceRows(kind=src.kind, file=source,
                      root=source if source.is_dir() else source.parent,
                      rows=list(range(1, len(captions) + 1)), captions=captions,
                      image_bytes=images, labels={column: labels} if column else {},
                      label_column=column, notes=list(src.notes), places=places,
                      shards=shards)
