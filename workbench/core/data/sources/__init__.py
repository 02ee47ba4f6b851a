"""Data sources: one module per format, one registry, and detection from the path."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ...config import DataConfig
from ...errors import DataError
from ..rows import Problems, SourceRows
from ..safepath import special_file
from . import builtin, coco, csvfile, imagefolder, npz

Reader = Callable[[DataConfig, Path, Problems], SourceRows]

SOURCES: dict[str, Reader] = {
    "builtin": builtin.read,
    "imagefolder": imagefolder.read,
    "csv": csvfile.read,
    "coco": coco.read,
    "npz": npz.read,
}

DESCRIPTIONS = {
    "builtin": "shipped with the workbench (builtin:emoji)",
    "imagefolder": "a folder with metadata.jsonl or metadata.csv (file_name, text, label)",
    "csv": "a CSV with image path, caption and optional label columns",
    "coco": "a COCO captions JSON (images + annotations) and its image folder",
    "npz": "an .npz with text (N, Dt) and image (N, Di) feature arrays, optional label",
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
        raise DataError(f"{source}: no such file or folder")
    special = special_file(path)
    if special:
        raise DataError(f"{source}: is {special}, not a regular file; give a data file or "
                        "folder (reading it could wait for ever)")
    if path.is_dir():
        return "imagefolder"
    suffix = path.suffix.lower()
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
