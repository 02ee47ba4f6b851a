"""Data sources: one module per format, one registry, and detection from the path."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ...config import DataConfig
from ...errors import DataError
from ..rows import Problems, SourceRows
from ..safepath import special_file
from . import builtin, coco, csvfile, imagefolder, npz, parquet, webdataset
from .shards import ShardedSource

Reader = Callable[[DataConfig, Path, Problems], SourceRows]

SOURCES: dict[str, Reader] = {
    "builtin": builtin.read,
    "imagefolder": imagefolder.read,
    "csv": csvfile.read,
    "coco": coco.read,
    "npz": npz.read,
    "parquet": parquet.read,
    "webdataset": webdataset.read,
}

#: the sources read shard by shard (a sample at a time), by format
SHARDED: dict[str, type[ShardedSource]] = {
    "parquet": parquet.ParquetSource,
    "webdataset": webdataset.WebDatasetSource,
}

DESCRIPTIONS = {
    "builtin": "shipped with the workbench (builtin:emoji)",
    "imagefolder": "a folder with metadata.jsonl or metadata.csv (file_name, text, label)",
    "csv": "a CSV with image path, caption and optional label columns",
    "coco": "a COCO captions JSON (images + annotations) and its image folder",
    "npz": "an .npz with text (N, Dt) and image (N, Di) feature arrays, optional label",
    "parquet": "Hugging Face data: a .parquet file, a folder of them, or a save_to_disk folder",
    "webdataset": "WebDataset shards: a .tar, a folder of them, or a pattern like "
                  "data-{000000..000009}.tar",
}


def detect(source: str, fmt: str = "auto") -> str:
    """The format of ``source``: ``fmt`` when set, else told from the path."""
    if fmt != "auto":
        if fmt not in SOURCES:
            raise DataError(f"{source}: unknown format {fmt!r}; known: {', '.join(SOURCES)}")
        return fmt
    if source.startswith("builtin:"):
        return "builtin"
    path = Path(source)
    if not path.exists():
        if webdataset.is_pattern(source):
            return "webdataset"
        raise DataError(f"{source}: no such file or folder")
    special = special_file(path)
    if special:
        raise DataError(f"{source}: is {special}, not a regular file; give a data file or "
                        "folder (reading it could wait for ever)")
    if path.is_dir():
        if any((path / name).is_file() for name in imagefolder.METADATA):
            return "imagefolder"
        if parquet.looks_like(path):
            return "parquet"
        if webdataset.looks_like(path):
            return "webdataset"
        return "imagefolder"  # whose error says what a folder needs
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".arrow"):
        return "parquet"
    if webdataset.is_shard(path):
        return "webdataset"
    if suffix in (".csv", ".tsv"):
        return "imagefolder" if path.name == "metadata.csv" else "csv"
    if suffix == ".jsonl":
        return "imagefolder"
    if suffix == ".npz":
        return "npz"
    if suffix == ".json":
        if coco.looks_like_coco(path):
            return "coco"
        raise DataError(f"{source}: a .json file without 'images' and 'annotations' is not a "
                        "COCO captions file")
    kinds = "; ".join(f"{k}: {v}" for k, v in DESCRIPTIONS.items())
    raise DataError(f"{source}: cannot tell the format from the name (expected {kinds}); set "
                    "data.format")


def read_source(cfg: DataConfig, problems: Problems) -> SourceRows:
    kind = detect(cfg.source, cfg.format)
    return SOURCES[kind](cfg, Path(cfg.source), problems)
