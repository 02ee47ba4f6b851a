"""WebDataset shards: a ``.tar``, a folder of them, or a brace pattern
(``shards/data-{000000..000099}.tar``), read with the ``webdataset`` library.

A sample is the files of one key, one after another in the tar (``000123.jpg``,
``000123.txt``, ``000123.cls``): its image is the first of ``.jpg .jpeg .png .webp``, its
caption the ``.txt`` (or the ``caption`` / ``text`` field of a ``.json``), its optional label
the ``.cls``: a class index named by ``classnames.txt`` beside the shards where there is one
(clip_benchmark's layout, and ``workbench data convert``'s), else the label itself.
data.image_column, text_column and label_column name another extension.
Only local files are read: a URL or ``pipe:`` source is refused (nothing is fetched).
"""

from __future__ import annotations

import json
import re
import tarfile
import zlib
from pathlib import Path
from typing import Iterator

from ...config import DataConfig
from ...errors import DataError
from ..rows import Problems, SourceRows
from .shards import Report, Sample, ShardedSource, shard_order, read_rows, require

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
SHARD_SUFFIXES = (".tar", ".tgz", ".tar.gz")
CAPTION_FIELDS = ("caption", "text")
CLASS_NAMES = "classnames.txt"  # label i's name on line i + 1
META = re.compile(r"__[^/]*__($|/)")  # files webdataset skips (a shard's own metadata)
_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, ValueError)


_BLOCK = 512
_REGULAR = (b"0", b"\0")  # a regular file's type flag (old tars: NUL)
_SKIPPED = (b"5",)  # a folder: no data, not a sample's file


