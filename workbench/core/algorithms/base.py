"""The base every algorithm implements: its model, losses, training step and metrics.

As in PyTorch Lightning, the maths lives here and the loop in the Trainer. An algorithm
defines :meth:`forward_step` (losses and outputs of one batch); the default
:meth:`training_step` back-propagates the total ``loss`` with the "main" optimiser, and the
default :meth:`evaluate` averages the losses over a split and turns the collected outputs
into metrics (retrieval from ``text``/``image`` vectors, classification from ``logits``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from ..config import ExperimentConfig
from ..data.dataset import Batch, PairedDataset
from ..data.info import DataInfo
from ..evaluation import metrics as M
from ..fusion.base import Fusion, FusionOutput, build_fusion
from ..models import build
from ..models.encoders import FeatureEncoder
from ..models.features import ModalityFeatures
from ..training.optim import Optimizers
from . import primary_metric

Losses = dict[str, Tensor]
Outputs = dict[str, Tensor]


class Algorithm(nn.Module):
    """Base class. Subclasses build their modules in ``__init__`` and define
    :meth:`forward_step`; everything else has a default that fits most algorithms."""

    #: names of the modality vectors :meth:`embed` returns, in display order
    modality_names = ("text", "image")
    #: whether text and image vectors live in one space (then retrieval metrics mean something)
    joint_space = True
    #: per-sample outputs whose mean over a split is reported as a metric of the same name
    averaged_outputs: tuple[str, ...] = ()

    def __init__(self, cfg: ExperimentConfig, info: DataInfo):
        super().__init__()
        self.cfg = cfg
        self.info = info
        self.params = cfg.algorithm.params

    # ------------------------------------------------------------------ building blocks
    def build_encoders(self) -> None:
        from ..fusion import FUSIONS
        tokens = FUSIONS[self.cfg.fusion.name].load().reads_tokens
        self.text_encoder = build.text_encoder(self.cfg.model, self.info, tokens=tokens)
        self.image_encoder = build.image_encoder(self.cfg.model, self.info, tokens=tokens)

    @property
    def reads_states(self) -> bool:
        """Whether batches must carry a pretrained model's token states (word pieces, image
        patches): gathering them costs, so batches skip them when nothing reads them."""
        return any(getattr(getattr(self, name, None), "reads_states", False)
                   for name in ("text_encoder", "image_encoder"))

    def build_fusion(self, out_dim: int) -> Fusion:
        return build_fusion(self.cfg.fusion.name, self.cfg.fusion.params,
                            [self.text_encoder.dims, self.image_encoder.dims], out_dim)

    def encode(self, batch: Batch, *, keep_weights: bool = False
               ) -> tuple[ModalityFeatures, ModalityFeatures]:
        if isinstance(self.text_encoder, FeatureEncoder):
            text = self.text_encoder(batch)
        else:
            text = self.text_encoder(batch, keep_weights=keep_weights)
        return text, self.image_encoder(batch)

    def raw_modalities(self, batch: Batch) -> tuple[ModalityFeatures, ModalityFeatures]:
        """The raw inputs only (bag of words or standardised features; pixels), for a fusion
        that does not use the encoders (early fusion)."""
        def features(name: str, raw: Tensor) -> ModalityFeatures:
            empty = raw.new_zeros(raw.shape[0], 0)
            return ModalityFeatures(name, empty, empty[:, :, None], empty.bool(), raw)

        text = batch.bow if self.info.text_is_tokens else self.text_encoder(batch).raw
        image = batch.images.flatten(1) if self.info.image_is_pixels else \
            self.image_encoder(batch).raw
        return features("text", text), features("image", image)

    def modality_parameters(self) -> dict[str, list[nn.Parameter]]:
        """The parameters that read each modality (encoders, and fusion layers fed by raw
        inputs): training must move some of each, or a modality is being ignored."""
        out = {"text": list(self.text_encoder.parameters()),
               "image": list(self.image_encoder.parameters())}
        fusion = getattr(self, "fusion", None)
        if fusion is not None:
            for name, params in fusion.modality_parameters().items():
                out[name] = out.get(name, []) + params
        return out

    def modalities(self, batch: Batch, *, keep_weights: bool = False
                   ) -> tuple[ModalityFeatures, ModalityFeatures]:
        """The two modalities as the fusion receives them (by default, the encoders')."""
        return self.encode(batch, keep_weights=keep_weights)

    def prepare(self, dataset: PairedDataset) -> None:
        """Called once before training, with the whole dataset (training split statistics,
        graphs). The default standardises feature-vector inputs."""
        train = dataset.indices("train")
        for enc, feats in ((getattr(self, "text_encoder", None), dataset.text_features),
                           (getattr(self, "image_encoder", None), dataset.image_features)):
            # FeatureEncoder and PretrainedEncoder standardise their vectors
            if hasattr(enc, "set_stats") and feats is not None and len(train):
                enc.set_stats(feats[train])

    # ------------------------------------------------------------------ training
    def forward_step(self, batch: Batch) -> tuple[Losses, Outputs]:
        """Losses (``"loss"`` is the total that is minimised) and outputs of one batch."""
        raise NotImplementedError  # pragma: no cover - every algorithm defines it

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"main": [p for p in self.parameters() if p.requires_grad]}

    def train_batches(self, dataset: PairedDataset, batch_size: int,
                      generator: torch.Generator,
                      shard: tuple[int, int] | None = None,
                      drop_last: bool = False) -> Iterator[Batch]:
        """Shuffled training batches; ``shard=(rank, world_size)`` gives this process's share
        of each (multi-process training, see :mod:`..training.distributed`); ``drop_last``
        leaves out a last batch smaller than ``batch_size`` (``training.drop_last``).
        :meth:`steps_per_epoch` and :meth:`epoch_pairs` count what this yields."""
        return dataset.batches("train", batch_size, shuffle=True, generator=generator,
                               shard=shard, states=self.reads_states, drop_last=drop_last)

    def steps_per_epoch(self, dataset: PairedDataset, batch_size: int,
                        drop_last: bool = False) -> int:
        return max(1, dataset.batch_count("train", batch_size, drop_last))

    def epoch_pairs(self, dataset: PairedDataset, batch_size: int,
                    drop_last: bool = False) -> int:
        """Training pairs one epoch trains on (fewer than the split with ``drop_last``)."""
        return dataset.kept_pairs("train", batch_size, drop_last)

    #: Under torchrun, the Trainer sets this to the call of the ``DistributedDataParallel``
    #: wrapper of this algorithm (whose forward is :meth:`forward_step`), so the default step's forward
    #: arms the wrapper's gradient averaging for the backward that follows. An algorithm
    #: that overrides :meth:`training_step` is never wrapped (see ``training.distributed``).
    data_parallel: Callable[[Batch], tuple[Losses, Outputs]] | None = None

    def forward(self, batch: Batch) -> tuple[Losses, Outputs]:
        """What ``DistributedDataParallel`` calls: :meth:`forward_step`."""
        return self.forward_step(batch)

    def training_step(self, batch: Batch, optim: Optimizers) -> Losses:
        losses, _ = (self.data_parallel or self.forward_step)(batch)
        optim.step("main", losses["loss"])
        return {k: v.detach() for k, v in losses.items()}

    # ------------------------------------------------------------------ evaluation
    def eval_batches(self, dataset: PairedDataset, split: str,
                     batch_size: int) -> Iterator[Batch]:
        return dataset.batches(split, batch_size, states=self.reads_states)

    @torch.no_grad()
    def evaluate(self, dataset: PairedDataset, split: str, batch_size: int,
                 device: torch.device | str = "cpu") -> dict[str, float]:
        """Mean losses and metrics over ``split`` (empty when the split is empty)."""
        was_training = self.training
        self.eval()
        try:
            sums: dict[str, float] = defaultdict(float)
            outputs: dict[str, list[Tensor]] = defaultdict(list)
            n = 0
            for batch in self.eval_batches(dataset, split, batch_size):
                batch = batch.to(device)
                losses, outs = self.forward_step(batch)
                for k, v in losses.items():
                    sums[k] += float(v) * len(batch)
                for k, v in outs.items():
                    outputs[k].append(v.detach())
                n += len(batch)
            if n == 0:
                return {}
            result = {k: v / n for k, v in sums.items()}
            result.update(self.metrics({k: torch.cat(v) for k, v in outputs.items()}))
            return result
        finally:
            self.train(was_training)

    @torch.no_grad()
    def confusion_matrix(self, dataset: PairedDataset, split: str, batch_size: int = 512,
                         device: torch.device | str = "cpu") -> list[list[int]] | None:
        """Counts of (true label, predicted label) on ``split``, for algorithms that predict
        labels; None otherwise."""
        if not self.info.has_labels:
            return None
        was_training = self.training
        self.eval()
        try:
            preds, labels = [], []
            for batch in self.eval_batches(dataset, split, batch_size):
                _, outs = self.forward_step(batch.to(device))
                if "logits" not in outs:
                    return None
                preds.append(outs["logits"].argmax(-1))
                labels.append(outs["labels"])
        finally:
            self.train(was_training)
        if not preds:
            return None
        return M.confusion_matrix(torch.cat(preds), torch.cat(labels),
                                  self.info.num_classes).tolist()

    def metrics(self, outputs: Outputs) -> dict[str, float]:
        """Metrics from the outputs of a whole split (retrieval in :meth:`score_space`)."""
        out: dict[str, float] = {}
        if self.joint_space and {"text", "image", "image_ids"} <= outputs.keys():
            text, image = self.score_space(outputs["text"], outputs["image"])
            out.update(M.retrieval_metrics(text, image, outputs["image_ids"]))
        if "logits" in outputs and "labels" in outputs and self.info.has_labels:
            out.update(M.classification_metrics(outputs["logits"], outputs["labels"],
                                                self.info.num_classes))
        for key in self.averaged_outputs:
            if key in outputs:
                out[key] = float(outputs[key].float().mean())
        if "modality_weights" in outputs:
            # Mean weight per modality over the split: plotted over time for attention fusion.
            for name, w in zip(self.modality_names, outputs["modality_weights"].mean(0)):
                out[f"weight_{name}"] = float(w)
        return out

    @torch.no_grad()
    def embed(self, batch: Batch) -> dict[str, Tensor]:
        """``text``, ``image`` (in :meth:`score_space`) and, where the algorithm has one,
        ``fused`` vectors."""
        _, outs = self.forward_step(batch)
        out = {k: outs[k] for k in ("text", "image", "fused") if k in outs}
        if "text" in out and "image" in out:
            out["text"], out["image"] = self.score_space(out["text"], out["image"])
        return out

    # ------------------------------------------------------------------ how it is scored
    def primary_metric(self) -> str | None:
        """The validation metric that says which of two runs did better (the registry's
        ``AlgorithmSpec.primary``); None when no single number does."""
        return primary_metric(self.cfg.algorithm.name, self.params, self.info.has_labels)

    def score_space(self, text: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        """The text and image vectors as this algorithm is scored: retrieval metrics, the
        Retrieval and Embeddings tabs and Compare all compare them here. By default as they
        come; an algorithm whose loss compares the modalities in another space (soft-CCA
        compares standardised views) returns that space, so a model is never graded in a
        space it was not trained for."""
        return text, image

    def fit_score_space(self, dataset: PairedDataset, batch_size: int,
                        device: torch.device | str = "cpu") -> None:
        """Fit what :meth:`score_space` needs from the training split (statistics kept in
        the model's buffers, so checkpoints carry them). The Trainer calls it before each
        validation and checkpoint; nothing to fit by default."""

    @torch.no_grad()
    def attention(self, batch: Batch) -> dict[str, Tensor]:
        """Attention maps of a batch of probe samples (see ``AttentionSnapshot.maps``)."""
        text, image = self.modalities(batch, keep_weights=True)
        maps: dict[str, Tensor] = {}
        block = getattr(self.text_encoder, "block", None)
        if block is not None and block.last_weights is not None:
            maps["self_attention"] = block.last_weights
        fusion = getattr(self, "fusion", None)
        if fusion is not None:
            maps.update(fusion([text, image]).attention)
        return maps

    def generate(self, n: int, generator: torch.Generator | None = None) -> dict | None:
        """Generated samples (``images`` in [0, 1], ``bow`` scores), for generative
        algorithms; None otherwise."""
        return None


def pair_outputs(batch: Batch, text: Tensor, image: Tensor,
                 fused: FusionOutput | None = None) -> Outputs:
    """The outputs every paired algorithm reports: the modality vectors (retrieval,
    snapshots), the fused vector and the per-sample modality weights where the fusion has
    them, the labels."""
    out = {"text": text.detach(), "image": image.detach(), "image_ids": batch.image_ids}
    if fused is not None:
        out["fused"] = fused.z.detach()
        weights = fused.attention.get("modality_weights")
        if weights is not None:
            out["modality_weights"] = weights.detach()
    if batch.labels is not None:
        out["labels"] = batch.labels
    return out
