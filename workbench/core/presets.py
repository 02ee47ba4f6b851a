"""Presets: saved experiment configs, built-in (read-only, in ``presets/``) or the user's own
(in the user config folder). A preset is named by its file name without ``.toml``."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import config as C
from .atomic import atomic_write
from .errors import ConfigError
from .paths import resource_dir, user_presets_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")


@dataclass(frozen=True)
class PresetInfo:
    name: str
    path: Path
    builtin: bool
    description: str = ""


def builtin_dir() -> Path:
    return resource_dir("presets")


def list_presets() -> list[PresetInfo]:
    """Built-in presets first, then the user's, each sorted by name.

    A file that does not load is still listed (with its error as the description) so the
    user can see it and fix or delete it.
    """
    out = []
    for folder, builtin in ((builtin_dir(), True), (user_presets_dir(), False)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                description = C.load(path).description
            except ConfigError as exc:
                description = f"(cannot load: {exc.detail})"
            out.append(PresetInfo(path.stem, path, builtin, description))
    return out


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name) or name.endswith("."):
        raise ConfigError(f"preset name {name!r} must be 1-64 letters, digits, spaces or "
                          "_ . + - and start with a letter or digit")
    return name


def find(name_or_path: str | Path) -> Path:
    """The file of a preset given by name (user presets shadow nothing: names are unique) or
    by path."""
    text = str(name_or_path)
    try:
        candidate = Path(text).expanduser()
    except (RuntimeError, ValueError):  # "~name": no such user (ValueError: a NUL in name)
        raise ConfigError(f"no preset named {text!r}: {Path(text).parts[0]!r} names no "
                          "user's home folder") from None
    if text.endswith(".toml") or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError("preset file not found", file=candidate)
        return candidate
    for folder in (builtin_dir(), user_presets_dir()):
        path = folder / f"{text}.toml"
        if path.is_file():
            return path
    known = ", ".join(p.name for p in list_presets()) or "none"
    raise ConfigError(f"no preset named {text!r}; known presets: {known}")


def load_preset(name_or_path: str | Path) -> C.ExperimentConfig:
    return C.load(find(name_or_path))


def is_builtin(name: str) -> bool:
    return (builtin_dir() / f"{name}.toml").is_file()


def user_path(name: str) -> Path:
    name = check_name(name)
    if is_builtin(name):
        raise ConfigError(f"{name!r} is a built-in preset and cannot be changed; save under "
                          "another name")
    return user_presets_dir() / f"{name}.toml"


def save_user_preset(cfg: C.ExperimentConfig, name: str) -> Path:
    """Save (or overwrite) the user preset ``name``, atomically."""
    return C.save(cfg, user_path(name))


def rename_user_preset(old: str, new: str) -> Path:
    src, dst = user_path(old), user_path(new)
    if not src.is_file():
        raise ConfigError(f"no user preset named {old!r}")
    if dst.exists() and dst != src:
        raise ConfigError(f"a preset named {new!r} already exists")
    src.replace(dst)
    return dst


def delete_user_preset(name: str) -> None:
    path = user_path(name)
    if not path.is_file():
        raise ConfigError(f"no user preset named {name!r}")
    path.unlink()


def import_preset(path: str | Path, name: str | None = None) -> Path:
    """Check a preset file and copy it into the user presets (under ``name`` or its stem)."""
    path = Path(path)
    cfg = C.load(path)  # refuses a bad file before anything is copied
    return save_user_preset(cfg, name or path.stem)


def export_preset(name_or_path: str | Path, dest: str | Path) -> Path:
    src = find(name_or_path)
    C.load(src)
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / src.name
    return atomic_write(dest, lambda tmp: shutil.copyfile(src, tmp))
