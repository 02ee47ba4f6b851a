"""What a run is built from: the device it trains on and the algorithm its config names."""

from __future__ import annotations

import torch

from .. import config as C
from ..algorithms import ALGORITHMS, fusion_problem
from ..algorithms.base import Algorithm
from ..data.info import DataInfo
from ..errors import ConfigError, WorkbenchError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but no CUDA GPU is available",
                          key="device", value=name)
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' asked for, but Apple's MPS is not available",
                          key="device", value=name)
    return device


def build_algorithm(cfg: C.ExperimentConfig, info: DataInfo) -> Algorithm:
    """The algorithm ``cfg`` names, built for data described by ``info``.

    An invalid algorithm x fusion pair is refused with the registry's reason.
    """
    problem = fusion_problem(cfg.algorithm.name, cfg.fusion.name)
    if problem:
        raise ConfigError(f"{cfg.algorithm.name} cannot use {cfg.fusion.name!r} fusion: "
                          f"{problem}", key="fusion.name", value=cfg.fusion.name)
    spec = ALGORITHMS[cfg.algorithm.name]
    if spec.needs_labels and info.num_classes < 2:
        found = "no labels" if not info.has_labels else "only one label class"
        raise WorkbenchError(f"{spec.title} needs labels with at least two classes, and this "
                             f"data has {found}; pick a label column (data.label_column) or "
                             "a label-free algorithm (contrastive, autoencoder, adversarial, "
                             "graph)")
    if cfg.fusion.name == "coattention" and not (info.text_has_tokens
                                                  and info.image_has_patches):
        raise WorkbenchError("co-attention needs caption tokens and image patches, and this "
                             "data holds precomputed feature vectors (one 'token' each, so "
                             "every attention weight would be 1); pick another fusion")
    if getattr(cfg.algorithm.params, "mlm_weight", 0.0) > 0 and not info.text_is_tokens:
        raise WorkbenchError("masked-word prediction (algorithm.params.mlm_weight) predicts a "
                             "hidden word of the caption's own vocabulary, and this run reads "
                             "the captions through a pretrained text model (word pieces, no "
                             "vocabulary of words); set mlm_weight = 0 or use the built-in "
                             "text encoder")
    return spec.load()(cfg, info)
