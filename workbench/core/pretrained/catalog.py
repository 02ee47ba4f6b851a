"""The pretrained models on this machine, for choosing one (the Model panel's model chooser).

:func:`available` lists, for captions ("text") or images ("image"), the models :func:`.locate`
would find by name: those shipped by an installed package (:data:`.locate.PACKAGED`) and
those in the local Hugging Face cache (``models--org--name`` folders whose ``refs/main``
names a snapshot). It reads a few small JSON files per model and never loads one, so it is
cheap enough to call whenever a list is opened.

What a folder is for is told from its files: an image processor
(``preprocessor_config.json`` with image settings) makes an image model, and so does a
two-tower model (CLIP, SigLIP: its vision tower is what the workbench reads); otherwise
tokenizer files make a text model.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .locate import PACKAGED, PretrainedError, locate
from .transformers_io import TWO_TOWER

KINDS = ("text", "image")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                    "spiece.model", "sentencepiece.bpe.model")


@dataclass(frozen=True)
class Found:
    """A model on this machine: the ``name`` to put in the config, its folder, where it was
    found ("package", "huggingface cache" or "folder", as :class:`.locate.Located` says)
    and whether it reads captions or images (``kind``)."""

    name: str
    path: Path
    source: str
    kind: str


def available(kind: str) -> list[Found]:
    """The models of ``kind`` ("text" or "image") found on this machine: the packaged ones
    first, then the Hugging Face cache's by name; a name in both is listed once, from the
    package (as :func:`.locate.locate` prefers it)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    found: dict[str, Found] = {}
    for name, folder, source in [*_packaged(), *_hub_cache()]:
        if name not in found and kind_of(folder) == kind:
            found[name] = Found(name, folder, source, kind)
    return list(found.values())


def kind_of(folder: str | Path) -> str | None:
    """"image", "text", or None when ``folder`` is no model folder or holds neither a
    tokenizer nor an image processor (see the module)."""
    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    if str(config.get("model_type", "")) in TWO_TOWER or _has_image_processor(folder):
        return "image"
    if any((folder / name).is_file() for name in _TOKENIZER_FILES):
        return "text"
    return None


def check_folder(folder: str | Path, kind: str) -> Found:
    """``folder`` as a model of ``kind``, or a :class:`PretrainedError` saying why it is not
    one (not a model folder, or a model of the other kind)."""
    located = locate(str(folder))
    found = kind_of(located.path)
    if found == kind:
        return Found(str(located.path), located.path, located.source, kind)
    if found is None:
        needs = ("tokenizer files (tokenizer.json or vocab.txt)" if kind == "text"
                 else "an image processor (preprocessor_config.json)")
        raise PretrainedError(f"{located.path}: a {kind} model needs {needs}, and this "
                              "folder has none")
    raise PretrainedError(f"{located.path}: this is {_a(found)} model; choose it as the "
                          f"{found} model, or choose {_a(kind)} model here")


def hub_cache_dir() -> Path | None:
    """The Hugging Face hub cache folder :func:`.locate.locate` reads (``HF_HUB_CACHE``,
    else ``HF_HOME/hub``, as huggingface_hub resolves it); None without huggingface_hub."""
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    import huggingface_hub.constants as hub
    return Path(hub.HF_HUB_CACHE).expanduser()


# ---------------------------------------------------------------- where models are

def _packaged() -> list[tuple[str, Path, str]]:
    out = []
    for name, packaged in PACKAGED.items():
        if importlib.util.find_spec(packaged.module) is None:
            continue
        try:
            folder = Path(getattr(importlib.import_module(packaged.module), packaged.folder)())
        except Exception:  # a broken install is locate's to explain, when it is chosen
            continue
        out.append((name, folder, "package"))
    return out


def _hub_cache() -> list[tuple[str, Path, str]]:
    root = hub_cache_dir()
    try:
        repos = sorted(os.scandir(root), key=lambda e: e.name.lower()) if root else []
    except OSError:  # no cache yet
        return []
    out = []
    for entry in repos:
        if not entry.name.startswith("models--") or not entry.is_dir():
            continue
        name = entry.name[len("models--"):].replace("--", "/")
        snapshot = _main_snapshot(Path(entry.path))
        if snapshot is not None:
            out.append((name, snapshot, "huggingface cache"))
    return out


def _main_snapshot(repo: Path) -> Path | None:
    """The snapshot ``refs/main`` names, when it holds a config.json: the one
    ``snapshot_download(local_files_only=True)`` gives."""
    try:
        commit = (repo / "refs" / "main").read_text("utf-8").strip()
    except OSError:
        return None
    folder = repo / "snapshots" / commit
    return folder if commit and (folder / "config.json").is_file() else None


def _has_image_processor(folder: Path) -> bool:
    try:
        raw = json.loads((folder / "preprocessor_config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    # an audio model's feature extractor has this file too, without image settings
    return isinstance(raw, dict) and ("image_processor_type" in raw or "image_mean" in raw)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