def _plain_member_names(shard: Path) -> list[str] | None:
    """The regular files' names in an uncompressed tar of plain ustar headers, each header
    read and its data skipped with a seek; None for anything else (compressed, a PAX or GNU
    extended header, a bad checksum, a truncated archive, a name that is not UTF-8):
    ``tarfile`` then reads it, and says what is wrong where something is."""
    names: list[str] = []
    try:
        with open(shard, "rb") as fh:
            while True:
                header = fh.read(_BLOCK)
                if len(header) < _BLOCK:
                    return None  # no end-of-archive block: truncated
                if header == bytes(_BLOCK):
                    return names
                if header[257:262] != b"ustar" or not _checksum_ok(header):
                    return None
                flag = header[156:157]
                if flag not in _REGULAR and flag not in _SKIPPED:
                    return None
                field = header[124:136]
                if field[0] & 0x80:
                    return None  # a base-256 size: tarfile's business
                size = int(field.strip(b" \0") or b"0", 8)
                if flag in _REGULAR:
                    name = header[:100].split(b"\0", 1)[0]
                    prefix = header[345:500].split(b"\0", 1)[0]
                    full = prefix + b"/" + name if prefix else name
                    names.append(full.decode("utf-8"))
                fh.seek(-(-size // _BLOCK) * _BLOCK, 1)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _checksum_ok(header: bytes) -> bool:
    """The ustar header checksum: the header's bytes summed with the checksum field read as
    spaces (as tarfile checks it)."""
    stored = header[148:156].split(b"\0", 1)[0].strip()
    try:
        want = int(stored or b"x", 8)
    except ValueError:
        return False
    total = sum(header) - sum(header[148:156]) + 8 * 32
    return want == total


def is_pattern(source: str) -> bool:
    """Whether ``source`` is a brace pattern naming shards."""
    return "{" in source and "}" in source


def is_shard(path: Path) -> bool:
    return path.name.lower().endswith(SHARD_SUFFIXES)


def looks_like(folder: Path) -> bool:
    """Whether ``folder`` holds tar shards (for detection)."""
    return any(is_shard(p) and p.is_file() for p in folder.iterdir())


class WebDatasetSource(ShardedSource):
    """Tar shards, grouped into samples by key as webdataset groups them."""

    kind = "webdataset"
    what = "WebDataset .tar shards"

    def __init__(self, cfg: DataConfig):
        self._tar = require("webdataset.tariterators", "Reading WebDataset shards")
        super().__init__(cfg)
        self.image_extensions = ((cfg.image_column.lower(),) if cfg.image_column
                                 else IMAGE_EXTENSIONS)
        self.text_extension = cfg.text_column.lower()
        label = cfg.label_column.lower()
        if label != "none":
            self.label_column = label or "cls"
            self.labels_if_any = not label
        self.class_names = self._class_names()

    def _class_names(self) -> list[str] | None:
        path = self._base / CLASS_NAMES
        if not self.label_column or not path.is_file():
            return None
        try:
            names = path.read_text("utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read the class names ({exc})") from None
        self.notes.append(f"labels: .{self.label_column} class indices named by {CLASS_NAMES}")
        return [n.strip() for n in names]

    def list_shards(self) -> list[Path]:
        source = self.source
        if "://" in source or source.startswith("pipe:"):
            raise DataError(f"{source}: only shards on this machine are read (nothing is "
                            "downloaded); give a local file, folder or pattern")
        path = Path(source)
        if path.is_file():
            return [path]
        if path.is_dir():
            found = sorted((p for p in path.iterdir() if p.is_file() and is_shard(p)),
                           key=shard_order)
            if not found:
                raise DataError(f"{path}: no .tar shards in this folder")
            return found
        if not is_pattern(source):
            raise DataError(f"{source}: no such file or folder")
        shardlists = require("webdataset.shardlists", "Reading WebDataset shards")
        try:
            names = shardlists.expand_urls(source)
        except Exception as exc:  # noqa: BLE001 - braceexpand's own errors
            raise DataError(f"{source}: not a brace pattern webdataset can expand "
                            f"({exc})") from None
        paths = [Path(n) for n in names]
        found = [p for p in paths if p.is_file()]
        self.missing = [p for p in paths if not p.is_file()]
        if not found:
            raise DataError(f"{source}: the pattern matches no shard (none of its "
                            f"{len(paths)} names exists, e.g. {paths[0]})")
        return found

    def count(self, shard: Path) -> int | None:
        """Samples (runs of files with one key), from the tar headers alone: the members'
        data is skipped, not read. Plain ustar headers (what ``data convert`` and most
        writers produce) are read directly, several times faster than ``tarfile``, which
        reads anything else (a compressed shard, PAX or GNU long-name headers)."""
        names = None if shard.name.endswith((".tgz", ".gz")) else _plain_member_names(shard)
        try:
            if names is None:
                with tarfile.open(shard) as tar:
                    names = [m.name for m in tar if m.isreg()]
        except _ERRORS:
            return None
        count, last = 0, None
        for name in names:
            if META.match(name):
                continue
            key, _ = self._tar.base_plus_ext(name)
            if key is not None and key != last:
                count += 1
                last = key
        return count

    def encoded_bytes(self) -> int:
        total = 0
        for shard in self.shards:
            try:
                total += shard.stat().st_size
            except OSError:
                pass
        return total

    def samples(self, shard: Path, report: Report) -> Iterator[Sample]:
        name = self.name(shard)
        key, parts = None, {}
        seen: dict[str, None] = {}  # the keys read so far, in order
        try:
            with open(shard, "rb") as fh:
                for entry in self._tar.tar_file_iterator(fh):
                    k, suffix = self._tar.base_plus_ext(entry["fname"])
                    if k is None:
                        continue  # a file without an extension belongs to no sample
                    if k != key:
                        if key is not None:
                            yield from self._sample(key, parts, name, seen, report)
                        key, parts = k, {}
                    suffix = suffix.lower()
                    if suffix in parts:
                        report(f"{name}, key {k}", f"holds two .{suffix} files; the first "
                                                   "is used")
                        continue
                    parts[suffix] = entry["data"]
                if key is not None and not _ends_whole(fh):
                    # Cut at a header: tarfile takes that for the end. The last sample may
                    # lack files that followed it, so it is left out with the rest.
                    raise tarfile.ReadError("it ends without the tar end-of-archive blocks")
            if key is not None:
                yield from self._sample(key, parts, name, seen, report)
        except _ERRORS as exc:
            # webdataset appends " @ <file object>" to the message: the shard is named here.
            reason = str(exc).split(" @ ")[0].strip() or type(exc).__name__
            n = len(seen)
            after = (f" after {n} sample{'s' if n != 1 else ''} (the last whole one: key "
                     f"{next(reversed(seen))})" if seen else "")
            report(name, f"corrupt or truncated shard, cannot be read{after} ({reason})")

    def _sample(self, key: str, parts: dict, name: str, seen: dict,
                report: Report) -> Iterator[Sample]:
        where = f"{name}, key {key}"
        if key in seen:
            report(where, "repeats the key of an earlier sample in this shard")
            return
        seen[key] = None
        image = next((parts[e] for e in self.image_extensions if e in parts), None)
        caption = self._caption(parts, where, report)
        if caption is False:
            return
        if image is None or caption is None:
            report(where, self._missing(image is None, caption is None, parts))
            return
        label = None
        if self.label_column and self.label_column in parts:
            label = _text(parts[self.label_column], f".{self.label_column}", where, report)
            if label is False:
                return
            label = label.strip() or None
            if label is not None and self.class_names is not None:
                # isdecimal, not isdigit: int() refuses "\u00b2", and so (as a ValueError,
                # which would be taken for a corrupt shard) does it thousands of digits
                index = int(label) if label.isdecimal() and len(label) <= 18 else -1
                if not 0 <= index < len(self.class_names):
                    report(where, f"its .{self.label_column} {label!r} is not a class index "
                                  f"of {CLASS_NAMES} ({len(self.class_names)} names)")
                    return
                label = self.class_names[index]
        yield Sample(key, caption, image, label, where)

    def _caption(self, parts: dict, where: str, report: Report):
        """The caption (None: none; False: a bad one, reported)."""
        ext = self.text_extension
        if ext and ext != "json":
            return _text(parts[ext], f".{ext}", where, report) if ext in parts else None
        if not ext and "txt" in parts:
            return _text(parts["txt"], ".txt", where, report)
        if "json" not in parts:
            return None
        try:
            doc = json.loads(parts["json"])
        except (ValueError, RecursionError):
            report(where, "its .json is not valid JSON")
            return False
        if not isinstance(doc, dict):
            report(where, f"its .json is a {type(doc).__name__}, expected an object with a "
                          "caption field")
            return False
        field = next((f for f in CAPTION_FIELDS if f in doc), None)
        if field is None:
            return None
        if not isinstance(doc[field], str):
            report(where, f"its .json {field!r} is {doc[field]!r}, expected a string")
            return False
        return doc[field]

    def _missing(self, no_image: bool, no_caption: bool, parts: dict) -> str:
        images = " ".join(f".{e}" for e in self.image_extensions)
        captions = (f".{self.text_extension}" if self.text_extension and
                    self.text_extension != "json" else ".txt, or .json with a caption field")
        has = ", ".join(f".{s}" for s in parts) or "nothing"
        if no_image and no_caption:
            return f"no image ({images}) and no caption ({captions}); it has {has}"
        if no_image:
            return f"a caption but no image ({images}); it has {has}"
        return f"an image but no caption ({captions}); it has {has}"


def _ends_whole(fh) -> bool:
    """Whether an uncompressed tar ends as tar files end, with two zero blocks (every tar
    writer adds them; a compressed shard cut short fails in its decompressor instead)."""
    if not fh.name.lower().endswith(".tar"):
        return True
    size = fh.seek(0, 2)
    if size < 1024:
        return False
    fh.seek(size - 1024)
    return fh.read(1024) == bytes(1024)


def _text(data: bytes, what: str, where: str, report: Report):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report(where, f"its {what} is not UTF-8 text")
        return False


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    return read_rows(WebDatasetSource(cfg), problems)

