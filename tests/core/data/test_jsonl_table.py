"""JSON-lines tables: parsed in one call when every line is one object, line by line
otherwise; either way the same records and the same problems on the same lines."""

from __future__ import annotations

import json

import pytest

from workbench.core.data import tables
from workbench.core.data.rows import Problems
from workbench.core.data.tables import read_jsonl_table

GOOD = [{"file_name": f"{i}.png", "text": f"caption {i}", "n": i} for i in range(4)]


def read(tmp_path, lines: list[str]):
    path = tmp_path / "metadata.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = Problems("skip")
    columns, records = read_jsonl_table(path, problems)
    return columns, records, [(p.row, p.reason) for p in problems.items]


def per_line(monkeypatch, tmp_path, lines):
    """The same file read with the one-call path switched off."""
    monkeypatch.setattr(tables, "_decode_lines", lambda ls: (
        (no, tables._decode_or_error(line)) for no, line in ls))
    return read(tmp_path, lines)


def test_good_lines_parse_in_one_call(tmp_path, monkeypatch):
    calls = []
    real = tables._json_decode
    monkeypatch.setattr(tables, "_json_decode", lambda s: calls.append(1) or real(s))
    columns, records, problems = read(tmp_path, [json.dumps(r) for r in GOOD])
    assert len(calls) == 1 and problems == []
    assert columns == ["file_name", "text", "n"]
    assert [no for no, _ in records] == [1, 2, 3, 4]
    assert records[2][1] == {"file_name": "2.png", "text": "caption 2", "n": "2"}


@pytest.mark.parametrize("bad", [
    ['{"x": 1}, {"y": 2}'],                 # two values on one line
    ['{"a": [1', '2]}'],                    # one value over two lines
    ['{"x": 1}, {"y": 2}', '{"a": [1', '2]}'],  # both: the joined counts would match
    ['[1, 2]'],                             # not an object
    ['{"a": 1'],                            # cut short
    ['{"a": "x}', '{"b": "y"}'],             # a quote left open
])
def test_bad_lines_are_named_as_reading_each_line_would(tmp_path, monkeypatch, bad):
    lines = [json.dumps(GOOD[0]), "", *bad, json.dumps(GOOD[1])]
    got = read(tmp_path, lines)
    expected = per_line(monkeypatch, tmp_path, lines)
    assert got == expected
    assert got[2], "each case has a bad line"
    assert [no for no, _ in got[1]][0] == 1 and [no for no, _ in got[1]][-1] == len(lines)
