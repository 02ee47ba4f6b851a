"""Reading tabular metadata (CSV, JSON lines) into rows that keep their line numbers.

Both the CSV source and the image-folder source (``metadata.csv`` / ``metadata.jsonl``) read
through here, then map columns to pairs with :func:`rows_from_table`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import DataError
from .columns import choose_column
from .rows import Problems, SourceRows
from .safepath import PathRefused, resolve_image_path, special_file

Record = tuple[int, dict[str, str]]  # (line number, column -> value)


def read_text(path: Path) -> str:
    """A file's text as UTF-8 (a BOM is dropped), or a DataError naming the bad line."""
    special = special_file(path)
    if special:
        raise DataError(f"{path}: is {special}, not a regular file (reading it could wait "
                        "for ever)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} "
                        f"at offset {exc.start}); save the file as UTF-8") from None


def read_csv_table(path: Path, problems: Problems, *, max_lines: int = 20
                   ) -> tuple[list[str], list[Record]]:
    """Header and records of a CSV; the delimiter (, ; tab |) is detected. A record spanning
    more than ``max_lines`` lines (a quoted field left open runs to the end of the file) is
    refused, naming the line where it opened."""
    text = read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty (expected a header row and data rows)")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise DataError(f"{path}: line 1: cannot parse the header ({exc})") from None
    header = [h.strip() for h in header]
    while len(header) > 1 and not header[-1]:
        header.pop()  # spreadsheets export trailing empty columns ("a;b;;"): not columns
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        what = (f"has {header.count('')} columns without a name" if dupes[0] == "" else
                f"repeats column {dupes[0]!r}")
        raise DataError(f"{path}: line 1: the header {what}; every column needs its own name")
    records: list[Record] = []
    line = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"{path}: line {line}: cannot parse ({exc})") from None
        start, line = line, reader.line_num + 1
        if line - start > max_lines:
            raise DataError(
                f"{path}: line {start}: a quoted field opens here and runs for "
                f"{line - start} lines (to line {line - 1}); a caption may span at most "
                f"data.max_caption_lines = {max_lines} lines. Is its closing quote "
                "missing? (Raise data.max_caption_lines for longer captions.)")
        if not fields or all(not f.strip() for f in fields):
            continue  # blank lines are not rows
        if len(fields) > len(header) and not any(f.strip() for f in fields[len(header):]):
            fields = fields[: len(header)]  # trailing delimiters add nothing
        if len(fields) != len(header):
            problems.add(path, start, f"{len(fields)} fields, but the header has "
                                      f"{len(header)} ({', '.join(header)})")
            continue
        records.append((start, dict(zip(header, fields))))
    return header, records


def _sniff(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_jsonl_table(path: Path, problems: Problems) -> tuple[list[str], list[Record]]:
    """Records of a JSON-lines file; columns are the union of keys, in first-seen order."""
    text = read_text(path)
    columns: dict[str, None] = {}
    records: list[Record] = []
    # Only \n ends a record: splitlines() would also cut at U+2028, U+0085, ... which JSON
    # allows unescaped inside strings.
    lines = [(no, line) for no, line in enumerate(text.split("\n"), start=1) if line.strip()]
    for line_no, obj in _decode_lines(lines):
        if isinstance(obj, json.JSONDecodeError):
            problems.add(path, line_no, f"not valid JSON ({obj.msg})")
            continue
        if not isinstance(obj, dict):
            problems.add(path, line_no, f"expected a JSON object, got {type(obj).__name__}")
            continue
        columns.update(dict.fromkeys(obj))
        # Strings inline: a call per cell is a measurable part of loading 100,000 rows.
        records.append((line_no, {k: v if type(v) is str else _cell(v)
                                  for k, v in obj.items()}))
    return list(columns), records


# json.loads builds its keyword arguments and checks its input's type on every call; the
# bound decoder skips that (same parser, same errors) for one call per line.
_json_decode = json.JSONDecoder().decode


def _decode_lines(lines: list[tuple[int, str]]):
    """``(line_no, object or JSONDecodeError)`` per line. The lines are first parsed as one
    JSON array (one parser call instead of one per line: a third of the time for 20,000
    lines); only when that fails is each line parsed alone, to say which lines are bad."""
    objs = None
    # Only lines that each look like one object are joined: a line holding two values
    # ("{...}, {...}") or half of one would parse differently joined (the count check
    # catches the rest).
    if all(line.lstrip()[:1] == "{" and line.rstrip()[-1:] == "}" for _, line in lines):
        try:
            objs = _json_decode("[" + ",".join(line for _, line in lines) + "]")
        except (ValueError, RecursionError):  # each line alone says which is bad
            pass
    if objs is not None and len(objs) == len(lines):
        return zip((no for no, _ in lines), objs)
    return ((no, _decode_or_error(line)) for no, line in lines)


def _decode_or_error(line: str):
    try:
        return _json_decode(line)
    except json.JSONDecodeError as exc:
        return exc
    except RecursionError:  # lists or objects nested thousands deep: no record is
        return json.JSONDecodeError("nested too deeply to read", line, 0)
    except ValueError:  # past JSONDecodeError, only int()'s limit of 4300 digits is left
        return json.JSONDecodeError("a number thousands of digits long", line, 0)


def _cell(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def rows_from_table(kind: str, file: Path, root: Path, columns: list[str],
                    records: list[Record], *, text_column: str, image_column: str,
                    label_column: str, allow_outside: bool, problems: Problems) -> SourceRows:
    """Map a table's columns to pairs: image paths resolved under ``root``, captions, labels."""
    image_col = choose_column("image", columns, image_column, file)
    text_col = choose_column("text", columns, text_column, file)
    label_col = choose_column("label", columns, label_column, file, required=False)
    rows, captions, paths, labels = [], [], [], []
    for line, rec in records:
        for col, role in ((image_col, "image path"), (label_col, "label")):
            if col is not None and "\n" in rec.get(col, ""):
                # Only a caption may hold a line break: here a quote opened in this field
                # took the lines after it in, rows the file meant as pairs.
                raise DataError(f"{file}: line {line}: the {role} in column {col!r} runs "
                                f"over {rec[col].rstrip(chr(10)).count(chr(10)) + 1} lines; "
                                "only a caption may span lines. Is a closing quote missing "
                                "in this row?")
        if not rec.get(image_col, "").strip():
            # Name the column: "empty image path" alone does not say where to look.
            problems.add(file, line, f"no image path in column {image_col!r}")
            continue
        try:
            path = resolve_image_path(root, rec[image_col], allow_outside=allow_outside)
        except PathRefused as exc:
            problems.add(file, line, str(exc))
            continue
        rows.append(line)
        captions.append(rec.get(text_col, ""))
        paths.append(path)
        if label_col is not None:
            labels.append(rec.get(label_col, "").strip() or None)
    return SourceRows(kind=kind, file=file, root=root, rows=rows, captions=captions,
                      image_paths=paths, labels={label_col: labels} if label_col else {},
                      label_column=label_col)
