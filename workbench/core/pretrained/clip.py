"""A two-tower model (CLIP, SigLIP) whose text and image towers share one space: captions,
label prompts and images to unit vectors whose dot product is the model's own similarity.

Both towers are read from one located folder, offline (:mod:`.transformers_io`); images go
through the model's own processor (PIL backend), so they should be read at
:attr:`TwoTowerModel.input_size` (``load_pairs(cfg.data, model.input_size)``). What
:mod:`..evaluation.zero_shot` scores "zero-shot CLIP" with: retrieval and classification with
no training.

Tested with tiny CLIP and SigLIP models built in the tests (SigLIP's texts are padded to its
fixed length with no attention mask, as it was trained: its text tower pools the last
position).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .image import ImageModel
from .locate import Located, PretrainedError, locate
from .transformers_io import TWO_TOWER, load_tokenizer, model_type

Progress = Callable[[str, int, int], None]
# Tokenizers that say "no limit" (10^30) are capped here; CLIP's own is 77.
MAX_TEXT = 512


def two_tower_problem(name: str, *, allow_download: bool = False) -> str | None:
    """Why ``name`` cannot serve as a two-tower model, or None when it can: found on this
    machine and a CLIP or SigLIP ``config.json``. Reads that file only, never the weights
    (cheap enough for a GUI thread). With ``allow_download`` a Hugging Face name found
    nowhere here passes (it is downloaded when used, and its type checked then)."""
    try:
        located = locate(name)
    except PretrainedError as exc:
        if allow_download and "/" in name and not Path(name).expanduser().exists():
            return None
        return str(exc)
    return _not_two_tower(located)


def is_two_tower(name: str) -> bool:
    """Whether ``name`` is a CLIP or SigLIP model found on this machine (see
    :func:`two_tower_problem`)."""
    return two_tower_problem(name) is None


def _not_two_tower(located: Located) -> str | None:
    try:
        kind = model_type(located)
    except PretrainedError as exc:
        return str(exc)
    if kind in TWO_TOWER:
        return None
    return (f"{located.name} is a {kind or 'model of unknown type'} model, not a two-tower "
            f"text+image model ({' or '.join(TWO_TOWER)}): it has no text tower in the "
            "image's space. Set model.image_model to a CLIP model (e.g. "
            "openai/clip-vit-base-patch32) found on this machine")


class TwoTowerModel(ImageModel):
    """Both towers of a CLIP / SigLIP model on ``device``: :meth:`encode_images` and
    :meth:`encode_texts` give unit vectors in the model's shared space."""

    def __init__(self, name: str, device: str = "cpu", *, allow_download: bool = False):
        problem = _not_two_tower(locate(name, allow_download=allow_download))
        if problem:  # before any weights are read
            raise PretrainedError(problem)
        super().__init__(name, device, allow_download=allow_download)
        self.kind = model_type(self.located)
        self.tokenizer = load_tokenizer(self.located)
        self.max_length = _max_length(self.tokenizer, self.model.config)
        self.dim = int(getattr(self.model.config, "projection_dim", 0) or 0) or None

    @property
    def name(self) -> str:
        return self.located.name

    def encode_images(self, images: np.ndarray, *, batch_size: int = 32,
                      progress: Progress | None = None) -> np.ndarray:
        """(M, D) float32 unit vectors of ``images`` (M, 3, S, S) uint8, read at
        :attr:`input_size` (the processor resizes whatever it is given): the image tower's
        projected embedding (:meth:`ImageModel.encode`)."""
        return _unit(self.encode(images, batch_size=batch_size, progress=progress))

    def encode_texts(self, texts: Sequence[str], *, batch_size: int = 64,
                     progress: Progress | None = None) -> np.ndarray:
        """(N, D) float32 unit vectors of ``texts``, in their order; each cut to the
        model's longest input (:attr:`max_length` word pieces, its end marker kept)."""
        import torch

        texts = [str(t) for t in texts]
        out: list[np.ndarray | None] = [None] * len(texts)
        # Similar lengths together: a batch pads to its longest text only.
        order = np.argsort([len(t) for t in texts], kind="stable")
        # SigLIP was trained on texts padded to its fixed length with no attention mask
        # (its tokenizer gives none): its text tower pools the last position.
        siglip = self.kind == "siglip"
        keep = ("input_ids",) if siglip else ("input_ids", "attention_mask")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                tokens = self.tokenizer([texts[i] for i in rows],
                                        padding="max_length" if siglip else True,
                                        truncation=True, max_length=self.max_length,
                                        return_tensors="pt").to(self.device)
                inputs = {k: v for k, v in tokens.items() if k in keep}
                vectors = _tensor(self.model.get_text_features(**inputs))
                for r, v in zip(rows, vectors.float().cpu().numpy()):
                    out[r] = v
                if progress:
                    progress("prompts and captions", min(start + batch_size, len(order)),
                             len(order))
        if not texts:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        return _unit(np.stack(out))

def _tensor(output):
    """The embedding ``get_text_features`` returns: a tensor (transformers 4) or a model
    output whose ``pooler_output`` holds the projected embedding (transformers 5)."""
    pooled = getattr(output, "pooler_output", None)
    return output if pooled is None else pooled


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _max_length(tokenizer, config) -> int:
    """The longest input the text tower reads: its position table, and the tokenizer's
    own limit when that is smaller."""
    text = getattr(config, "text_config", None)
    positions = getattr(text, "max_position_embeddings", None)
    limit = getattr(tokenizer, "model_max_length", None)
    values = [v for v in (positions, limit) if isinstance(v, int) and 0 < v <= MAX_TEXT]
    return min(values) if values else 77


__all__ = ["Located", "PretrainedError", "TwoTowerModel", "is_two_tower", "two_tower_problem"]
