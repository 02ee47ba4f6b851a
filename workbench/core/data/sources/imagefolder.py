"""An image folder with ``metadata.jsonl`` or ``metadata.csv`` (the Hugging Face convention).

Columns ``file_name`` and ``text``, optional ``label``. Without a label column, images kept in
one sub-folder per class take the sub-folder's name as their label, as Hugging Face does.
"""

from __future__ import annotations

from pathlib import Path

from ...config import DataConfig
from ...errors import DataError
from ..rows import Problems, SourceRows
from ..tables import read_csv_table, read_jsonl_table, rows_from_table

METADATA = ("metadata.jsonl", "metadata.csv")


def metadata_file(folder: Path) -> Path:
    found = [folder / name for name in METADATA if (folder / name).is_file()]
    if not found:
        raise DataError(f"{folder}: an image folder needs a metadata.jsonl or metadata.csv "
                        "with file_name and text columns (and optionally label)")
    if len(found) > 1:
        raise DataError(f"{folder}: has both metadata.jsonl and metadata.csv; keep one")
    return found[0]


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    meta = path if path.is_file() else metadata_file(path)
    folder = meta.parent
    columns, records = (read_jsonl_table(meta, problems) if meta.suffix == ".jsonl" else
                        read_csv_table(meta, problems, max_lines=cfg.max_caption_lines))
    rows = rows_from_table("imagefolder", meta, Path(cfg.images) if cfg.images else folder,
                           columns, records, text_column=cfg.text_column,
                           image_column=cfg.image_column or _file_name(columns),
                           label_column=cfg.label_column,
                           allow_outside=cfg.allow_outside_paths, problems=problems)
    if not rows.labels and cfg.label_column.lower() != "none" and rows.image_paths:
        parents = [p.relative_to(rows.root).parts[:-1] if p.is_relative_to(rows.root) else ()
                   for p in map(Path, rows.image_paths)]
        if all(parents):
            rows.labels = {"folder": [parts[0] for parts in parents]}
            rows.label_column = "folder"
    return rows


def _file_name(columns: list[str]) -> str:
    # The convention names the column file_name; prefer it over other path-like columns.
    return "file_name" if "file_name" in columns else ""
