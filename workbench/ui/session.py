"""The state every panel shares: the experiment config being edited, the loaded data, and
which preset it came from. Panels are views of a Session: they edit it through its methods
and follow its signals (napari's model/view split), so no panel talks to another."""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core import config as C
from ..core.params import value_text
from ..core.algorithms.switching import AlgorithmSwitch, switch_algorithm


class Session(QObject):
    config_changed = Signal(object)  # ExperimentConfig: the whole config after any change
    table_changed = Signal(object)  # PairTable | None: the data now loaded
    preset_changed = Signal(str, bool)  # preset name ("" for none), modified since loaded
    config_replaced = Signal(object)  # ExperimentConfig: a whole config taken (a preset)
    search_changed = Signal(object)  # dict: dotted key -> range text, what a sweep searches

    def __init__(self, cfg: C.ExperimentConfig | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._config = cfg.copy() if cfg is not None else C.ExperimentConfig()
        self.table = None
        self.preset_name = ""
        self._saved = C.to_dict(self._config)
        # each algorithm's parameters as the user last left them (this session only)
        self._algorithm_params: dict[str, Any] = {}
        # The settings a sweep searches (the Model panel's search toggles), as typed after
        # ``--param KEY=``; in the order they were turned on.
        self._search: dict[str, str] = {}

    # -- the config ------------------------------------------------------------------
    @property
    def config(self) -> C.ExperimentConfig:
        """A copy: change the config with :meth:`set_value` or :meth:`replace_config`."""
        return self._config.copy()

    def set_value(self, key: str, value: Any) -> None:
        """Set one dotted key (``training.epochs``, ``algorithm.name``, ...), checked as a
        ``--set key=value`` override is. Raises ConfigError, leaving the config unchanged."""
        text = value_text(value)
        self._apply(C.apply_overrides(self._config, [f"{key}={text}"]))

    def set_values(self, values: dict[str, Any]) -> None:
        self._apply(C.apply_overrides(self._config,
                                      [f"{k}={value_text(v)}" for k, v in values.items()]))

    def switch_algorithm(self, name: str) -> AlgorithmSwitch:
        """Switch to algorithm ``name`` as a user choosing it does: its recommended settings
        (a preset loaded with :meth:`replace_config` keeps its own), and its parameters as
        they were when the user last switched away from it. Raises ConfigError, leaving the
        config unchanged; the result says what changed (:meth:`AlgorithmSwitch.undo_values`
        gives what puts the previous settings back)."""
        current = self._config.algorithm
        switch = switch_algorithm(self._config, name,
                                  params=self._algorithm_params.get(name))
        self._algorithm_params[current.name] = copy.deepcopy(current.params)
        self._apply(switch.config)
        return switch

    @property
    def saved_description(self) -> str:
        """The description of the preset as loaded or last saved."""
        return self._saved.get("description", "")

    def replace_config(self, cfg: C.ExperimentConfig, *, preset: str | None = None) -> None:
        """Take a whole config (a loaded preset); ``preset`` names it and marks it saved."""
        C.check(cfg)
        self._config = cfg.copy()
        if preset is not None:
            self.preset_name = preset
            self._saved = C.to_dict(self._config)
        self.config_replaced.emit(self.config)
        self.config_changed.emit(self.config)
        self._emit_preset()

    def rename_preset(self, name: str) -> None:
        """The loaded preset's file was renamed: same contents, same unsaved changes."""
        self.preset_name = name
        self._emit_preset()

    def mark_saved(self, name: str) -> None:
        self.preset_name = name
        self._saved = C.to_dict(self._config)
        self._emit_preset()

    @property
    def modified(self) -> bool:
        return C.to_dict(self._config) != self._saved

    def _apply(self, cfg: C.ExperimentConfig) -> None:
        if cfg == self._config:
            return
        self._config = cfg
        self.config_changed.emit(self.config)
        self._emit_preset()

    def _emit_preset(self) -> None:
        self.preset_changed.emit(self.preset_name, self.modified)

    # -- the search space of a sweep -------------------------------------------------
    @property
    def search(self) -> dict[str, str]:
        return dict(self._search)

    def set_search(self, key: str, text: str | None) -> None:
        """Search ``key`` over ``text`` (``LOW..HIGH[:log]`` or ``A,B,C``; checked when the
        sweep starts, so a half-typed range is kept), or stop searching it (None)."""
        if text is None:
            if self._search.pop(key, None) is None:
                return
        elif self._search.get(key) == text:
            return
        else:
            self._search[key] = text
        self.search_changed.emit(self.search)

    def search_items(self) -> list[str]:
        """The search as ``--param`` items (a key alone: its default range), the keys the
        config no longer has (another algorithm's parameters) left out."""
        known = C.param_infos(self._config)
        return [f"{k}={t}" if t else k for k, t in self._search.items() if k in known]

    # -- the data --------------------------------------------------------------------
    def set_table(self, table) -> None:
        self.table = table
        self.table_changed.emit(table)

