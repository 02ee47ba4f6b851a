"""Images through a pretrained image model (``AutoImageProcessor`` on PIL + ``AutoModel``).

:class:`ImageModel` gives one vector per image: CLIP's (and SigLIP's) projected image
embedding, else the model's pooled output (ResNet's global average pool, DINOv2's normalised
CLS, ViT's pooler), else the first token of its last hidden state. The images are handed to
the model's own processor, which resizes them to its input size (224 px for ViT and CLIP):
read them at least that large (:attr:`ImageModel.input_size`).

:meth:`ImageModel.encode_states` keeps, beside that vector, the model's grid of patch states
(a ViT's or CLIP's patch tokens, DINOv2's past its registers, a ResNet's last feature map),
average-pooled to at most ``grid`` x ``grid`` cells, for the fusions and heatmaps that read
patches.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .locate import Located, locate
from .transformers_io import TWO_TOWER, load_image_processor, load_model, model_type

Progress = Callable[[str, int, int], None]


class ImageModel:
    """A pretrained image model on ``device``, ready to encode images."""

    def __init__(self, name: str, device: str = "cpu", *, allow_download: bool = False):
        self.located: Located = locate(name, allow_download=allow_download)
        self.processor = load_image_processor(self.located)
        self.model = load_model(self.located, kind="image").to(device).eval()
        self.device = device
        self.two_tower = model_type(self.located) in TWO_TOWER

    @property
    def input_size(self) -> int:
        """The side the processor resizes (or crops) to: what the images should be read at."""
        sides = [v for what in ("size", "crop_size")
                 for v in _sides(getattr(self.processor, what, None))]
        return max(sides) if sides else 224

    def encode(self, images: np.ndarray, *, batch_size: int = 32,
               progress: Progress | None = None) -> np.ndarray:
        """(M, D) float32 vectors of ``images`` (M, 3, S, S) uint8."""
        import torch
        from PIL import Image

        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = [Image.fromarray(im.transpose(1, 2, 0)) for im in
                         images[start:start + batch_size]]
                pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
                out.append(self._vectors(pixels.to(self.device)).float().cpu().numpy())
                if progress:
                    progress("images", min(start + batch_size, len(images)), len(images))
        dim = out[0].shape[1] if out else 0
        return np.concatenate(out) if out else np.zeros((0, dim), dtype=np.float32)

    def encode_states(self, images: np.ndarray, *, grid: int = 8, batch_size: int = 32,
                      progress: Progress | None = None) -> dict:
        """Per image its vector (``pooled`` (M, D) float32, as :meth:`encode`) and its patch
        states (``states`` (M, g*g, Ds) float16, row by row, g = the model's grid side
        pooled to at most ``grid``); ``grid`` in the result is g."""
        import torch
        from PIL import Image

        m = len(images)
        pooled = states = None
        side = 0
        with torch.inference_mode():
            for start in range(0, m, batch_size):
                batch = [Image.fromarray(im.transpose(1, 2, 0)) for im in
                         images[start:start + batch_size]]
                pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
                vectors, patches = self._vectors_and_patches(pixels.to(self.device), grid)
                if pooled is None:
                    side = int(round(patches.shape[1] ** 0.5))
                    pooled = np.zeros((m, vectors.shape[1]), dtype=np.float32)
                    states = np.zeros((m, patches.shape[1], patches.shape[2]),
                                      dtype=np.float16)
                stop = start + len(batch)
                pooled[start:stop] = vectors.float().cpu().numpy()
                states[start:stop] = patches.half().cpu().numpy()
                if progress:
                    progress("images", stop, m)
        if pooled is None:
            raise ValueError("no images to encode")
        return {"pooled": pooled, "states": states, "grid": side}

    def _vectors(self, pixels):
        return self._forward(pixels)[0]

    def _vectors_and_patches(self, pixels, grid: int):
        """(B, D) vectors and (B, g*g, Ds) patch states from one forward pass."""
        vectors, hidden = self._forward(pixels)
        return vectors, patch_grid(hidden, grid)

    def _forward(self, pixels):
        return vision_forward(self.model, self.two_tower, pixels)


def vision_forward(model, two_tower: bool, pixels):
    """(B, D) vectors and the last hidden state of an image model on processed ``pixels``:
    CLIP's (SigLIP's) projected image embedding from its vision tower, else the pooled
    output (ResNet's is (B, C, 1, 1)), else the first token."""
    if two_tower:
        tower = model.vision_model(pixel_values=pixels)
        projection = getattr(model, "visual_projection", None)  # SigLIP has none
        vectors = tower.pooler_output if projection is None else \
            projection(tower.pooler_output)
        return vectors, tower.last_hidden_state
    result = model(pixel_values=pixels)
    hidden = result.last_hidden_state
    pooled = getattr(result, "pooler_output", None)
    return (pooled.flatten(1) if pooled is not None else hidden[:, 0]), hidden


def processor_side(name: str, *, allow_download: bool = False) -> int:
    """:func:`model_side` of image model ``name``, from its processor alone (no weights)."""
    return model_side(load_image_processor(locate(name, allow_download=allow_download)))


def model_side(processor) -> int:
    """The side of the square the model itself reads (its crop when it crops, else its
    resize): a fine-tuned model gets the image at this side, whole."""
    crop = _sides(getattr(processor, "crop_size", None))
    if crop and getattr(processor, "do_center_crop", False):
        return max(crop)
    sides = _sides(getattr(processor, "size", None))
    return max(sides) if sides else 224


def patch_grid(hidden, grid: int):
    """A model's last hidden state as (B, g*g, D) patch states, g <= ``grid``: a feature map
    (B, C, h, w) as it is; a token sequence (B, T, D) without its leading non-patch tokens
    (CLS, DINOv2's registers: whatever precedes the largest square number of patches)."""
    import math

    import torch.nn.functional as F
    if hidden.dim() == 4:  # a convolutional network's map
        maps = hidden
    else:
        side = math.isqrt(hidden.shape[1])
        patches = hidden[:, hidden.shape[1] - side * side:]
        maps = patches.transpose(1, 2).reshape(hidden.shape[0], hidden.shape[2], side, side)
    side = min(grid, maps.shape[-2], maps.shape[-1])  # square, as every patch grid shown
    if maps.shape[-2:] != (side, side):
        maps = F.adaptive_avg_pool2d(maps, (side, side))
    return maps.flatten(2).transpose(1, 2)


def _sides(size) -> list[int]:
    """The pixel sides a processor's size setting names: a dict ({"height": 224, ...},
    {"shortest_edge": 224}) or transformers 5's SizeDict."""
    if size is None:
        return []
    values = size.values() if isinstance(size, dict) else [
        getattr(size, k, None) for k in ("height", "width", "shortest_edge", "longest_edge")]
    return [v for v in values if isinstance(v, int) and v > 0]

