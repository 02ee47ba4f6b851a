"""What a run is called: its folder's name and the preset it records.

A run is named after what trained: ``<algorithm>-<fusion>-<data>``. A preset's name is used
only while the config is the preset's, unchanged: a run of a changed preset is not that
preset's run (its folder's config.toml is what reproduces it). The GUI and ``workbench
train`` both name runs here.
"""

from __future__ import annotations

from pathlib import PurePath

from .. import config as C


def data_name(source: str) -> str:
    """A short name for a data source: ``builtin:emoji`` -> emoji, a file -> its name without
    the extension, a folder -> its name."""
    kind, sep, rest = source.partition(":")
    if sep and kind == "builtin":
        return rest
    path = PurePath(source.replace("\\", "/").rstrip("/"))
    return path.stem or path.name or "data"


def run_name(cfg: C.ExperimentConfig, preset: str = "", *, unchanged: bool = False) -> str:
    """The run's name: ``preset`` while ``cfg`` is that preset unchanged, else
    ``<algorithm>-<fusion>-<data>``."""
    if preset and unchanged:
        return preset
    return f"{cfg.algorithm.name}-{cfg.fusion.name}-{data_name(cfg.data.source)}"


def preset_label(preset: str, *, unchanged: bool) -> str:
    """What a run records as its preset: the name while unchanged, ``<name> (changed)`` when
    the settings were changed after loading it, "" without one."""
    if not preset or unchanged:
        return preset
    return f"{preset} (changed)"


def same_config(a: C.ExperimentConfig, b: C.ExperimentConfig) -> bool:
    """Whether two configs hold the same settings (as saved)."""
    return C.to_dict(a) == C.to_dict(b)
