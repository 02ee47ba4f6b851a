"""Adversarial cross-modal alignment [document 3.2, 4.2], in the spirit of ACMR (Wang et al.,
2017, "Adversarial Cross-Modal Retrieval").

The workbench encoders map each modality to a unit vector. A modality discriminator D tries
to tell text vectors ("real", target 1) from image vectors ("fake", target 0); the encoders
(the generator side) learn to fool it with the labels flipped, so the two modalities become
indistinguishable in the shared space. On its own that could pair anything with anything, so
a pairing loss keeps each caption next to its own image:

    L_G = adv_weight * L_fool + pair_weight * (InfoNCE(t, i; tau = 0.1) + L_match)

L_match is an image-text matching head on the chosen fusion of the two modalities: matched
pairs -> 1, in-batch shuffled pairs -> 0. D's loss is the mean of its two BCE terms, so it is
ln 2 when D cannot tell the modalities apart. ``d_real`` / ``d_fake`` are D's mean
probabilities of "text" on the text vectors and on the image vectors.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.blocks import mlp
from ..training import distributed
from .adversarial import bce, frozen
from .base import Algorithm, pair_outputs
from .losses import info_nce

TEMPERATURE = 0.1  # of the pairing InfoNCE: fixed, so the adversarial game has one scale


class AdversarialAlign(Algorithm):
    """Encoders (+ projection, fusion, matching head) against a modality discriminator."""

    joint_space = True
    averaged_outputs = ("d_real", "d_fake")

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.build_encoders()
        h = cfg.model.hidden_dim
        self.text_proj = nn.Linear(h, h)
        self.image_proj = nn.Linear(h, h)
        self.fusion = self.build_fusion(h)
        self.match_head = mlp([h, h, 1])
        self.discriminator = mlp([h, h, h, 1], dropout=cfg.model.dropout)

    def optimizer_groups(self):
        d = list(self.discriminator.parameters())
        ids = {id(p) for p in d}
        return {"d": d, "g": [p for p in self.parameters() if id(p) not in ids]}

    def modalities(self, batch, *, keep_weights: bool = False):
        """The encoders' vectors, projected and normalised: the shared space D looks at."""
        text, image = self.encode(batch, keep_weights=keep_weights)
        t = F.normalize(self.text_proj(text.vector), dim=-1)
        i = F.normalize(self.image_proj(image.vector), dim=-1)
        return dataclasses.replace(text, vector=t), dataclasses.replace(image, vector=i)

    # ------------------------------------------------------------------ the losses
    def discriminator_terms(self, t: Tensor, i: Tensor) -> dict[str, Tensor]:
        """D's loss: text vectors -> 1 (one-sided label smoothing), image vectors -> 0."""
        lt, li = self.discriminator(t).squeeze(-1), self.discriminator(i).squeeze(-1)
        loss = (bce(lt, 1.0 - self.params.label_smoothing) + bce(li, 0.0)) / 2
        return {"d_loss": loss, "d_real": torch.sigmoid(lt).mean().detach(),
                "d_fake": torch.sigmoid(li).mean().detach()}

    def fool_loss(self, t: Tensor, i: Tensor) -> Tensor:
        """The encoders' adversarial loss: D's labels flipped (text -> 0, image -> 1)."""
        lt, li = self.discriminator(t).squeeze(-1), self.discriminator(i).squeeze(-1)
        return (bce(lt, 0.0) + bce(li, 1.0)) / 2

    def pairing_terms(self, batch, text, image):
        """InfoNCE between the two vectors and the matching head's loss on matched vs. in-batch
        shuffled pairs (pairs that happen to show the same image are left out)."""
        t, i, ids = text.vector, image.vector, batch.image_ids
        if self.training:
            # Under torchrun the pairing loss scores the global batch, as one process would.
            t, i, ids = distributed.gather_rows(t, i, ids)
        t2i, i2t = info_nce(t, i, 1.0 / TEMPERATURE, ids)
        fused = self.fusion([text, image])
        n = text.batch_size
        ids = batch.image_ids if batch.image_ids is not None else torch.arange(n)
        perm = torch.randperm(n).to(ids.device)
        rows = torch.nonzero(ids[perm] != ids).squeeze(-1)
        shuffled = self.fusion([text.select(perm[rows]), image.select(rows)])
        match = (bce(self.match_head(fused.z).squeeze(-1), 1.0)
                 + bce(self.match_head(shuffled.z).squeeze(-1), 0.0)) / 2
        return {"pair": (t2i + i2t) / 2, "match": match}, fused

    def generator_objective(self, terms: dict[str, Tensor]) -> Tensor:
        p = self.params
        return p.adv_weight * terms["g_loss"] + p.pair_weight * (terms["pair"] + terms["match"])

    # ------------------------------------------------------------------ steps
    def training_step(self, batch, optim):
        """3.2.2: ``d_steps`` D steps with the encoders fixed (their vectors detached), then
        one encoder step with D fixed. The vectors are computed once: the D steps do not
        change the encoders, so they are the same vectors a recomputation would give."""
        text, image = self.modalities(batch)
        t, i = text.vector, image.vector
        d_terms: dict[str, Tensor] = {}
        for _ in range(self.params.d_steps):
            terms = self.discriminator_terms(t.detach(), i.detach())
            optim.step("d", terms["d_loss"])
            for k, v in terms.items():  # averaged over the D steps
                d_terms[k] = d_terms.get(k, 0.0) + v.detach() / self.params.d_steps
        with frozen(self.discriminator):
            g_terms, _ = self.pairing_terms(batch, text, image)
            g_terms["g_loss"] = self.fool_loss(t, i)
            objective = self.generator_objective(g_terms)
            optim.step("g", objective)
        g_terms = {k: v.detach() for k, v in g_terms.items()}
        return {"loss": d_terms["d_loss"] + objective.detach(), **d_terms, **g_terms}

    def forward_step(self, batch):
        """Every loss without stepping (evaluation); ``loss`` = D's loss + the encoders'
        objective."""
        text, image = self.modalities(batch)
        t, i = text.vector, image.vector
        terms, fused = self.pairing_terms(batch, text, image)
        terms["g_loss"] = self.fool_loss(t, i)
        d_terms = self.discriminator_terms(t, i)
        losses = {"loss": d_terms["d_loss"] + self.generator_objective(terms), **d_terms,
                  **terms}
        out = pair_outputs(batch, t, i, fused)
        with torch.no_grad():
            out["d_real"] = torch.sigmoid(self.discriminator(t)).squeeze(-1)
            out["d_fake"] = torch.sigmoid(self.discriminator(i)).squeeze(-1)
        return losses, out

