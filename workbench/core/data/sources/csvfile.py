"""A CSV of image paths, captions and optional labels; paths are relative to the CSV."""

from __future__ import annotations

from pathlib import Path

from ...config import DataConfig
from ..rows import Problems, SourceRows
from ..tables import read_csv_table, rows_from_table


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    columns, records = read_csv_table(path, problems, max_lines=cfg.max_caption_lines)
    root = Path(cfg.images) if cfg.images else path.parent
    return rows_from_table("csv", path, root, columns, records, text_column=cfg.text_column,
                           image_column=cfg.image_column, label_column=cfg.label_column,
                           allow_outside=cfg.allow_outside_paths, problems=problems)
