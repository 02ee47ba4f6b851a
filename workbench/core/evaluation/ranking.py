"""Where the true match ranks, with ties counted as random tie-breaking would count them.

A retrieval query (a caption looking for its image, an image looking for its captions) scores
every candidate; its true candidates are the ones that show the same image. What decides the
query's rank is the best-scoring true candidate. Call its score ``s``; of the candidates,

- ``higher`` (h) score strictly more than ``s``,
- ``tied`` (n) score exactly ``s`` (the true candidate itself included), and
- ``true_tied`` (c) of those tied are true (an image with several captions can have more
  than one).

Ranking the tied block in a random order, the best true candidate lands at
``h + (position of the first true one among n)``, so

- P(rank <= K) = 1 - C(n - c, m) / C(n, m), with m = clamp(K - h, 0, n), and
- E[rank] = h + (n + 1) / (c + 1)

(with one true candidate: clamp((K - h) / n, 0, 1) and h + (n + 1) / 2). Counting ties for
the model instead (rank = 1 + h) gives 100 identical vectors R@1 = 1.0. Chance is the same
formula with every score equal (h = 0, n = the pool, c = the true candidates), so a model
that scores everything alike scores exactly chance.

Scores within :data:`TIE_TOLERANCE` of ``s`` count as tied: a cosine computed in float32
carries rounding of about 1e-7 per unit, and two copies of one image (the built-in emoji hold
several pixel-identical images) can come out of a matrix product that far apart.

:func:`retrieval_counts` computes (h, n, c) for every query in blocks of queries, so memory
is O(block x candidates), never the whole similarity matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

TIE_TOLERANCE = 1e-6
# Queries per block: 50,000 captions x 10,000 images in blocks of 1,024 rows hold 40 MB of
# scores at a time instead of 2 GB.
BLOCK = 1024


@dataclass(frozen=True)
class RankCounts:
    """Per query: candidates scoring above the best true one (``higher``), tied with it
    (``tied``, itself included), true ones among the tied (``true_tied``), every candidate
    (``pool``) and every true candidate (``true_total``); all (Q,) int64."""

    higher: Tensor
    tied: Tensor
    true_tied: Tensor
    pool: Tensor
    true_total: Tensor

    def __len__(self) -> int:
        return len(self.higher)

    @classmethod
    def chance(cls, pool: Tensor, true_total: Tensor) -> "RankCounts":
        """What a model that scores every candidate alike gets: one tie over the pool."""
        zero = torch.zeros_like(pool)
        return cls(zero, pool, true_total, pool, true_total)


def recall_at(counts: RankCounts, k: int) -> Tensor:
    """P(the best true candidate ranks within the first ``k``), per query (float64)."""
    h, n, c = (t.double() for t in (counts.higher, counts.tied, counts.true_tied))
    m = (k - h).clamp(min=0)
    m = torch.minimum(m, n)
    # C(n - c, m) / C(n, m) = prod_{j < m} (n - c - j) / (n - j): the chance that none of the
    # first m tied places holds a true candidate. m <= k, so the product has at most k terms.
    miss = torch.ones_like(h)
    for j in range(k):
        factor = ((n - c - j) / (n - j).clamp(min=1)).clamp(min=0.0)
        miss = torch.where(j < m, miss * factor, miss)
    return 1.0 - miss


def expected_rank(counts: RankCounts) -> Tensor:
    """E[rank of the best true candidate] = h + (n + 1) / (c + 1), per query (float64)."""
    h, n, c = (t.double() for t in (counts.higher, counts.tied, counts.true_tied))
    return h + (n + 1) / (c + 1)


def rank_counts(scores: Tensor, true: Tensor) -> RankCounts:
    """Counts of queries given as rows of a score matrix ``scores`` (Q, P) and a 0/1 mask
    ``true`` (Q, P) of their true candidates (at least one per row)."""
    best = scores.masked_fill(~true, -float("inf")).max(1, keepdim=True).values
    above = scores > best + TIE_TOLERANCE
    higher = above.sum(1)
    tied_mask = (scores >= best - TIE_TOLERANCE) & ~above
    tied = tied_mask.sum(1)
    true_tied = (tied_mask & true).sum(1)
    pool = torch.full_like(higher, scores.shape[1])
    return RankCounts(higher, tied, true_tied, pool, true.sum(1))


def first_occurrence(ids: Tensor) -> tuple[Tensor, Tensor]:
    """The distinct values of ``ids`` (sorted) and the first position of each."""
    unique, inverse = torch.unique(ids, sorted=True, return_inverse=True)
    order = torch.arange(len(ids), device=ids.device)
    first = torch.full((len(unique),), len(ids), dtype=torch.long, device=ids.device)
    first = first.scatter_reduce(0, inverse, order, reduce="amin")
    return unique, first


def retrieval_counts(text: Tensor, image: Tensor, image_ids: Tensor, *,
                     block: int = BLOCK) -> tuple[RankCounts, RankCounts]:
    """Rank counts text -> image (one query per caption, among the distinct images) and
    image -> text (one query per distinct image, among every caption; its true candidates
    are all of its captions), by cosine similarity.

    ``text`` (N, D) and ``image`` (N, D) are per pair; ``image_ids`` (N,) says which distinct
    image each pair shows (the image vector of an id's first pair stands for it). Computed
    ``block`` captions at a time: the text -> image counts of a block's rows and the image ->
    text counts accumulated over the blocks' columns.
    """
    if len(image_ids) >= 2**24:  # float32 sums count exactly below 2^24
        raise ValueError(f"{len(image_ids):,} pairs: ranks are counted in float32, exact "
                         "below 2^24 candidates")
    unique, first = first_occurrence(image_ids)
    t = F.normalize(text.float(), dim=-1)
    g = F.normalize(image[first].float(), dim=-1)  # one row per distinct image
    target = torch.searchsorted(unique, image_ids)  # column of each pair's image
    n_images = len(unique)
    device = t.device
    # Each caption's score against its own image, then each image's best caption. The
    # blocks' products round differently from these row products by ~1e-7, well inside the
    # tie tolerance, so a true caption always falls in its image's tied block.
    own = (t * g[target]).sum(1)
    best_true = torch.full((n_images,), -float("inf"), device=device)
    best_true = best_true.scatter_reduce(0, target, own, reduce="amax")
    near_best = own >= best_true[target] - TIE_TOLERANCE
    i2t_true_tied = torch.zeros(n_images, dtype=torch.long, device=device)
    i2t_true_tied.scatter_add_(0, target, near_best.long())
    upper, lower = best_true + TIE_TOLERANCE, best_true - TIE_TOLERANCE
    # Counting: a comparison written as 0/1 floats into one reused buffer, then summed by a
    # matrix-vector product, is 5-10x faster on the CPU than summing a boolean tensor (whose
    # reductions are not vectorised), and float32 counts are exact below 2^24 candidates.
    rows = min(block, len(t))
    sim = t.new_empty(rows, n_images)
    hit = t.new_empty(rows, n_images)
    ones_images = t.new_ones(n_images)
    ones_rows = t.new_ones(rows)
    i2t_higher = t.new_zeros(n_images)
    i2t_at_least = t.new_zeros(n_images)
    t2i_higher, t2i_at_least = [], []
    for start in range(0, len(t), block):
        b = min(block, len(t) - start)
        s, h = sim[:b], hit[:b]
        torch.matmul(t[start:start + b], g.T, out=s)  # (b, M)
        true = s.gather(1, target[start:start + b, None])
        torch.gt(s, true + TIE_TOLERANCE, out=h)
        t2i_higher.append(h @ ones_images)
        torch.ge(s, true - TIE_TOLERANCE, out=h)
        t2i_at_least.append(h @ ones_images)
        torch.gt(s, upper, out=h)
        i2t_higher += ones_rows[:b] @ h
        torch.ge(s, lower, out=h)
        i2t_at_least += ones_rows[:b] @ h
    i2t_higher, i2t_at_least = i2t_higher.round().long(), i2t_at_least.round().long()
    empty = torch.zeros(0, dtype=torch.long, device=device)
    higher = torch.cat(t2i_higher).round().long() if t2i_higher else empty
    at_least = torch.cat(t2i_at_least).round().long() if t2i_at_least else empty
    ones = torch.ones_like(higher)
    t2i = RankCounts(higher, at_least - higher, ones, torch.full_like(higher, n_images), ones)
    # at least the best true caption itself, whatever the rounding of its block's product
    tied = (i2t_at_least - i2t_higher).clamp(min=1)
    captions = torch.bincount(target, minlength=n_images)
    i2t = RankCounts(i2t_higher, tied, torch.minimum(i2t_true_tied, tied).clamp(min=1),
                     torch.full_like(tied, len(t)), captions)
    return t2i, i2t
