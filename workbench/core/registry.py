"""A name -> spec registry whose implementations are imported only when first used.

Specs (name, description, parameter dataclass) are cheap and torch-free, so presets can be
validated and the GUI can list choices before torch is imported; the implementation class is
named by ``"module:attribute"`` and loaded on demand.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Generic, Iterator, TypeVar


@dataclass(frozen=True)
class Spec:
    """What every registered component has."""

    name: str
    title: str
    description: str
    params: type
    impl: str

    def load(self):
        """The implementation (imports its module on first call)."""
        module, _, attr = self.impl.partition(":")
        return getattr(importlib.import_module(module), attr)


S = TypeVar("S", bound=Spec)


class Registry(Generic[S]):
    """An ordered mapping of names to specs; registration order is display order."""

    def __init__(self, kind: str):
        self.kind = kind
        self._specs: dict[str, S] = {}

    def register(self, spec: S) -> S:
        if spec.name in self._specs:
            raise ValueError(f"{self.kind} {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def __getitem__(self, name: str) -> S:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self._specs)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return list(self._specs)

    def specs(self) -> list[S]:
        return list(self._specs.values())
