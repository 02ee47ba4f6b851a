"""Objectives that a caption's words meet only by looking at the right patches [document 2.1,
2.2, 2.4], as ALBEF (Li et al., 2021) trains its cross-attention.

A classifier that names an emoji's group needs no grounding: the caption alone says it, and
its co-attention stays uniform (normalised entropy 0.99, foreground gain about 0). These
objectives do need it, and are added to an algorithm whose fusion is co-attention:

- image-text matching (ITM): the co-attention fusion reads a caption and an image and a head
  says whether they belong together. A random mismatch is told apart by the caption alone
  ("flag" against "face"), so the negatives are hard ones: each caption's negative image is
  drawn from the batch with probability softmax(similarity) of a contrastive (ITC) embedding
  of the encoders' vectors, trained alongside, and each image's negative caption likewise.
  Pairs that show the same image, images with identical pixels (several emoji render alike
  at 32 px) and identical captions are never negatives: they match.
- masked-word prediction (MLM): one word of each caption is hidden (read as a learned mask
  vector at its position) and predicted from the co-attention's output there, which has
  looked at the image.
- word-patch alignment: the co-attention's own text -> image logits score every caption
  against every image of the batch, each word by the log of its softmax's denominator over
  the patches (log-sum-exp: high when some patch answers the word), averaged over the words
  (FILIP's late interaction, on the attention itself). A symmetric InfoNCE over these scores
  raises the logits of the patches that fit a caption and lowers those of every other image,
  so "look at what does not fit" (what ITM learns on the emoji) cannot score: the gradient
  of log-sum-exp is the attention, and it is rewarded only on the caption's own image.

Nothing here steers where the attention goes (no brightness, foreground mask or sharpness
term): only what these losses need.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.dataset import Batch
from ..models.blocks import masked_mean, mlp
from ..models.features import ModalityFeatures
from .losses import info_nce, info_nce_logits

#: Temperature of the ITC similarity that ranks the negatives: the contrastive preset's fixed
#: one (a learned temperature overfits small data).
ITC_TEMPERATURE = 0.1


class Grounding(nn.Module):
    """ITM (``itm_weight`` > 0), MLM (``mlm_weight`` > 0) and word-patch alignment
    (``align_weight`` > 0) over a co-attention fusion.

    ``hidden_dim``: the encoders' vector size (ITC); ``token_dim``: the fusion's token size
    (ITM and MLM heads); ``fused_dim``: the ITM head's hidden size; ``vocab_size``: the caption
    vocabulary (MLM; None when the captions are not word tokens)."""

    def __init__(self, *, hidden_dim: int, token_dim: int, fused_dim: int,
                 vocab_size: int | None, itm_weight: float, mlm_weight: float,
                 negatives: str = "hard", align_weight: float = 0.0):
        super().__init__()
        self.itm_weight, self.mlm_weight = float(itm_weight), float(mlm_weight)
        self.align_weight = float(align_weight)
        self.hard = negatives == "hard"
        if self.itm_weight > 0:
            self.text_proj = nn.Linear(hidden_dim, hidden_dim)
            self.image_proj = nn.Linear(hidden_dim, hidden_dim)
            # The head reads the caption's words after they attended to the image (as ALBEF
            # reads its text [CLS] after cross-attention), not the fused vector: the image can
            # reach them only through the text -> image attention, so telling pairs apart
            # needs that attention to pick the patches a word is about.
            self.itm_head = mlp([token_dim, fused_dim, 2])
        if self.mlm_weight > 0:
            if not vocab_size:
                raise ValueError("masked-word prediction needs captions as word tokens")
            self.mask_vector = nn.Parameter(torch.randn(token_dim) * 0.02)
            self.mlm_head = nn.Linear(token_dim, vocab_size)
        # Which distinct images have identical pixels, by the dataset's image id (set by
        # prepare; a plain attribute, not a buffer: it belongs to the data, not the model).
        self.content_ids: Tensor | None = None

    @property
    def active(self) -> bool:
        return self.itm_weight > 0 or self.mlm_weight > 0 or self.align_weight > 0

    def prepare(self, dataset) -> None:
        """Number the distinct images by their pixels, so pixel-identical images match."""
        images = getattr(dataset, "images", None)
        self.content_ids = None if images is None else content_ids(images)

    def forward(self, fusion: nn.Module, text_encoder: nn.Module, batch: Batch,
                text: ModalityFeatures, image: ModalityFeatures
                ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Losses (``grounding``: their weighted sum, to add to the algorithm's) and
        per-pair outputs (``itm_accuracy``, ``mlm_accuracy``, ``align_accuracy``) of one
        batch, both modalities present."""
        losses: dict[str, Tensor] = {}
        outs: dict[str, Tensor] = {}
        total = text.vector.new_zeros(())
        # Which pairs fit each other: both matching and alignment need it, once per batch.
        match = (self.matches(batch, text, image)
                 if self.itm_weight > 0 or self.align_weight > 0 else None)
        if self.itm_weight > 0:
            itc, itm, correct = self.matching(fusion, match, text, image)
            losses["itc"], losses["itm"], outs["itm_accuracy"] = itc, itm, correct
            total = total + self.itm_weight * (itc + itm)
        if self.mlm_weight > 0 and batch.tokens is not None:
            mlm, correct = self.masked_words(fusion, text_encoder, batch, image)
            if mlm is not None:
                losses["mlm"], outs["mlm_accuracy"] = mlm, correct
                total = total + self.mlm_weight * mlm
        if self.align_weight > 0:
            align, correct = self.alignment(fusion, match, text, image)
            losses["align"], outs["align_accuracy"] = align, correct
            total = total + self.align_weight * align
        losses["grounding"] = total
        return losses, outs

    # ------------------------------------------------------------------ matching
    def matches(self, batch: Batch, text: ModalityFeatures, image: ModalityFeatures) -> Tensor:
        """(B, B) bool: caption k fits image j (same image, identical pixels, or identical
        captions): never a negative."""
        ids = batch.image_ids if batch.image_ids is not None else batch.index
        ids = ids.to(text.vector.device)
        same = ids[:, None] == ids[None, :]
        if self.content_ids is not None and batch.image_ids is not None:
            content = self.content_ids.to(ids.device)[ids]
            same = same | (content[:, None] == content[None, :])
        else:  # no images in memory (streamed, features): compare what the encoder read
            same = same | equal_rows(image.raw)
        words = batch.tokens if batch.tokens is not None else text.raw
        return same | equal_rows(words.to(ids.device))

    def matching(self, fusion, match, text, image) -> tuple[Tensor, Tensor, Tensor]:
        """ITC loss, ITM loss and each ITM pair's correctness (1/0); ``match`` as
        :meth:`matches`."""
        t = F.normalize(self.text_proj(text.vector), dim=-1)
        i = F.normalize(self.image_proj(image.vector), dim=-1)
        # Positives of the contrastive loss: every pair that fits (the match numbering).
        group = first_match(match)
        t2i, i2t = info_nce(t, i, 1.0 / ITC_TEMPERATURE, group)
        with torch.no_grad():
            similarity = (t @ i.T) / ITC_TEMPERATURE
            if not self.hard:  # every allowed negative alike
                similarity = torch.zeros_like(similarity)
            neg_image, caption_rows = hard_negatives(similarity, match)
            neg_caption, image_rows = hard_negatives(similarity.T, match.T)
        b = len(t)
        text_idx = torch.cat([torch.arange(b, device=t.device), caption_rows, neg_caption])
        image_idx = torch.cat([torch.arange(b, device=t.device), neg_image, image_rows])
        target = torch.cat([torch.ones(b, dtype=torch.long, device=t.device),
                            torch.zeros(len(caption_rows) + len(image_rows), dtype=torch.long,
                                        device=t.device)])
        logits = self._match_logits(fusion, text.select(text_idx), image.select(image_idx))
        itm = F.cross_entropy(logits, target)
        return (t2i + i2t) / 2, itm, (logits.argmax(-1) == target).float().detach()

    def match_scores(self, fusion, text: ModalityFeatures, image: ModalityFeatures) -> Tensor:
        """(B,) log-probability that caption k and image k belong together (ITM head)."""
        logits = self._match_logits(fusion, text.with_presence(None),
                                    image.with_presence(None))
        return torch.log_softmax(logits, dim=-1)[:, 1]

    def _match_logits(self, fusion, text: ModalityFeatures, image: ModalityFeatures) -> Tensor:
        words = fusion([text, image]).states["text"]
        return self.itm_head(masked_mean(words, text.mask.bool()))

    # ------------------------------------------------------------------ alignment
    def alignment(self, fusion, match, text, image) -> tuple[Tensor, Tensor]:
        """InfoNCE over the word-patch alignment scores, and whether each caption's best
        scoring image of the batch fits it (1/0); ``match`` as :meth:`matches`."""
        score = alignment_scores(fusion.pair_logits(text, image), text.mask.bool())
        t2i, i2t = info_nce_logits(score, first_match(match))
        best = score.detach().argmax(1)
        correct = match[torch.arange(len(score), device=score.device), best]
        return (t2i + i2t) / 2, correct.float()

    # ------------------------------------------------------------------ masked words
    def masked_words(self, fusion, text_encoder, batch, image
                     ) -> tuple[Tensor | None, Tensor | None]:
        """MLM loss over the captions that have a word, and each prediction's correctness."""
        mask = batch.mask
        has = mask.any(1)
        if not bool(has.any()):
            return None, None
        # One real word per caption, uniformly: random scores, padding never chosen.
        scores = torch.rand(mask.shape, device=mask.device).masked_fill(~mask, -1.0)
        pos = scores.argmax(1)
        rows = torch.arange(len(mask), device=mask.device)
        where = torch.zeros_like(mask)
        where[rows, pos] = has
        hidden = text_encoder(batch, hidden=(where, self.mask_vector))
        fused = fusion([hidden, image.with_presence(None)])
        states = fused.states["text"][rows[has], pos[has]]
        logits = self.mlm_head(states)
        target = batch.tokens[rows[has], pos[has]]
        loss = F.cross_entropy(logits, target)
        return loss, (logits.argmax(-1) == target).float().detach()


