"""Multimodal autoencoder [document 3.1, 4.1].

Both modalities are encoded and fused into a shared code z, from which a decoder per
modality reconstructs its input; a correlation loss keeps the two hidden vectors together:

    L = w_t L_recon(x_t, d_t(z)) + w_i L_recon(x_i, d_i(z)) + lambda L_corr(h_t, h_i)

Text is reconstructed as a bag of words (balanced BCE) or a feature vector (MSE), images as
pixels (MSE). With modality dropout some codes are built from one modality only, so the other
is reconstructed across modalities (cross-modal generation).

With the soft-CCA correlation loss the model is scored where that loss compares the
modalities: each hidden vector standardised per dimension, with the training split's mean
and standard deviation (kept in buffers, so a checkpoint scores as the run did). Raw cosine
of those vectors ignores what soft-CCA aligned: 8 epochs on the emoji gave validation
text -> image R@10 0.064 raw (chance 0.053) against 0.374 standardised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.decoders import image_decoder, text_decoder
from ..training import distributed
from .base import Algorithm, pair_outputs
from .losses import (SOFT_CCA_EPS, balanced_bce, info_nce, modality_dropout,
                     negative_cosine, soft_cca)


SCORE_STATS = ("text_mean", "text_std", "image_mean", "image_std")


class Autoencoder(Algorithm):
    averaged_outputs = ("recon_error_text", "recon_error_image", "recon_error_image_from_text",
                        "recon_error_text_from_image")

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.build_encoders()
        h = cfg.model.hidden_dim
        self.fusion = self.build_fusion(h)
        self.text_decoder = text_decoder(h, info, h)
        self.image_decoder = image_decoder(h, info, h)
        if self._standardised:
            for name in SCORE_STATS:
                self.register_buffer(f"score_{name}",
                                     torch.zeros(h) if name.endswith("mean") else torch.ones(h))

    @property
    def _standardised(self) -> bool:
        return self.params.corr_loss == "soft_cca"

    def score_space(self, text, image):
        if not self._standardised:
            return text, image
        return ((text - self.score_text_mean) / self.score_text_std,
                (image - self.score_image_mean) / self.score_image_std)

    @torch.no_grad()
    def fit_score_space(self, dataset, batch_size, device="cpu"):
        """The training split's per-dimension mean and standard deviation of each hidden
        vector, in eval mode, as soft-CCA standardises them (population std + its eps)."""
        if not self._standardised:
            return
        was_training = self.training
        self.eval()
        sums = {}
        try:
            for batch in dataset.batches("train", batch_size):
                text, image = self.encode(batch.to(device))
                for name, v in (("text", text.vector), ("image", image.vector)):
                    v = v.double()
                    total, square, n = sums.get(name, (0.0, 0.0, 0))
                    sums[name] = (total + v.sum(0), square + v.pow(2).sum(0), n + len(v))
        finally:
            self.train(was_training)
        for name, (total, square, n) in sums.items():
            mean = total / n
            std = (square / n - mean.pow(2)).clamp(min=0).sqrt() + SOFT_CCA_EPS
            getattr(self, f"score_{name}_mean").copy_(mean.float())
            getattr(self, f"score_{name}_std").copy_(std.float())

    def correlation(self, ht, hi, image_ids):
        kind = self.params.corr_loss
        if kind == "cosine":
            return negative_cosine(ht, hi)
        if self.training:
            # InfoNCE and soft-CCA compare the samples of a batch: under torchrun they must
            # see the global batch's rows, as one process would (no-op in one process).
            ht, hi, image_ids = distributed.gather_rows(ht, hi, image_ids)
        if kind == "infonce":
            t2i, i2t = info_nce(ht, hi, 1.0 / self.params.temperature, image_ids)
            return (t2i + i2t) / 2
        return soft_cca(ht, hi)

    def text_target(self, batch):
        return batch.bow if self.info.text_is_tokens else \
            (batch.text_features - self.text_encoder.mean) / self.text_encoder.std

    def image_target(self, batch):
        return batch.images if self.info.image_is_pixels else \
            (batch.image_features - self.image_encoder.mean) / self.image_encoder.std

    def text_loss(self, logits, target, reduction="mean"):
        if self.info.text_is_tokens:
            if reduction == "none":
                return F.binary_cross_entropy_with_logits(logits, target,
                                                          reduction="none").mean(1)
            counts = None
            if self.training and distributed.active():
                # Under torchrun: the global batch's present/absent weighting, so every
                # process weighs words as one process would.
                counts = distributed.all_sum(
                    torch.stack([target.sum(), target.new_tensor(float(target.numel()))]))
            return balanced_bce(logits, target, counts)
        err = F.mse_loss(logits, target, reduction="none").mean(1)
        return err if reduction == "none" else err.mean()

    def image_recon(self, z):
        out = self.image_decoder(z)
        return torch.sigmoid(out) if self.info.image_is_pixels else out

    def forward_step(self, batch):
        p = self.params
        text, image = self.encode(batch)
        if self.training and p.modality_dropout > 0:
            keep_t, keep_i = modality_dropout(len(batch), p.modality_dropout,
                                              device=text.vector.device)
            text, image = text.with_presence(keep_t), image.with_presence(keep_i)
        fused = self.fusion([text, image])
        z = fused.z
        t_target, i_target = self.text_target(batch), self.image_target(batch)
        t_logits, i_recon = self.text_decoder(z), self.image_recon(z)
        recon_t = self.text_loss(t_logits, t_target)
        recon_i = F.mse_loss(i_recon, i_target)
        corr = self.correlation(text.vector, image.vector, batch.image_ids)
        loss = p.text_weight * recon_t + p.image_weight * recon_i + p.corr_weight * corr
        out = pair_outputs(batch, text.vector, image.vector, fused)
        if not self.training:
            out.update(self._errors(text, image, t_logits, t_target, i_target, i_recon))
        return {"loss": loss, "recon_text": recon_t, "recon_image": recon_i, "corr": corr}, out

    def _errors(self, text, image, t_logits, t_target, i_target, i_recon):
        """Per-sample reconstruction errors (text: mean per-word BCE or feature MSE; image:
        pixel MSE), from both modalities and across modalities."""
        dims = tuple(range(1, i_recon.dim()))
        out = {"recon_error_image": (i_recon - i_target).pow(2).mean(dims),
               "recon_error_text": self.text_loss(t_logits, t_target, reduction="none")}
        yes = torch.ones(text.batch_size, dtype=torch.bool, device=i_recon.device)
        no = ~yes
        z_text_only = self.fusion([text.with_presence(yes), image.with_presence(no)]).z
        z_image_only = self.fusion([text.with_presence(no), image.with_presence(yes)]).z
        out["recon_error_image_from_text"] = \
            (self.image_recon(z_text_only) - i_target).pow(2).mean(dims)
        out["recon_error_text_from_image"] = self.text_loss(self.text_decoder(z_image_only),
                                                            t_target, reduction="none")
        return out

    @torch.no_grad()
    def reconstruct(self, batch, *, from_modality: str | None = None) -> dict:
        """Reconstructions of a batch (for display): ``images`` and ``bow`` probabilities,
        from both modalities or only ``"text"`` / ``"image"``."""
        text, image = self.encode(batch)
        if from_modality is not None:
            keep = torch.ones(len(batch), dtype=torch.bool, device=text.vector.device)
            text = text.with_presence(keep if from_modality == "text" else ~keep)
            image = image.with_presence(keep if from_modality == "image" else ~keep)
        z = self.fusion([text, image]).z
        return {"images": self.image_recon(z), "bow": torch.sigmoid(self.text_decoder(z))}
