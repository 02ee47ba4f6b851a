"""A sweep's search space, built from the config's own parameter metadata.

Every scalar setting the Model panel shows (``config.param_infos``) can be searched. A
dimension is written ``KEY=LOW..HIGH`` (``:log`` for a log scale, ``:linear`` to turn off a
parameter's default log scale), ``KEY=A,B,C`` (a list) or ``KEY`` alone (the parameter's
default search range: ``param(search=...)``, or every value of a choice or a flag). The
bounds are checked against the parameter's validity bounds, so a sweep never asks a trial
for a value the config would refuse; a parameter that only some modes use
(``param(when=...)``) is refused unless the base config uses it or the mode is searched too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .. import config as C
from ..errors import ConfigError
from ..params import ParamInfo, _fmt, value_text

FLOAT, INT, CATEGORICAL = "float", "int", "categorical"


@dataclass(frozen=True)
class Dimension:
    """One searched setting: a numeric range (``low``..``high``, ``log``) or a list."""

    key: str
    kind: str  # FLOAT, INT or CATEGORICAL
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial) -> Any:
        """This dimension's value for an Optuna trial."""
        if self.kind == FLOAT:
            return trial.suggest_float(self.key, self.low, self.high, log=self.log)
        if self.kind == INT:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(self.key, list(self.choices))

    def text(self) -> str:
        """As it is typed after ``KEY=`` (``1e-05..0.1:log``, ``64,128,256``)."""
        if self.kind == CATEGORICAL:
            return ",".join(value_text(v) for v in self.choices)
        return f"{_fmt(self.low)}..{_fmt(self.high)}" + (":log" if self.log else "")

    def to_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "low": self.low, "high": self.high,
                "log": self.log, "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, d: dict) -> "Dimension":
        return cls(key=d["key"], kind=d["kind"], low=d.get("low"), high=d.get("high"),
                   log=bool(d.get("log")), choices=tuple(d.get("choices") or ()))


def override(key: str, value: Any) -> str:
    """``key=value`` for ``config.apply_overrides``."""
    return f"{key}={value_text(value)}"


def searchable(cfg: C.ExperimentConfig) -> dict[str, ParamInfo]:
    """The settings a sweep of ``cfg`` may search, by dotted key."""
    return C.param_infos(cfg)


def default_dimension(key: str, info: ParamInfo) -> Dimension | None:
    """The range a parameter is searched over when none is given (None: it has none)."""
    if info.type is bool:
        return Dimension(key, CATEGORICAL, choices=(False, True))
    if info.choices:
        return Dimension(key, CATEGORICAL, choices=tuple(info.choices))
    if info.search is not None:
        lo, hi = info.search
        kind = INT if info.type is int else FLOAT
        return Dimension(key, kind, low=lo, high=hi, log=info.search_log)
    return None