def alignment_scores(logits: Tensor, words: Tensor) -> Tensor:
    """(Bt, Bi) caption x image scores from ``logits`` (Bt, Bi, H, L, P) attention logits
    and ``words`` (Bt, L) True at real words: log-sum-exp over the patches, mean over the
    heads, masked mean over the words."""
    per_word = torch.logsumexp(logits, dim=-1).mean(2)  # (Bt, Bi, L)
    w = words.to(per_word.dtype)[:, None, :]
    # A padded position's logits are finite (its query is a real vector): zero it out
    # rather than multiply, so a -inf from an all-masked image cannot make a NaN.
    per_word = torch.where(w > 0, per_word, torch.zeros_like(per_word))
    return per_word.sum(-1) / w.sum(-1).clamp(min=1.0)


def hard_negatives(similarity: Tensor, match: Tensor) -> tuple[Tensor, Tensor]:
    """For each row that has a non-matching column, one such column drawn with probability
    softmax(similarity) over them (harder negatives more often). Returns (columns, rows)."""
    allowed = ~match
    rows = allowed.any(1).nonzero().flatten()
    if len(rows) == 0:
        empty = similarity.new_zeros(0, dtype=torch.long)
        return empty, empty
    logits = similarity[rows].masked_fill(match[rows], float("-inf"))
    probs = torch.softmax(logits.float(), dim=1)
    # A row whose allowed similarities underflow to zero after the softmax still draws one.
    probs = torch.where(allowed[rows], probs + 1e-12, torch.zeros_like(probs))
    return torch.multinomial(probs, 1).flatten(), rows


def equal_rows(x: Tensor, chunk_bytes: int = 1 << 25) -> Tensor:
    """(N, N) bool: rows of ``x`` (N, ...) that are exactly equal; compared in chunks so a
    large batch of images never builds an N x N x D tensor at once."""
    flat = x.reshape(len(x), -1)
    step = max(1, chunk_bytes // max(1, flat.shape[1] * len(flat)))
    parts = [(flat[a:a + step, None, :] == flat[None, :, :]).all(-1)
             for a in range(0, len(flat), step)]
    return torch.cat(parts) if parts else torch.zeros(0, 0, dtype=torch.bool,
                                                      device=x.device)


def first_match(match: Tensor) -> Tensor:
    """(B,) a group number per row: the first row it matches (itself at the latest), so rows
    that fit each other share positives in the contrastive loss."""
    return match.float().argmax(1)


def content_ids(images: Tensor) -> Tensor:
    """(N,) for N images: the index of the first image with identical pixels."""
    seen: dict[bytes, int] = {}
    out = torch.empty(len(images), dtype=torch.long)
    for k, img in enumerate(images):
        digest = hashlib.blake2b(img.contiguous().numpy().tobytes(), digest_size=16).digest()
        out[k] = seen.setdefault(digest, k)
    return out
