"""Errors the workbench shows to its user.

Every error names where the problem is (file, row or key), what was found and what was
expected, so the message alone is enough to fix the input. The GUI shows ``str(error)``
in a dialog and the CLI prints it before exiting non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class WorkbenchError(Exception):
    """Base class of the errors that are the user's to fix (bad input, bad config)."""


class ConfigError(WorkbenchError):
    """An experiment config (preset) that cannot be used.

    ``file`` is the TOML file (or ``None`` for a config built in memory or from overrides),
    ``key`` the dotted key, ``value`` what was found and ``allowed`` what would be accepted.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, key: str | None = None,
                 value: object = None, allowed: str | None = None):
        self.file = str(file) if file is not None else None
        self.key = key
        self.value = value
        self.allowed = allowed
        self.detail = message
        where = ": ".join(p for p in (self.file, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class RowProblem:
    """One bad row of a data source: which file, which row (1-based, as a user counts), why."""

    file: str
    row: int | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        return f"{where}: {self.reason}"

    def to_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "reason": self.reason}


class DataError(WorkbenchError):
    """A data source that cannot be loaded.

    ``problems`` lists the first bad rows found (with ``on_error="fail"``) or the reason the
    whole source is unusable (a missing file, a missing column, an empty dataset).
    """

    MAX_LISTED = 10

    def __init__(self, message: str, problems: list[RowProblem] | None = None, *,
                 total: int | None = None):
        self.problems = list(problems or [])
        self.total = total if total is not None else len(self.problems)
        lines = [message]
        for p in self.problems[: self.MAX_LISTED]:
            lines.append(f"  - {p}")
        if self.total > min(len(self.problems), self.MAX_LISTED):
            lines.append(f"  ... and {self.total - min(len(self.problems), self.MAX_LISTED)} more")
        super().__init__("\n".join(lines))
        self.summary = message
