"""Fused classifier [document 5, 2.3]: predict the label from both modalities through the
chosen fusion. Evaluation also removes each modality in turn, showing how much each carries."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.blocks import mlp
from .base import Algorithm, pair_outputs
from .grounding import Grounding
from .losses import modality_dropout

# What evaluation hides, by name: (text present, image present)
ABLATIONS = {"text_only": (True, False), "image_only": (False, True)}


class Classifier(Algorithm):
    joint_space = False  # text and image vectors are features for the fusion, not aligned
    averaged_outputs = ("itm_accuracy", "mlm_accuracy", "align_accuracy")  # grounding's

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.build_encoders()
        h = cfg.model.hidden_dim
        self.fusion = self.build_fusion(info.num_classes if self._late() else h)
        self.head = None if self._late() else mlp([h, h, info.num_classes],
                                                    dropout=cfg.model.dropout)
        self._hide: tuple[bool, bool] | None = None  # set while evaluating an ablation
        self._grounding_off = False  # set while embedding: vectors need no grounding losses
        grounding = Grounding(hidden_dim=h, token_dim=self.text_encoder.dims.token, fused_dim=h,
                              vocab_size=info.vocab_size if info.text_is_tokens else None,
                              itm_weight=self.params.itm_weight,
                              mlm_weight=self.params.mlm_weight,
                              negatives=self.params.itm_negatives,
                              align_weight=self.params.align_weight)
        self.grounding = grounding if grounding.active else None

    def prepare(self, dataset):
        super().prepare(dataset)
        if self.grounding is not None:
            self.grounding.prepare(dataset)

    def _late(self) -> bool:
        from ..fusion import FUSIONS
        return FUSIONS[self.cfg.fusion.name].load().decision_level

    def modalities(self, batch, *, keep_weights=False):
        if not self.fusion.uses_encoders:  # early fusion reads the raw inputs only
            return self.raw_modalities(batch)
        return self.encode(batch, keep_weights=keep_weights)

    def forward_step(self, batch):
        text, image = self.modalities(batch)
        whole = text, image  # before modality dropout: the grounding objectives read both
        b = len(batch)
        if self._hide is not None:
            keep_t, keep_i = (torch.full((b,), v, dtype=torch.bool, device=text.vector.device)
                              for v in self._hide)
            text, image = text.with_presence(keep_t), image.with_presence(keep_i)
        elif self.training and self.params.modality_dropout > 0:
            keep_t, keep_i = modality_dropout(b, self.params.modality_dropout,
                                              device=text.vector.device)
            text, image = text.with_presence(keep_t), image.with_presence(keep_i)
        fused = self.fusion([text, image])
        logits = fused.z if self.head is None else self.head(fused.z)
        loss = F.cross_entropy(logits, batch.labels,
                               label_smoothing=self.params.label_smoothing)
        out = pair_outputs(batch, text.vector, image.vector, fused)
        if not self.fusion.uses_encoders:  # no text or image vectors of their own to show
            del out["text"], out["image"]
        out["logits"] = logits.detach()
        losses = {"loss": loss}
        if self.grounding is not None and self._hide is None and not self._grounding_off:
            extra, outs = self.grounding(self.fusion, self.text_encoder, batch, *whole)
            losses = {"loss": loss + extra.pop("grounding"), "classification": loss, **extra}
            out.update(outs)
        return losses, out

    @torch.no_grad()
    def embed(self, batch):
        # The Embeddings tab's snapshots and the Retrieval tab read vectors only: the
        # grounding objectives' extra fusion passes (and their random draws) are skipped.
        self._grounding_off = True
        try:
            return super().embed(batch)
        finally:
            self._grounding_off = False

    @torch.no_grad()
    def evaluate(self, dataset, split, batch_size, device="cpu"):
        result = super().evaluate(dataset, split, batch_size, device)
        if not result:
            return result
        for name, keep in ABLATIONS.items():
            self._hide = keep
            try:
                ablated = super().evaluate(dataset, split, batch_size, device)
            finally:
                self._hide = None
            result[f"accuracy_{name}"] = ablated["accuracy"]
        return result
