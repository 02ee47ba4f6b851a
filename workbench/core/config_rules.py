"""Settings that are valid alone but not together: the config's checks that span several keys.

Each refusal names the file, the key that must change, its value and what is allowed, as the
single-key checks of :mod:`.config` do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .algorithms import fusion_problem
from .errors import ConfigError

if TYPE_CHECKING:
    from .config import ExperimentConfig


def check(cfg: ExperimentConfig, *, file: str | None = None) -> None:
    """Checks that span several keys."""
    d = cfg.data
    if d.val_fraction + d.test_fraction >= 1.0:
        raise ConfigError(
            f"val_fraction + test_fraction = {d.val_fraction + d.test_fraction:g}, expected "
            "less than 1 so that some pairs are left for training", file=file,
            key="data.val_fraction", value=d.val_fraction, allowed="val + test < 1")
    m = cfg.model
    if m.image_encoder == "patch" and cfg.preprocess.image_size % m.patch_size:
        raise ConfigError(f"patch_size = {m.patch_size} does not divide preprocess.image_size "
                          f"= {cfg.preprocess.image_size}", file=file, key="model.patch_size",
                          value=m.patch_size,
                          allowed=f"a divisor of {cfg.preprocess.image_size}")
    problem = fusion_problem(cfg.algorithm.name, cfg.fusion.name)
    if problem:
        raise ConfigError(f"{cfg.algorithm.name} cannot use {cfg.fusion.name!r} fusion: "
                          f"{problem}", file=file, key="fusion.name", value=cfg.fusion.name)
    frozen = m.pretrained_mode == "frozen"
    if frozen:
        _check_frozen_features(cfg, file)
    tuned = not frozen and "pretrained" in (m.text_encoder, m.image_encoder)
    if tuned and cfg.optimizer.pretrained_frozen_epochs >= cfg.training.epochs:
        raise ConfigError(f"training.epochs = {cfg.training.epochs} and "
                          f"optimizer.pretrained_frozen_epochs = "
                          f"{cfg.optimizer.pretrained_frozen_epochs}: the pretrained layers "
                          "would never train; train for more epochs, lower "
                          "pretrained_frozen_epochs, or set model.pretrained_mode = frozen",
                          file=file, key="optimizer.pretrained_frozen_epochs",
                          value=cfg.optimizer.pretrained_frozen_epochs,
                          allowed=f"less than training.epochs ({cfg.training.epochs})")
    for key in ("itm_weight", "mlm_weight", "align_weight"):
        weight = getattr(cfg.algorithm.params, key, 0.0)
        if weight > 0 and cfg.fusion.name != "coattention":
            raise ConfigError(f"{key} = {weight} trains the co-attention fusion's "
                              f"cross-attention, and this run fuses with {cfg.fusion.name!r}; "
                              f"set fusion.name = 'coattention' or {key} = 0", file=file,
                              key=f"algorithm.params.{key}", value=weight,
                              allowed="0 unless fusion.name is 'coattention'")
    if cfg.training.unknown_words > 0 and cfg.model.text_encoder != "bow":
        raise ConfigError(f"training.unknown_words = {cfg.training.unknown_words} reads "
                          "caption words as the unknown word of the vocabulary learned from "
                          "these captions, and a pretrained text model reads word pieces of "
                          "its own; set training.unknown_words = 0 or model.text_encoder = "
                          "'bow'", file=file, key="training.unknown_words",
                          value=cfg.training.unknown_words,
                          allowed="0 with a pretrained text model")
    if cfg.fusion.name == "coattention" and cfg.model.embed_dim % cfg.fusion.params.heads:
        raise ConfigError(f"heads = {cfg.fusion.params.heads} does not divide model.embed_dim "
                          f"= {cfg.model.embed_dim}", file=file, key="fusion.params.heads",
                          value=cfg.fusion.params.heads,
                          allowed=f"a divisor of {cfg.model.embed_dim}")


#: Training-time changes of the inputs that a frozen pretrained model's features, computed
#: once from the data as it is, cannot follow: (encoder, input, key, is it on, what it does,
#: the value that turns it off).
_PER_STEP_CHANGES = (
    ("text", "caption", "drop_words", lambda t: t.drop_words > 0,
     "word dropout changes a caption's words at each step", "0"),
    ("image", "image", "augment_images", lambda t: t.augment_images,
     "image augmentation flips and shifts an image at each step", "false"),
    ("image", "image", "augment_scale", lambda t: t.augment_scale < 1.0,
     "shrinking images changes them at each step", "1"),
    ("image", "image", "augment_tint", lambda t: t.augment_tint > 0,
     "tinting images changes them at each step", "0"),
)


def _check_frozen_features(cfg, file) -> None:
    m, t = cfg.model, cfg.training
    for side, data, key, on, what, off in _PER_STEP_CHANGES:
        encoder = m.text_encoder if side == "text" else m.image_encoder
        if encoder == "pretrained" and on(t):
            raise ConfigError(f"{what}, and a frozen pretrained {side} model's features are "
                              f"computed once, from the {data} as it is; set training.{key} "
                              f"= {off} (or model.pretrained_mode = finetune)", file=file,
                              key=f"training.{key}", value=getattr(t, key),
                              allowed=f"{off} with a frozen pretrained {side} model")
