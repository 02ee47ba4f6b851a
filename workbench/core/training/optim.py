"""Optimisers, learning-rate schedules and gradient clipping for one or more parameter groups.

Most algorithms have one group ("main"); adversarial training has two ("d" and "g") that
step separately, each with its own optimiser built from the same settings.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from ..config import OptimizerConfig


def _fused(groups: list[dict]) -> dict:
    """``fused=True`` where PyTorch has a fused Adam kernel for every parameter: one pass
    over each tensor instead of a dozen elementwise ones. Same update; on a 2-core CPU the
    document's section-5 autoencoder steps 1.5-1.9x faster with it (``workbench bench``)."""
    params = [p for g in groups for p in g["params"]]
    ok = params and all(p.device.type in ("cpu", "cuda") and p.is_floating_point()
                        for p in params)
    return {"fused": True} if ok else {}


_OPTIMIZERS = {
    "adam": lambda p, c: torch.optim.Adam(p, lr=c.lr, weight_decay=c.weight_decay,
                                          betas=(c.beta1, 0.999), **_fused(p)),
    "adamw": lambda p, c: torch.optim.AdamW(p, lr=c.lr, weight_decay=c.weight_decay,
                                            betas=(c.beta1, 0.999), **_fused(p)),
    "sgd": lambda p, c: torch.optim.SGD(p, lr=c.lr, weight_decay=c.weight_decay,
                                        momentum=c.momentum),
}


def lr_factor(cfg: OptimizerConfig, epochs: int, epoch: int) -> float:
    """The learning-rate multiplier for ``epoch`` (0-based epochs completed)."""
    if cfg.warmup_epochs and epoch < cfg.warmup_epochs:
        return (epoch + 1) / (cfg.warmup_epochs + 1)
    e = epoch - cfg.warmup_epochs
    if cfg.schedule == "cosine":
        span = max(1, epochs - cfg.warmup_epochs)
        return 0.5 * (1 + math.cos(math.pi * min(e, span) / span))
    if cfg.schedule == "step":
        return cfg.gamma ** (e // cfg.step_epochs)
    return 1.0


def pretrained_lr_factor(cfg: OptimizerConfig, epochs: int, epoch: int) -> float:
    """The multiplier of a fine-tuned pretrained model's layers: 0 (they stay as they are)
    for the first ``cfg.pretrained_frozen_epochs`` epochs, then the schedule's."""
    return 0.0 if epoch < cfg.pretrained_frozen_epochs else lr_factor(cfg, epochs, epoch)


def _tuned(group: dict) -> bool:
    return any(getattr(p, "pretrained", False) for p in group["params"])


class Optimizers:
    """``embeddings``: parameters (word embedding tables) that learn at
    ``cfg.embedding_lr_scale`` times the learning rate."""

    def __init__(self, groups: dict[str, list[nn.Parameter]], cfg: OptimizerConfig,
                 epochs: int, *, embeddings: Iterable[nn.Parameter] = ()):
        self.cfg = cfg
        self.epochs = epochs
        special = {id(p) for p in embeddings}
        self.optimizers = {}
        for name, params in groups.items():
            if not params:
                continue
            # a fine-tuned pretrained model's layers (marked by ``models.build``) start from
            # good weights, which a full learning rate would undo
            tuned = [p for p in params if getattr(p, "pretrained", False)]
            tuned_ids = {id(p) for p in tuned}
            emb = [p for p in params if id(p) in special and id(p) not in tuned_ids]
            plain = [p for p in params if id(p) not in special | tuned_ids]
            param_groups = [{"params": plain}] if plain else []
            if emb:
                param_groups.append({"params": emb, "lr": cfg.lr * cfg.embedding_lr_scale})
            if tuned:
                param_groups.append({"params": tuned, "lr": cfg.lr * cfg.pretrained_lr_scale})
            self.optimizers[name] = _OPTIMIZERS[cfg.name](param_groups, cfg)
        # Multi-process training (see ``distributed``): the loss is multiplied by
        # ``loss_scale`` before backward (weighting this process's share of the batch), and
        # ``grad_hook`` is called with an optimiser's parameters after backward, before
        # clipping and the step (averaging gradients across processes explicitly).
        self.loss_scale = 1.0
        self.grad_hook: Callable[[list[nn.Parameter]], None] | None = None
        self.schedulers = {
            name: torch.optim.lr_scheduler.LambdaLR(opt, [
                (lambda e: pretrained_lr_factor(cfg, epochs, e)) if _tuned(group) else
                (lambda e: lr_factor(cfg, epochs, e)) for group in opt.param_groups])
            for name, opt in self.optimizers.items()}

    def step(self, name: str, loss: Tensor) -> None:
        """Back-propagate ``loss`` and step the optimiser of group ``name``."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        (loss * self.loss_scale if self.loss_scale != 1.0 else loss).backward()
        if self.grad_hook is not None:
            self.grad_hook([p for g in opt.param_groups for p in g["params"]])
        if self.cfg.grad_clip > 0:
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()

    def epoch_end(self) -> None:
        for s in self.schedulers.values():
            s.step()

    @property
    def lr(self) -> float:
        opt = next(iter(self.optimizers.values()))
        return float(opt.param_groups[0]["lr"])

    def state_dict(self) -> dict:
        return {name: {"optimizer": opt.state_dict(),
                       "scheduler": self.schedulers[name].state_dict()}
                for name, opt in self.optimizers.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, s in state.items():
            self.optimizers[name].load_state_dict(s["optimizer"])
            self.schedulers[name].load_state_dict(s["scheduler"])
