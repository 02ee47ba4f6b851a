"""Images through a pretrained image model (``AutoImageProcessor`` on PIL + ``AutoModel``).

:class:`ImageModel` gives one vector per image: CLIP's (and SigLIP's) projected image
embedding, else the model's pooled output (ResNet's global average pool, DINOv2's normalised
CLS, ViT's pooler), else the first token of its last hidden state. The images are handed to
the model's own processor, which resizes them to its input size (224 px for ViT and CLIP):
read them at least that large (:attr:`ImageModel.input_size`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .locate import Located, locate
from .transformers_io import TWO_TOWER, load_image_processor, load_model, model_type

Progress = Callable[[str, int, int], None]


class ImageModel:
    """A pretrained image model on ``device``, ready to encode images."""

    def __init__(self, name: str, device: str = "cpu"):
        self.located: Located = locate(name)
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

    def _vectors(self, pixels):
        if self.two_tower:
            return self.model.get_image_features(pixel_values=pixels)
        result = self.model(pixel_values=pixels)
        pooled = getattr(result, "pooler_output", None)
        if pooled is not None:
            return pooled.flatten(1)  # ResNet's is (B, C, 1, 1)
        return result.last_hidden_state[:, 0]


def _sides(size) -> list[int]:
    """The pixel sides a processor's size setting names: a dict ({"height": 224, ...},
    {"shortest_edge": 224}) or transformers 5's SizeDict."""
    if size is None:
        return []
    values = size.values() if isinstance(size, dict) else [
        getattr(size, k, None) for k in ("height", "width", "shortest_edge", "longest_edge")]
    return [v for v in values if isinstance(v, int) and v > 0]
