"""Checkpoints: model, optimiser and RNG state plus what is needed to rebuild the model.

Everything saved is a tensor, a number, a string or a list/dict of those, so a checkpoint is
read back with ``torch.load(..., weights_only=True)``: loading one never runs code from it.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes
from ..errors import WorkbenchError

FORMAT = 1


class CheckpointError(WorkbenchError):
    """A checkpoint that cannot be used (missing, corrupt, from another version)."""


def save_checkpoint(path: str | Path, *, model_state: dict, optim_state: dict, epoch: int,
                    step: int, config: dict, info: dict, vocab: dict | None,
                    rng: dict, best: dict | None = None) -> Path:
    """Write atomically: a crash mid-save leaves the previous checkpoint whole. ``best``
    (``training.keep_best``): the best epoch so far, its primary value and validation
    metrics, so a resumed run keeps comparing against it."""
    payload = {"format": FORMAT, "model": model_state, "optim": optim_state, "epoch": epoch,
               "step": step, "config": config, "info": info, "vocab": vocab, "rng": rng}
    if best is not None:
        payload["best"] = best
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except pickle.UnpicklingError as exc:
        # weights_only refused something: say so plainly. torch's own text advises loading
        # with weights_only=False, which is exactly what must not be done with such a file.
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if not found and "Unsupported operand" in str(exc):  # not a pickle at all
            raise CheckpointError(f"{path}: not a readable checkpoint (not a file "
                                  "torch.save wrote: damaged, or another kind of file)") from None
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"{path}: refused: it holds Python objects{what} besides tensors, numbers and "
            "strings, and loading those could run code. A workbench checkpoint holds only "
            "plain data; this file was not written by the workbench or has been tampered "
            "with") from None
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a workbench checkpoint (format "
                              f"{payload.get('format') if isinstance(payload, dict) else '?'})")
    for key, kind, what in _PARTS:
        value = payload.get(key)
        ok = isinstance(value, kind) and not isinstance(value, bool) and \
            (kind is not int or value >= 0)
        if not ok:
            found = "missing" if key not in payload else f"{type(value).__name__} {value!r:.40}"
            raise CheckpointError(f"{path}: damaged checkpoint: {key!r} should be {what}, "
                                  f"found {found}")
    return payload


# What every checkpoint holds: (key, type, as said to the user).
_PARTS = (("model", dict, "the model's weights"), ("optim", dict, "the optimiser's state"),
          ("epoch", int, "a whole number of epochs"), ("step", int, "a whole number of steps"),
          ("config", dict, "the run's settings"), ("info", dict, "the data's description"),
          ("rng", dict, "the random-number state"))


#: model keys that decide what the model reads: a run resumed with others would train
#: weights made for one input on another (a pretrained model's vectors of the same width)
INPUT_KEYS = (("text_encoder", None), ("text_model", ("text_encoder", "pretrained")),
              ("image_encoder", None), ("image_model", ("image_encoder", "pretrained")),
              ("pretrained_mode", None))


def resume_mismatch(checkpoint: dict, model_cfg) -> str | None:
    """Why a run with model settings ``model_cfg`` cannot go on from ``checkpoint`` (its
    inputs came from other encoders), or None."""
    saved = (checkpoint.get("config") or {}).get("model") or {}
    for key, only_when in INPUT_KEYS:
        if only_when and getattr(model_cfg, only_when[0]) != only_when[1]:
            continue
        was, now = saved.get(key, getattr(type(model_cfg)(), key)), getattr(model_cfg, key)
        if was != now:
            return (f"the run was trained with model.{key} = {was!r} and is resumed with "
                    f"{now!r}; its weights were learned on that model's inputs. Resume it "
                    f"with model.{key} = {was!r}, or start a new run")
    return None


# What a checkpoint's config and data are compared on when its weights do not fit a run:
# (where in the config or the data description, as said to the user).
_CONFIG_KEYS = (("algorithm", "name", "algorithm"), ("fusion", "name", "fusion"),
                ("data", "source", "data"))
_INFO_KEYS = (("vocab_size", "vocabulary size"), ("text_dim", "text feature size"),
              ("image_dim", "image feature size"), ("image_size", "image size"),
              ("max_tokens", "caption length (preprocess.max_tokens)"))


def checkpoint_differences(checkpoint: dict, config: dict, info: dict) -> list[str]:
    """What differs between the run ``checkpoint`` trained and this one (``config`` and
    ``info`` as dicts): algorithm, fusion, data, vocabulary size, dimensions, labels."""
    saved_cfg, saved_info = checkpoint.get("config") or {}, checkpoint.get("info") or {}
    out = []
    for section, key, what in _CONFIG_KEYS:
        was = (saved_cfg.get(section) or {}).get(key)
        now = (config.get(section) or {}).get(key)
        if was is not None and was != now:
            out.append(f"{what} {was!r} then, {now!r} now")
    for key, what in _INFO_KEYS:
        was, now = saved_info.get(key), info.get(key)
        if was is not None and now is not None and was != now:
            out.append(f"{what} {was} then, {now} now")
    was, now = saved_info.get("label_names"), info.get("label_names")
    if was is not None and now is not None and list(was) != list(now):
        out.append(f"{len(was)} labels then, {len(now)} now" if len(was) != len(now) else
                   "other label names")
    return out


def load_model_state(model: torch.nn.Module, state: dict, path: str | Path, *,
                     differences: list[str] | None = None) -> None:
    """Load a checkpoint's weights into the model its configuration builds. Weights that do
    not fit (a checkpoint written by a workbench whose model for that configuration
    differed) are refused naming what differs, instead of torch's list of every key."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    shapes = []
    for what, names in (("missing", sorted(expected.keys() - found.keys())),
                        ("not in this model", sorted(found.keys() - expected.keys()))):
        if names:
            more = f" and {len(names) - 2} more" if len(names) > 2 else ""
            shapes.append(f"{what}: {', '.join(names[:2])}{more}")
    resized = [f"{k} {found[k]} where the model has {expected[k]}"
               for k in sorted(expected.keys() & found.keys()) if found[k] != expected[k]]
    if resized:
        more = f" and {len(resized) - 1} more" if len(resized) > 1 else ""
        shapes.append(f"other shapes: {resized[0]}{more}")
    if shapes:
        if differences:  # a run of another kind, or on other data: say which
            raise CheckpointError(
                f"{path}: its weights do not fit this run's model, which differs from the one "
                f"it trained: {'; '.join(differences)}. Resume it with the settings and data "
                f"it was trained with, or start a new run ({'; '.join(shapes)})")
        raise CheckpointError(
            f"{path}: its weights do not fit the model its configuration builds "
            f"({'; '.join(shapes)}); it was written by a version of the workbench whose "
            "model differed. The run's metrics and pictures still open (workbench runs "
            "show); train its configuration again to use the model")
    model.load_state_dict(state)


def rng_state(generator: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "shuffle": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generator: torch.Generator, path: str | Path = "checkpoint"
                ) -> None:
    """Put back the random-number state a checkpoint saved; a damaged one is a
    :class:`CheckpointError` (torch says only "RNG state is wrong size")."""
    try:
        torch.set_rng_state(state["torch"])
        generator.set_state(state["shuffle"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint: its random-number state ('rng') "
                              f"cannot be restored ({type(exc).__name__}: {exc})") from None
