"""Switching a config to another algorithm: a fusion that fits it, its parameters and its
recommended settings (``AlgorithmSpec.recommended``), with what changed, so the user can be
told and can put the previous settings back.

A preset loaded from a file keeps its own values: only a switch made by hand goes through
here (the Model panel's algorithm choice).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .. import config as C
from ..errors import ConfigError
from . import ALGORITHMS, fusion_problem, valid_fusions

_PARAMS = "algorithm.params."


@dataclass(frozen=True)
class Change:
    """One setting the switch changed."""

    key: str
    old: Any
    new: Any


@dataclass(frozen=True)
class AlgorithmSwitch:
    """The config after switching, and what the switch did to get there."""

    config: C.ExperimentConfig
    #: recommended optimiser / training settings whose value changed (what undo restores)
    changes: tuple[Change, ...] = ()
    #: the fusion, when the previous one does not fit the new algorithm (else None)
    fusion: Change | None = None
    #: where the algorithm's parameters came from: "recommended" (first use), "remembered"
    #: (as the user left them earlier), "unchanged" (no switch)
    params_from: str = "unchanged"

    def undo_values(self, current: C.ExperimentConfig) -> dict[str, Any]:
        """The previous values of the changed settings that ``current`` still holds at the
        recommended value (a setting edited since is the user's and stays)."""
        return {c.key: c.old for c in self.changes if value(current, c.key) == c.new}


def value(cfg: C.ExperimentConfig, key: str) -> Any:
    """The value of a dotted key (``optimizer.lr``, ``algorithm.params.k``)."""
    obj: Any = C.to_dict(cfg)
    for part in key.split("."):
        obj = obj[part]
    return obj


def switch_algorithm(cfg: C.ExperimentConfig, name: str, *,
                     params: Any = None) -> AlgorithmSwitch:
    """``cfg`` switched to algorithm ``name``, with its recommended optimiser and training
    settings; its parameters are ``params`` (remembered from an earlier use) or else the
    recommended ones over the defaults. A fusion that does not fit ``name`` becomes the first
    that does. Raises ConfigError (nothing changed) when the result is not a valid config."""
    if name not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}",
                          key="algorithm.name", value=name)
    if name == cfg.algorithm.name:
        return AlgorithmSwitch(cfg.copy())
    overrides = [f"algorithm.name={name}"]
    fusion = None
    if fusion_problem(name, cfg.fusion.name):
        choices = valid_fusions(name)
        if not choices:
            raise ConfigError(f"no fusion strategy works with {name}", key="fusion.name")
        fusion = Change("fusion.name", cfg.fusion.name, choices[0])
        overrides.append(f"fusion.name={choices[0]}")
    recommended = ALGORITHMS[name].recommended
    overrides += [f"{key}={_text(v)}" for key, v in recommended.items()
                  if params is None or not key.startswith(_PARAMS)]
    new = C.apply_overrides(cfg, overrides)
    if params is not None:
        new.algorithm.params = copy.deepcopy(params)
        C.check(new)
    changes = tuple(Change(key, value(cfg, key), v) for key, v in recommended.items()
                    if not key.startswith(_PARAMS) and value(cfg, key) != v)
    return AlgorithmSwitch(new, changes, fusion,
                           "recommended" if params is None else "remembered")


def _text(v: Any) -> str:
    """A value as ``apply_overrides`` reads it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)
