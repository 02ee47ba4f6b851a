"""What guessing scores on a split, and how far a guesser's score spreads.

Every metric shown has its chance level beside it, computed from the split alone (its pool
of candidates, its class balance), never from a model:

- ``accuracy``: the share of the most common class (always guessing it);
- ``macro_f1``: guessing a class uniformly at random, from the expected counts: class k
  with share p_k among C classes has precision p_k and recall 1/C, F1 = 2 p_k/C / (p_k + 1/C),
  averaged over the C classes (every class gets guessed, so every one counts);
- ``R@K``: K / pool for a query with one true candidate, 1 - C(pool - c, K) / C(pool, K)
  with c true ones (:mod:`.ranking` with every score tied), averaged over the queries;
- median ranks: (pool + 1) / (c + 1), the expected rank under a random order;
- ``mean_recall``: the mean of the six R@K.

:func:`chance_spread` is the standard error a guesser's score has on a split this size: a
score within two of them of chance is no evidence of learning (``rules.at_chance``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .metrics import macro_f1, recall_metrics
from .names import DIRECTIONS, MEAN_RECALL, RECALL_AT
from .ranking import RankCounts, first_occurrence, recall_at

# Draws of uniform guesses for the spread of macro-F1 at chance (seeded: the same split
# always gets the same figure).
F1_DRAWS = 200


def classification_chance(labels: Tensor, num_classes: int) -> dict[str, float]:
    """``accuracy`` and ``macro_f1`` of guessing, on a split with these labels."""
    if len(labels) == 0 or num_classes < 1:
        return {}
    share = torch.bincount(labels, minlength=num_classes).double() / len(labels)
    uniform = 1.0 / num_classes
    f1 = 2 * share * uniform / (share + uniform)
    return {"accuracy": float(share.max()), "macro_f1": float(f1.mean())}


def chance_counts(image_ids: Tensor) -> tuple[RankCounts, RankCounts]:
    """The two directions' rank counts with every score tied: text -> image, one query per
    pair among the distinct images; image -> text, one per image among every caption."""
    unique, _ = first_occurrence(image_ids)
    target = torch.searchsorted(unique, image_ids)
    n, m = len(image_ids), len(unique)
    one = torch.ones(n, dtype=torch.long)
    t2i = RankCounts.chance(torch.full((n,), m, dtype=torch.long), one)
    captions = torch.bincount(target.cpu(), minlength=m)
    i2t = RankCounts.chance(torch.full((m,), n, dtype=torch.long), captions)
    return t2i, i2t


def retrieval_chance(image_ids: Tensor) -> dict[str, float]:
    """Every retrieval metric's chance level on a split whose pairs show ``image_ids``."""
    if len(image_ids) == 0:
        return {}
    return recall_metrics(*chance_counts(image_ids))


def split_chance(*, labels: Tensor | None = None, num_classes: int = 0,
                 image_ids: Tensor | None = None) -> dict[str, float]:
    """The chance levels of whatever a split can be scored on."""
    out: dict[str, float] = {}
    if labels is not None:
        out.update(classification_chance(labels.cpu(), num_classes))
    if image_ids is not None:
        out.update(retrieval_chance(image_ids.cpu()))
    return out


def chance_spread(metric: str, *, labels: Tensor | None = None, num_classes: int = 0,
                  image_ids: Tensor | None = None) -> float | None:
    """The standard error of ``metric`` for a guesser on this split (None when the split
    cannot be scored on it): the noise a score must rise above to mean something."""
    if metric == "accuracy" and labels is not None and len(labels):
        p = classification_chance(labels.cpu(), num_classes)["accuracy"]
        return math.sqrt(p * (1 - p) / len(labels))
    if metric == "macro_f1" and labels is not None and len(labels):
        return _macro_f1_spread(labels.cpu(), num_classes)
    if image_ids is None or len(image_ids) == 0:
        return None
    counts = dict(zip(DIRECTIONS, chance_counts(image_ids.cpu())))
    if metric == MEAN_RECALL:
        # mean_recall = (mean over captions + mean over images) / 2 of each query's mean hit
        # over the K's; per query the hits are nested (a hit at 1 is one at 5 and 10). The
        # two directions read one similarity matrix, so their errors go together: adding
        # the two standard errors (their correlation taken as 1) is the bound that holds.
        return float(sum(math.sqrt(float(_mean_hit_variance(c).sum())) / len(c)
                         for c in counts.values()) / 2)
    for name, c in counts.items():
        for k in RECALL_AT:
            if metric == f"{name}_r{k}":
                p = recall_at(c, k)
                return float(math.sqrt(float((p * (1 - p)).sum())) / len(c))
    return None


def _mean_hit_variance(counts: RankCounts) -> Tensor:
    """Per query, the variance of (1/|K|) sum_K [hit at K] for a guesser: with nested hits,
    E[hit_j hit_k] = P(hit at min(j, k))."""
    p = {k: recall_at(counts, k) for k in RECALL_AT}
    n = len(RECALL_AT)
    mean = sum(p.values()) / n
    square = sum(p[min(j, k)] for j in RECALL_AT for k in RECALL_AT) / n ** 2
    return square - mean ** 2


def _macro_f1_spread(labels: Tensor, num_classes: int) -> float:
    generator = torch.Generator().manual_seed(0)
    scores = [macro_f1(torch.randint(num_classes, labels.shape, generator=generator), labels,
                       num_classes) for _ in range(F1_DRAWS)]
    return float(torch.tensor(scores, dtype=torch.float64).std())

