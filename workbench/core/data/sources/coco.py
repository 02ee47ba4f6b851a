"""COCO captions: a JSON with ``images`` (id, file_name) and ``annotations`` (image_id,
caption), plus the folder of images. Each caption is a pair; an image's captions share it."""

from __future__ import annotations

import json
from pathlib import Path

from ...config import DataConfig
from ...errors import DataError
from ..rows import Problems, SourceRows
from ..safepath import PathRefused, resolve_image_path
from ..tables import read_text


def looks_like_coco(path: Path) -> bool:
    """Cheap check on the start of a .json file, for detection."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    return b'"images"' in head or b'"annotations"' in head


def read(cfg: DataConfig, path: Path, problems: Problems) -> SourceRows:
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:  # lists or objects nested thousands deep: no COCO file is
        raise DataError(f"{path}: not a COCO captions file: its JSON is nested too deeply to "
                        "read") from None
    except ValueError:  # past JSONDecodeError, only int()'s limit of 4300 digits is left
        raise DataError(f"{path}: not a COCO captions file: it holds a number thousands of "
                        "digits long (no id is)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) \
            or not isinstance(doc.get("annotations"), list):
        raise DataError(f"{path}: expected a COCO captions JSON object with 'images' and "
                        "'annotations' lists")
    root = Path(cfg.images) if cfg.images else path.parent
    files: dict[object, Path] = {}
    refused: set[object] = set()
    entry: dict[object, int] = {}  # each id's first images entry
    ambiguous: dict[object, tuple[int, int]] = {}  # id -> two entries naming different files
    for n, img in enumerate(doc["images"], start=1):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            problems.add(path, n, "images entry without 'id' and 'file_name'")
            continue
        if not _is_id(img["id"]):
            problems.add(path, n, f"images entry 'id' {img['id']!r} is not a number or string")
            continue
        try:
            file = resolve_image_path(root, str(img["file_name"]),
                                      allow_outside=cfg.allow_outside_paths)
        except PathRefused as exc:
            problems.add(path, n, f"images entry {img['id']!r}: {exc}")
            refused.add(img["id"])
            continue
        first = entry.setdefault(img["id"], n)
        if first != n and files.get(img["id"], file) != file:
            # Which file the id's captions describe is unknown: the later entry used to
            # replace the earlier, pairing every caption with the wrong image.
            problems.add(path, n, f"images entry {img['id']!r} repeats the id of images "
                                  f"entry {first} with another file ({img['file_name']!r})")
            ambiguous[img["id"]] = (first, n)
        elif img["id"] not in ambiguous:
            files[img["id"]] = file
    rows, captions, paths = [], [], []
    for n, ann in enumerate(doc["annotations"], start=1):
        if not isinstance(ann, dict) or "image_id" not in ann:
            problems.add(path, n, "annotation without 'image_id'")
            continue
        known = _is_id(ann["image_id"])
        if known and ann["image_id"] in ambiguous:
            a, b = ambiguous[ann["image_id"]]
            problems.add(path, n, f"annotation {ann.get('id', n)!r}: image_id "
                                  f"{ann['image_id']!r} names two files (images entries {a} "
                                  f"and {b})")
            continue
        image = files.get(ann["image_id"]) if known else None
        if image is None:
            why = ("has a refused images entry" if known and ann["image_id"] in refused
                   else "is not in 'images'")
            problems.add(path, n, f"annotation {ann.get('id', n)!r}: image_id "
                                  f"{ann['image_id']!r} {why}")
            continue
        caption = ann.get("caption", "")
        if not isinstance(caption, str):
            # A number or a list is a broken file, not an empty caption: say what was found.
            problems.add(path, n, f"annotation {ann.get('id', n)!r}: 'caption' is "
                                  f"{caption!r}, expected a string")
            continue
        rows.append(n)
        captions.append(caption)
        paths.append(image)
    return SourceRows(kind="coco", file=path, root=root, rows=rows, captions=captions,
                      image_paths=paths)


def _is_id(value: object) -> bool:
    """A usable COCO id: a number or a string (a list or object cannot key the images)."""
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)