def parse_dimension(item: str, cfg: C.ExperimentConfig) -> Dimension:
    """One ``--param`` value (``KEY``, ``KEY=LOW..HIGH[:log]`` or ``KEY=A,B,C``) as a
    :class:`Dimension`, or a ConfigError naming the key and what is allowed."""
    key, sep, spec = item.partition("=")
    key, spec = key.strip(), spec.strip()
    if not key:
        raise ConfigError(f"expected KEY, KEY=LOW..HIGH[:log] or KEY=A,B,C, got {item!r}",
                          key=item)
    infos = searchable(cfg)
    if key not in infos:
        close = difflib.get_close_matches(key, list(infos), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else \
            " (workbench sweep --list-params PRESET lists them)"
        if key in ("seed", "device", "description", "algorithm.name"):
            hint = ": it cannot be searched (--seeds averages over seeds)" if key == "seed" \
                else ": it cannot be searched"
        raise ConfigError(f"not a setting a sweep can search{hint}", key=key)
    info = infos[key]
    if not sep:
        dim = default_dimension(key, info)
        if dim is None:
            raise ConfigError("has no default search range; give one: "
                              f"{key}={_example(info)}", key=key, allowed=info.allowed())
        return dim
    if not spec:
        raise ConfigError("empty range: expected LOW..HIGH[:log] or a list A,B,C", key=key,
                          allowed=info.allowed())
    if ".." in spec:
        return _parse_range(key, info, spec)
    return _parse_list(key, info, spec)


def _example(info: ParamInfo) -> str:
    if info.type in (int, float):
        return "LOW..HIGH[:log]"
    return "A,B,C"


def _parse_range(key: str, info: ParamInfo, spec: str) -> Dimension:
    if info.type not in (int, float) or info.choices:
        raise ConfigError(f"a range {spec!r} needs a number setting; give a list A,B,C of "
                          f"{info.allowed()}", key=key, value=spec, allowed=info.allowed())
    body, _, scale = spec.partition(":")
    if scale not in ("", "log", "linear"):
        raise ConfigError(f"got scale {scale!r} in {spec!r}, expected :log or :linear",
                          key=key, value=spec)
    lo_text, _, hi_text = body.partition("..")
    if not lo_text.strip() or not hi_text.strip():
        raise ConfigError(f"got {spec!r}, expected LOW..HIGH with both ends", key=key,
                          value=spec)
    lo = info.parse(lo_text, key=key)  # typed and inside the validity bounds, or an error
    hi = info.parse(hi_text, key=key)
    if lo > hi:
        raise ConfigError(f"empty range {spec!r}: LOW is above HIGH", key=key, value=spec)
    if lo == hi:
        raise ConfigError(f"{spec!r} is a single value, not a range; fix it with --set "
                          f"{key}={_fmt(lo)}", key=key, value=spec)
    log = scale == "log" or (scale == "" and info.search_log)
    if log and lo <= 0:
        why = "" if scale else f" ({key} is searched on a log scale unless :linear is given)"
        raise ConfigError(f"a log range must start above 0, got {spec!r}{why}", key=key,
                          value=spec)
    kind = INT if info.type is int else FLOAT
    return Dimension(key, kind, low=lo, high=hi, log=log)


def _parse_list(key: str, info: ParamInfo, spec: str) -> Dimension:
    values: list[Any] = []
    for part in spec.split(","):
        if not part.strip():
            raise ConfigError(f"an empty item in the list {spec!r}", key=key, value=spec,
                              allowed=info.allowed())
        value = info.parse(part.strip(), key=key)  # "abc" for a number: an error naming key
        if value not in values:
            values.append(value)
    if len(values) < 2:
        raise ConfigError(f"{spec!r} is a single value, not a list to search; fix it with "
                          f"--set {key}={spec}", key=key, value=spec)
    return Dimension(key, CATEGORICAL, choices=tuple(values))


@dataclass(frozen=True)
class SearchSpace:
    """The searched settings, in the order given."""

    dimensions: tuple[Dimension, ...]

    @property
    def keys(self) -> list[str]:
        return [d.key for d in self.dimensions]

    def is_grid(self) -> bool:
        """Whether every dimension is a list (a grid can cover it)."""
        return all(d.kind == CATEGORICAL for d in self.dimensions)

    def grid(self) -> dict[str, list]:
        return {d.key: list(d.choices) for d in self.dimensions}

    def suggest(self, trial) -> dict[str, Any]:
        return {d.key: d.suggest(trial) for d in self.dimensions}

    def to_json(self) -> list[dict]:
        return [d.to_dict() for d in self.dimensions]

    @classmethod
    def from_json(cls, rows: list[dict]) -> "SearchSpace":
        return cls(tuple(Dimension.from_dict(r) for r in rows))

    def texts(self) -> dict[str, str]:
        return {d.key: d.text() for d in self.dimensions}

    def differences(self, other: "SearchSpace") -> list[str]:
        """What ``other`` searches differently, in words ([] when the same)."""
        mine, theirs = self.texts(), other.texts()
        out = []
        for key in mine.keys() | theirs.keys():
            if key not in theirs:
                out.append(f"{key} is searched ({mine[key]}) but not in the new space")
            elif key not in mine:
                out.append(f"{key} ({theirs[key]}) is not searched in the study")
            elif mine[key] != theirs[key]:
                out.append(f"{key}: {mine[key]} in the study, {theirs[key]} now")
        return sorted(out)


def build_space(items: list[str], cfg: C.ExperimentConfig) -> SearchSpace:
    """The search space of ``--param`` items over the base config ``cfg``."""
    if not items:
        raise ConfigError("no setting to search: give at least one --param KEY[=RANGE]")
    dims: dict[str, Dimension] = {}
    for item in items:
        dim = parse_dimension(item, cfg)
        if dim.key in dims:
            raise ConfigError("given twice", key=dim.key)
        dims[dim.key] = dim
    infos = searchable(cfg)
    values = C.to_dict(cfg)
    for dim in dims.values():
        info = infos[dim.key]
        section = dim.key.rpartition(".")[0]
        for sibling, allowed in info.when:
            sib_key = f"{section}.{sibling}"
            if sib_key in dims:
                continue  # searched: trials where it does not apply are what the user asked
            current = _lookup(values, sib_key)
            if current not in allowed:
                raise ConfigError(f"is {info.condition()}, and the preset's {sib_key} is "
                                  f"{current!r}: searching it would change nothing; set "
                                  f"{sib_key} (or search it too)", key=dim.key)
    return SearchSpace(tuple(dims.values()))


def _lookup(values: dict, key: str) -> Any:
    for part in key.split("."):
        values = values.get(part, {}) if isinstance(values, dict) else {}
    return values


def apply(cfg: C.ExperimentConfig, params: dict[str, Any]) -> C.ExperimentConfig:
    """``cfg`` with a trial's values (checked as ``--set`` would check them)."""
    return C.apply_overrides(cfg, [override(k, v) for k, v in params.items()])
