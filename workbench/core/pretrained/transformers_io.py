"""Loading a located model's parts with Hugging Face ``transformers``, offline, with errors a
user can act on (never transformers' traceback).

Every call passes ``local_files_only=True``: the files are the located folder's. Image
processors run on the PIL backend, chosen explicitly: transformers 5 picks torchvision when
it is importable, and torchvision does not import beside every torch build.
"""

from __future__ import annotations

import importlib.util

from .locate import Located, PretrainedError

# Models with a text and an image tower in one: their towers are read separately.
TWO_TOWER = ("clip", "siglip")


def require_transformers() -> None:
    if importlib.util.find_spec("transformers") is None:
        raise PretrainedError("pretrained models need Hugging Face transformers: pip install "
                              "-e \".[pretrained]\" (or pip install transformers)")
    # transformers draws a progress bar on stderr for every weights file it reads: the
    # workbench reports its own progress.
    from transformers.utils import logging
    logging.disable_progress_bar()


def model_type(located: Located) -> str:
    import json
    try:
        return str(json.loads((located.path / "config.json").read_text("utf-8"))
                   .get("model_type", ""))
    except (OSError, ValueError) as exc:
        raise PretrainedError(f"{located.path / 'config.json'}: not readable ({exc})") from None


def load_tokenizer(located: Located):
    """The model's tokenizer; a model without one is no text model."""
    require_transformers()
    from transformers import AutoTokenizer
    try:
        return AutoTokenizer.from_pretrained(located.path, local_files_only=True)
    except Exception as exc:  # transformers raises many kinds for a missing vocabulary
        raise PretrainedError(
            f"{located.name}: no tokenizer could be read from {located.path} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); a text model needs "
            "its tokenizer files (tokenizer.json or vocab.txt): is this an image model?"
        ) from None


def load_image_processor(located: Located):
    """The model's image processor on the PIL backend; a model without one is no image
    model."""
    require_transformers()
    from transformers import AutoImageProcessor
    if not (located.path / "preprocessor_config.json").is_file():
        raise PretrainedError(f"{located.name}: {located.path} has no preprocessor_config.json, "
                              "so it says nothing of how to prepare an image: is this a text "
                              "model?")
    try:
        return AutoImageProcessor.from_pretrained(located.path, local_files_only=True,
                                                  backend="pil")
    except Exception as exc:
        raise PretrainedError(f"{located.name}: its image processor could not be read from "
                              f"{located.path} ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]})") from None


def processor_settings(located: Located) -> str:
    """What decides how an image becomes the model's input, for cache keys: the processor's
    saved settings and the backend that runs them (PIL and torchvision resize differently)."""
    try:
        text = (located.path / "preprocessor_config.json").read_text("utf-8")
    except OSError:
        text = ""
    return f"pil|{text}"


def load_model(located: Located, *, kind: str):
    """The model's weights (``AutoModel``), for its ``kind`` of input ("text" or "image")."""
    require_transformers()
    from transformers import AutoModel
    mtype = model_type(located)
    if kind == "text" and mtype in TWO_TOWER:
        raise PretrainedError(f"{located.name}: a {mtype} model's text tower is not read "
                              "separately yet; use it as the image model, or give a sentence "
                              "model (all-MiniLM-L6-v2) for the text")
    try:
        return AutoModel.from_pretrained(located.path, local_files_only=True)
    except Exception as exc:  # a corrupt or missing weights file, an unknown architecture
        raise PretrainedError(f"{located.name}: the model in {located.path} could not be "
                              f"loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                              ) from None
