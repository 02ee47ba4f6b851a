"""What a model needs to know about its data, saved with every checkpoint (torch-free)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class DataInfo:
    """Shapes and names of one dataset's modalities and labels.

    Text is either token ids (``vocab_size`` > 0, ``max_tokens``) or feature vectors
    (``text_dim``), the latter with a pretrained model's word-piece states beside them when
    ``text_states`` (how many are kept) is above 0; images are either pixels (``image_size``)
    or feature vectors (``image_dim``), the latter with a pretrained model's patch states
    beside them when ``image_states`` is above 0.
    """

    vocab_size: int = 0
    max_tokens: int = 0
    image_size: int = 0
    text_dim: int = 0
    image_dim: int = 0
    label_names: tuple[str, ...] = field(default_factory=tuple)
    text_states: int = 0
    image_states: int = 0  # a pretrained image model's patches kept (a square grid)
    image_state_dim: int = 0  # their width (may differ from the image vector's)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def has_labels(self) -> bool:
        return bool(self.label_names)

    @property
    def text_is_tokens(self) -> bool:
        return self.vocab_size > 0

    @property
    def text_has_tokens(self) -> bool:
        """Whether captions reach the model as a sequence (words, or word pieces)."""
        return self.text_is_tokens or self.text_states > 0

    @property
    def image_is_pixels(self) -> bool:
        return self.image_size > 0

    @property
    def image_has_patches(self) -> bool:
        """Whether images reach the model as a grid of patches (pixels, or a pretrained
        model's patch states)."""
        return self.image_is_pixels or self.image_states > 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["label_names"] = list(self.label_names)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        return cls(**{**d, "label_names": tuple(d.get("label_names", ()))})
