"""Typed, documented parameters: one description serves validation, overrides and GUI forms.

A config dataclass declares each field with :func:`param`, which records a help text and the
allowed range or choices in the field's metadata. :func:`describe` turns a dataclass into
:class:`ParamInfo` rows; the TOML loader, the ``--set key=value`` parser and the GUI's
hyperparameter form all read those rows, so a new parameter needs no change anywhere else.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

_SCALARS = (bool, int, float, str)


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: tuple[str, ...] | None = None, label: str | None = None,
          log: bool = False, when: dict[str, tuple[str, ...]] | None = None,
          search: tuple[float, float] | None = None, search_log: bool | None = None) -> Any:
    """A dataclass field with its documentation and allowed values.

    ``log`` marks parameters best edited on a log scale (learning rates, temperatures).
    ``when`` names the sibling choices under which the parameter is used at all, e.g.
    ``{"mode": ("align",)}``: the GUI greys it out otherwise and says why.
    ``search`` is the range a hyperparameter search tries by default (a sweep), inside the
    validity bounds but much narrower: the values worth trying, not every value that runs
    (a learning rate of 10 is valid and never worth a trial). ``search_log``: search it on a
    log scale (default: ``log``). A choice or a flag is searched over all its values.
    """
    if search is not None:  # a programming error, caught when the class is defined
        lo, hi = search
        if not lo < hi or (min is not None and lo < min) or (max is not None and hi > max):
            raise TypeError(f"search={search!r} is not a range inside [{min}, {max}]")
    meta = {"help": help, "min": min, "max": max, "choices": choices, "label": label, "log": log,
            "when": tuple((k, tuple(v)) for k, v in (when or {}).items()),
            "search": tuple(search) if search is not None else None,
            "search_log": log if search_log is None else search_log}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ParamInfo:
    """What one scalar parameter is and what it accepts."""

    name: str
    type: type
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    label: str | None = None
    log: bool = False
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    search: tuple[float, float] | None = None  # the default search range (see ``param``)
    search_log: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def applies(self, values: dict[str, Any]) -> bool:
        """Whether the parameter is used with these sibling values (see ``param(when=)``)."""
        return all(values.get(key) in allowed for key, allowed in self.when)

    def condition(self) -> str:
        """When the parameter is used, in words ("" when always)."""
        return "; ".join(f"used only when {key} is "
                         + " or ".join(repr(v) for v in allowed)
                         for key, allowed in self.when)

    def allowed(self) -> str:
        """The allowed values in words, for error messages and tooltips."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[self.type]
        if self.min is not None and self.max is not None:
            return f"{kind} from {_fmt(self.min)} to {_fmt(self.max)}"
        if self.min is not None:
            return f"{kind} >= {_fmt(self.min)}"
        if self.max is not None:
            return f"{kind} <= {_fmt(self.max)}"
        return kind

    def check(self, value: Any, *, key: str, file: str | None = None) -> Any:
        """Return ``value`` as this parameter's type, or raise a ConfigError naming ``key``."""
        def fail() -> ConfigError:
            return ConfigError(f"got {value!r}, expected {self.allowed()}", file=file, key=key,
                               value=value, allowed=self.allowed())

        t = self.type
        # bool is an int subclass in Python, and TOML keeps them apart: so must we.
        if t is bool:
            if not isinstance(value, bool):
                raise fail()
        elif t is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise fail()
        elif t is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise fail()
            try:
                value = float(value)
            except OverflowError:  # an integer past a float's range (TOML's are unbounded)
                raise fail() from None
            if not math.isfinite(value):
                raise fail()
        elif t is str:
            if not isinstance(value, str):
                raise fail()
        if self.choices is not None and value not in self.choices:
            raise fail()
        if self.min is not None and value < self.min:
            raise fail()
        if self.max is not None and value > self.max:
            raise fail()
        return value

    def parse(self, text: str, *, key: str) -> Any:
        """Parse a command-line string (``--set key=value``) into this parameter's type."""
        t = self.type
        value: Any = text
        if t is bool:
            low = text.strip().lower()
            truthy, falsy = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
            if low not in truthy + falsy:
                raise ConfigError(f"got {text!r}, expected true or false", key=key, value=text,
                                  allowed="true or false")
            value = low in truthy
        elif t in (int, float):
            try:
                value = t(text.strip())
            except ValueError:
                raise ConfigError(f"got {text!r}, expected {self.allowed()}", key=key, value=text,
                                  allowed=self.allowed()) from None
        return self.check(value, key=key)


def value_text(value: Any) -> str:
    """A value as ``--set key=value`` takes it back (true, 0.001, adam): floats in full."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _fmt(x: float) -> str:
    # Whole numbers in full ("0 to 4294967295", not "4.29497e+09": a user types the bound).
    if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e7):
        return str(int(x))
    return f"{x:g}"


def describe(cls: type) -> list[ParamInfo]:
    """The scalar parameters of a config dataclass, in declaration order."""
    return list(_described(cls))


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    # Resolving the string annotations is most of the work of reading a preset; a config
    # class does not change while the program runs.
    return typing.get_type_hints(cls)


@functools.cache
def _described(cls: type) -> tuple[ParamInfo, ...]:
    hints = _type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if t not in _SCALARS:
            continue
        m = f.metadata
        rows.append(ParamInfo(name=f.name, type=t, default=f.default, help=m.get("help", ""),
                              min=m.get("min"), max=m.get("max"), choices=m.get("choices"),
                              label=m.get("label"), log=m.get("log", False),
                              when=m.get("when", ()), search=m.get("search"),
                              search_log=m.get("search_log", False)))
    choices = {row.name: row.choices for row in rows}
    for row in rows:  # a programming error, caught the first time the class is described
        for key, allowed in row.when:
            if not set(allowed) <= set(choices.get(key) or ()):
                raise TypeError(f"{cls.__name__}.{row.name}: when={{{key!r}: {allowed!r}}} "
                                f"names no choices of a sibling parameter")
    return tuple(rows)


def build(cls: type, table: Any, *, prefix: str, file: str | None = None):
    """Make a ``cls`` instance from a TOML table, checking every key and value.

    Scalars are checked against their :class:`ParamInfo`; nested dataclass fields recurse.
    Unknown keys are errors: a misspelt key silently ignored is a run the user did not ask for.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table, got {table!r}", file=file, key=prefix or None)
    infos = {p.name: p for p in _described(cls)}
    hints = _type_hints(cls)
    nested = {f.name: hints[f.name] for f in dataclasses.fields(cls)
              if dataclasses.is_dataclass(hints[f.name])}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key in infos:
            kwargs[key] = infos[key].check(value, key=dotted, file=file)
        elif key in nested:
            kwargs[key] = build(nested[key], value, prefix=dotted, file=file)
        else:
            known = ", ".join(sorted([*infos, *nested])) or "none"
            raise ConfigError(f"unknown key (known keys here: {known})", file=file, key=dotted,
                              value=value, allowed=known)
    return cls(**kwargs)


def to_table(obj: Any) -> dict:
    """A config dataclass as a plain dict (nested dataclasses become nested dicts)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = to_table(v) if dataclasses.is_dataclass(v) else v
    return out
