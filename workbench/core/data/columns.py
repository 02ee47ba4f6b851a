"""Finding the image, caption and label columns of a table by their usual names."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError

CANDIDATES = {
    "image": ("image", "images", "image_path", "imagepath", "image_file", "filepath",
              "file_path", "file_name", "filename", "file", "path", "img"),
    "text": ("text", "caption", "captions", "title", "description", "sentence", "prompt"),
    "label": ("label", "labels", "class", "category", "target", "group"),
}
_SETTING = {"image": "data.image_column", "text": "data.text_column",
            "label": "data.label_column"}


def choose_column(role: str, columns: list[str], explicit: str, file: str | Path, *,
                  required: bool = True) -> str | None:
    """The column to use for ``role`` (image, text or label).

    An explicit name wins and must exist. Otherwise exactly one column must match a usual
    name (case-insensitive); none or several is an error that lists the columns, because a
    guess here would silently train on the wrong data.
    """
    setting = _SETTING[role]
    listed = ", ".join(repr(c) for c in columns) or "none"
    if role == "label" and explicit.lower() == "none":
        return None
    if explicit:
        if explicit not in columns:
            raise DataError(f"{file}: no column {explicit!r} ({setting}); the columns are: "
                            f"{listed}")
        return explicit
    lower = {c.lower().strip(): c for c in columns}
    found = [lower[name] for name in CANDIDATES[role] if name in lower]
    if len(found) == 1:
        return found[0]
    if not found:
        if not required:
            return None
        expected = ", ".join(CANDIDATES[role][:6])
        raise DataError(f"{file}: cannot tell which column holds the {role}s (expected one "
                        f"named like {expected}); the columns are: {listed}. Set {setting} "
                        "to the right one.")
    raise DataError(f"{file}: several columns could hold the {role}s "
                    f"({', '.join(repr(c) for c in found)}); the columns are: {listed}. Set "
                    f"{setting} to the right one.")
