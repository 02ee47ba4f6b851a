"""Built-in datasets shipped in ``assets/`` (``builtin:NAME``)."""

from __future__ import annotations

from pathlib import Path

from ...config import DataConfig
from ...errors import DataError
from ..emoji_asset import load_emoji_asset
from ..rows import Problems, SourceRows


def _emoji(cfg: DataConfig) -> SourceRows:
    asset = load_emoji_asset()
    rows = asset.rows
    file = asset.root / "metadata"
    return SourceRows(
        kind="builtin", file=file, root=asset.root, rows=list(range(1, len(rows) + 1)),
        captions=[r["caption"] for r in rows], images=asset.images,
        labels={"group": [r["group"] for r in rows], "subgroup": [r["subgroup"] for r in rows]},
        label_column="group",
        extras={"emoji": [r["emoji"] for r in rows], "name": [r["name"] for r in rows]})


BUILTINS = {"emoji": _emoji}


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    name = cfg.source.partition(":")[2]
    if name not in BUILTINS:
        raise DataError(f"{cfg.source}: unknown built-in dataset; known: "
                        f"{', '.join('builtin:' + n for n in BUILTINS)}")
    try:
        rows = BUILTINS[name](cfg)
    except FileNotFoundError as exc:
        raise DataError(f"{cfg.source}: {exc}") from None
    choice = cfg.label_column
    if choice.lower() == "none":
        rows.labels, rows.label_column = {}, None
    elif choice:
        if choice not in rows.labels:
            raise DataError(f"{cfg.source}: no label column {choice!r} (data.label_column); "
                            f"it has: {', '.join(rows.labels)}")
        rows.label_column = choice
    return rows
