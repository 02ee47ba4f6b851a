"""What a data source reads, and the bad-row bookkeeping every source shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, RowProblem


@dataclass
class SourceRows:
    """The candidate pairs one source read, before images are decoded and rows checked.

    ``rows`` holds each pair's row number in ``file`` (1-based, as an editor shows it) so a
    problem found later still names the right row. Exactly one of ``image_paths`` (files to
    decode), ``image_bytes`` (encoded images read from shards), ``images`` (already decoded)
    or ``image_features`` (vectors) is set, and ``captions`` or ``text_features``.

    A sharded source (Parquet, WebDataset) numbers its pairs 1..N across its shards in
    ``rows`` and says where each one is in ``places`` ("data-000003.tar, key 000123"), which
    its problems name instead of the file and row; ``shards`` holds each pair's shard file
    (with its place, what the image cache knows it by).
    """

    kind: str
    file: Path
    root: Path
    rows: list[int]
    captions: list[str] | None = None
    image_paths: list[str] | None = None  # normalised path strings (see safepath)
    image_bytes: list[bytes] | None = None  # encoded images (PNG, JPEG, ...), one per row
    images: np.ndarray | None = None
    text_features: np.ndarray | None = None
    image_features: np.ndarray | None = None
    labels: dict[str, list[str | None]] = field(default_factory=dict)
    label_column: str | None = None
    extras: dict[str, list] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the reader ignored or assumed
    places: list[str] | None = None  # sharded sources: where each pair is, for messages
    shards: list[str] | None = None  # sharded sources: each pair's shard file

    def __len__(self) -> int:
        return len(self.rows)

    def where(self, i: int) -> str:
        """Where pair ``i`` is, as a problem names it."""
        if self.places is not None:
            return self.places[i]
        return f"{self.file}, row {self.rows[i]}"

    def problem(self, problems: "Problems", i: int, reason: str) -> None:
        """Report pair ``i`` as bad: its file and row, or its shard and key (or row)."""
        if self.places is not None:
            problems.add(self.places[i], None, reason)
        else:
            problems.add(self.file, self.rows[i], reason)


class Problems:
    """Collects bad rows; in ``fail`` mode the load stops with the first ones listed."""

    def __init__(self, on_error: str = "fail"):
        if on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
        self.on_error = on_error
        self.items: list[RowProblem] = []

    def add(self, file: str | Path, row: int | None, reason: str) -> None:
        self.items.append(RowProblem(str(file), row, reason))

    def __len__(self) -> int:
        return len(self.items)

    def check(self, what: str) -> None:
        """Raise a DataError listing the problems so far when failing on errors."""
        if self.on_error == "fail" and self.items:
            # in file and row order, whichever check found them
            self.items.sort(key=problem_order)
            n = len(self.items)
            raise DataError(f"{n} bad row{'s' if n != 1 else ''} in {what} (set "
                            "data.on_error = \"skip\" to leave them out):", self.items)


def natural_key(text: str) -> list:
    """Sorts names with their numbers in numeric order ("data-9" before "data-10"), case
    aside. Numbers compare by length, then digit by digit: int() refuses more than 4300
    digits, and "\u00b2".isdigit() is true though int() refuses it, so ASCII digits only."""
    return [(0, len(t.lstrip("0")), t.lstrip("0")) if t.isascii() and t.isdigit()
            else (1, 0, t.lower()) for t in re.split(r"([0-9]+)", text) if t]


def problem_order(p: RowProblem) -> tuple:
    """Problems in file and row order; numbers in names in numeric order, so a shard's
    "row 9" comes before its "row 10" (a sharded source's place is the problem's file)."""
    return (natural_key(p.file), p.row if p.row is not None else -1)


def check_left(src: SourceRows, problems: Problems, then: str) -> None:
    """After the last check of a load: the bad rows listed (fail mode), or a refusal when
    no usable pair is left (``then``: what that means here)."""
    problems.check(str(src.file))
    if len(src) == 0:
        n = len(problems)
        detail = f" ({n} row{'s' if n != 1 else ''} skipped)" if n else ""
        raise DataError(f"{src.file}: no usable pairs{detail}; {then}", problems.items)


def keep_rows(src: SourceRows, keep: np.ndarray) -> SourceRows:
    """``src`` with only the rows where ``keep`` is true (every per-row field follows)."""
    idx = np.flatnonzero(keep)
    pick = (lambda seq: [seq[i] for i in idx])

    def arr(a):
        return None if a is None else a[idx]

    return SourceRows(
        kind=src.kind, file=src.file, root=src.root, rows=pick(src.rows),
        captions=None if src.captions is None else pick(src.captions),
        image_paths=None if src.image_paths is None else pick(src.image_paths),
        image_bytes=None if src.image_bytes is None else pick(src.image_bytes),
        images=arr(src.images), text_features=arr(src.text_features),
        image_features=arr(src.image_features),
        labels={k: pick(v) for k, v in src.labels.items()}, label_column=src.label_column,
        extras={k: pick(v) for k, v in src.extras.items()}, notes=list(src.notes),
        places=None if src.places is None else pick(src.places),
        shards=None if src.shards is None else pick(src.shards))
