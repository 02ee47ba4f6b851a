"""Image-text matching [document 2.1, 2.4], as ALBEF ("align before fuse", Li et al. 2021):
a dual encoder trained contrastively (ITC) puts captions and images in one space, and a
co-attention cross-encoder, trained on the dual encoder's hard negatives (ITM, and optionally
masked words), reads a caption with an image and says whether they belong together.

Retrieval has two answers. The dual encoder's (``t2i_r1`` ... ``mean_recall``) ranks every
candidate by cosine similarity, as the Retrieval and Embeddings tabs do. The re-ranked one
(``reranked_t2i_r1`` ... ``reranked_mean_recall``) reorders each query's top ``rerank_k``
candidates by the cross-encoder's match probability, the rest keeping their order below
them: the cross-encoder is too slow to read every pair, and this is how ALBEF retrieves.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..evaluation import metrics as M
from ..evaluation.names import RERANKED
from ..evaluation.ranking import first_occurrence, rank_counts
from .base import Algorithm, pair_outputs
from .grounding import Grounding

#: Re-ranked candidates score above every other: cosine similarities are at most 1.
_ABOVE_COSINE = 100.0
#: A match log-probability below this is "no match" alike, so such candidates tie.
_FLOOR = -50.0


class Matching(Algorithm):
    averaged_outputs = ("itm_accuracy", "mlm_accuracy")

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.build_encoders()
        h = cfg.model.hidden_dim
        self.fusion = self.build_fusion(h)
        self.grounding = Grounding(hidden_dim=h, token_dim=self.text_encoder.dims.token,
                                   fused_dim=h,
                                   vocab_size=info.vocab_size if info.text_is_tokens else None,
                                   itm_weight=self.params.itm_weight,
                                   mlm_weight=self.params.mlm_weight,
                                   negatives=self.params.itm_negatives)

    def prepare(self, dataset):
        super().prepare(dataset)
        self.grounding.prepare(dataset)

    def joint(self, text, image):
        """The dual encoder's unit vectors (the ITC space)."""
        return (F.normalize(self.grounding.text_proj(text.vector), dim=-1),
                F.normalize(self.grounding.image_proj(image.vector), dim=-1))

    def forward_step(self, batch):
        text, image = self.encode(batch)
        losses, outs = self.grounding(self.fusion, self.text_encoder, batch, text, image)
        total = losses.pop("grounding")
        out = pair_outputs(batch, *self.joint(text, image))
        out.update(outs)
        return {"loss": total, **losses}, out

    @torch.no_grad()
    def embed(self, batch):
        """The dual encoder's vectors, without the objectives' extra passes and draws."""
        text, image = self.encode(batch)
        t, i = self.joint(text, image)
        return {"text": t, "image": i}

    @torch.no_grad()
    def evaluate(self, dataset, split, batch_size, device="cpu"):
        result = super().evaluate(dataset, split, batch_size, device)
        if result:
            result.update(self.reranked_metrics(dataset, split, batch_size, device))
        return result

    @torch.no_grad()
    def reranked_metrics(self, dataset, split, batch_size, device="cpu") -> dict[str, float]:
        """Retrieval metrics after the cross-encoder re-ranked each query's top k."""
        was_training = self.training
        self.eval()
        try:
            texts, images, ids = [], [], []
            for batch in self.eval_batches(dataset, split, batch_size):
                batch = batch.to(device)
                text, image = self.encode(batch)
                texts.append(text)
                images.append(image)
                ids.append(batch.image_ids if batch.image_ids is not None else batch.index)
            if not texts:
                return {}
            text, image = _cat(texts), _cat(images)
            image_ids = torch.cat(ids)
            unique, first = first_occurrence(image_ids)
            image = image.select(first)  # one per distinct image
            t, i = self.joint(text, image)
            scores = t @ i.T  # (captions, distinct images)
            target = torch.searchsorted(unique, image_ids)
            true = F.one_hot(target, len(unique)).bool()
            k = self.params.rerank_k
            t2i = self._rerank(scores, text, image, k, batch_size, rows_are_text=True)
            i2t = self._rerank(scores.T, text, image, k, batch_size, rows_are_text=False)
            found = M.recall_metrics(rank_counts(t2i, true), rank_counts(i2t, true.T))
            return {f"{RERANKED}{name}": value for name, value in found.items()}
        finally:
            self.train(was_training)

    def _rerank(self, scores, text, image, k, batch_size, *, rows_are_text):
        """``scores`` with each row's top k replaced by the cross-encoder's, above the rest."""
        k = min(k, scores.shape[1])
        top = scores.topk(k, dim=1).indices  # (Q, k)
        rows = torch.arange(len(scores), device=scores.device)[:, None].expand_as(top)
        q, c = rows.flatten(), top.flatten()
        t_idx, i_idx = (q, c) if rows_are_text else (c, q)
        step = max(1, batch_size)
        match = torch.cat([
            self.grounding.match_scores(self.fusion, text.select(t_idx[a:a + step]),
                                        image.select(i_idx[a:a + step]))
            for a in range(0, len(q), step)])
        out = scores.clone()
        out[q, c] = _ABOVE_COSINE + match.clamp(min=_FLOOR)
        return out


def _cat(mods):
    """One ModalityFeatures from batches' (tokens padded to the longest)."""
    length = max(m.tokens.shape[1] for m in mods)

    def pad(x, value):
        extra = length - x.shape[1]
        if extra == 0:
            return x
        shape = (x.shape[0], extra, *x.shape[2:])
        return torch.cat([x, x.new_full(shape, value)], dim=1)

    first = mods[0]
    return type(first)(first.name, torch.cat([m.vector for m in mods]),
                       torch.cat([pad(m.tokens, 0) for m in mods]),
                       torch.cat([pad(m.mask, False) for m in mods]),
                       torch.cat([m.raw for m in mods]))
