"""Where the workbench keeps things: shipped resources and the user's own folders.

``WORKBENCH_HOME`` puts every user folder under one directory (tests, portable installs);
otherwise the platform's user config and data folders are used (platformdirs).
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "workbench"
_PACKAGE = Path(__file__).resolve().parents[1]


def resource_dir(name: str) -> Path:
    """A shipped resource folder (``assets`` or ``presets``).

    A wheel carries them inside the package (``workbench/assets``); a source checkout or an
    editable install has them at the repository's top level, next to the package.
    ``WORKBENCH_ASSETS`` overrides the assets folder.
    """
    if name == "assets" and os.environ.get("WORKBENCH_ASSETS"):
        return Path(os.environ["WORKBENCH_ASSETS"])
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return _PACKAGE.parent / name


def _home() -> Path | None:
    home = os.environ.get("WORKBENCH_HOME")
    return Path(home) if home else None


def user_config_dir() -> Path:
    home = _home()
    if home:
        return home / "config"
    import platformdirs
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def user_data_dir() -> Path:
    home = _home()
    if home:
        return home / "data"
    import platformdirs
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def user_cache_dir() -> Path:
    home = _home()
    if home:
        return home / "cache"
    import platformdirs
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def user_presets_dir() -> Path:
    return user_config_dir() / "presets"


def runs_dir() -> Path:
    return user_data_dir() / "runs"
