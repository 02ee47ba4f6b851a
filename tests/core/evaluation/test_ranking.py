"""Retrieval ranks with ties: every figure against a hand computation or an enumeration of
every tie order."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
import torch

from workbench.core.evaluation import metrics as M
from workbench.core.evaluation.chance import retrieval_chance
from workbench.core.evaluation.ranking import (RankCounts, expected_rank, rank_counts,
                                               recall_at, retrieval_counts)


def test_identical_vectors_score_exactly_chance():
    n = 100
    same = torch.ones(n, 8)
    m = M.retrieval_metrics(same, same, torch.arange(n))
    for k in M.RECALL_AT:
        assert m[f"t2i_r{k}"] == pytest.approx(k / n)
        assert m[f"i2t_r{k}"] == pytest.approx(k / n)
    assert m["t2i_median_rank"] == pytest.approx((n + 1) / 2)
    assert m["i2t_median_rank"] == pytest.approx((n + 1) / 2)
    assert m == pytest.approx(retrieval_chance(torch.arange(n)))


def test_all_zero_vectors_score_exactly_chance():
    n = 40
    zero = torch.zeros(n, 5)
    m = M.retrieval_metrics(zero, zero, torch.arange(n))
    assert m["t2i_r1"] == pytest.approx(1 / n)
    assert m["i2t_r10"] == pytest.approx(10 / n)
    assert m["t2i_median_rank"] == pytest.approx((n + 1) / 2)


def test_hand_made_ties():
    # Three images on two axes: images 0 and 1 are identical, image 2 is orthogonal.
    image = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0],   # ties its image 0 with image 1: rank 1 or 2
                         [0.0, 1.0],   # image 2 above its image 1, then the 0/1 tie
                         [0.0, 1.0]])  # its image 2 alone on top
    t2i, i2t = retrieval_counts(text, image, torch.arange(3))
    assert t2i.higher.tolist() == [0, 1, 0]
    assert t2i.tied.tolist() == [2, 2, 1]
    assert expected_rank(t2i).tolist() == [1.5, 2.5, 1.0]
    # R@1: 1/2 + 0 + 1; R@2: 1 + 1/2 + 1
    assert recall_at(t2i, 1).tolist() == [0.5, 0.0, 1.0]
    assert recall_at(t2i, 2).tolist() == [1.0, 0.5, 1.0]
    m = M.retrieval_metrics(text, image, torch.arange(3))
    assert m["t2i_r1"] == pytest.approx(1.5 / 3)
    assert m["t2i_median_rank"] == pytest.approx(1.5)
    # image -> text: image 0 scores captions [1, 0, 0]: its caption 0 alone on top;
    # image 1 the same scores, its caption 1 at 0 tied with caption 2 below caption 0;
    # image 2 scores [0, 1, 1]: caption 2 tied with caption 1.
    assert i2t.higher.tolist() == [0, 1, 0]
    assert i2t.tied.tolist() == [1, 2, 2]
    assert expected_rank(i2t).tolist() == [1.0, 2.5, 1.5]


def _enumerate(scores: list[Fraction], true: list[bool], k: int) -> tuple[Fraction, Fraction]:
    """P(best true rank <= k) and E[best true rank] over every order of the tied scores."""
    n = len(scores)
    hits, total, rank_sum = 0, 0, 0
    for perm in itertools.permutations(range(n)):
        # a random tie-break: sort by score (descending), ties in the order of perm
        order = sorted(range(n), key=lambda i: (-scores[i], perm.index(i)))
        rank = 1 + min(pos for pos, i in enumerate(order) if true[i])
        hits += rank <= k
        rank_sum += rank
        total += 1
    return Fraction(hits, total), Fraction(rank_sum, total)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_multi_caption_image_to_text_with_ties_against_every_order(k):
    # One image and seven captions, scored by small integers (exact): one caption above
    # everything, then four tied at the image's best score, two of them its own, then its
    # third caption lower down.
    scores = torch.tensor([[3.0, 2.0, 2.0, 2.0, 2.0, 0.0, 1.0]])
    own = torch.tensor([[False, True, False, True, False, False, True]])
    counts = rank_counts(scores, own)
    assert (int(counts.higher), int(counts.tied), int(counts.true_tied)) == (1, 4, 2)
    p, rank = _enumerate([Fraction(int(s)) for s in scores[0]], own[0].tolist(), k)
    assert float(recall_at(counts, k)) == pytest.approx(float(p), abs=1e-12)
    assert float(expected_rank(counts)) == pytest.approx(float(rank), abs=1e-12)


def test_formula_by_hand_for_several_true_in_a_tie():
    # h = 2, n = 5, c = 2: P(rank <= 4) = 1 - C(3, 2) / C(5, 2) = 1 - 3/10
    c = RankCounts(*(torch.tensor([v]) for v in (2, 5, 2, 9, 2)))
    assert float(recall_at(c, 4)) == pytest.approx(0.7)
    assert float(recall_at(c, 2)) == 0.0  # no tied place left within 2
    assert float(recall_at(c, 7)) == 1.0  # the whole tied block within 7
    assert float(expected_rank(c)) == pytest.approx(2 + 6 / 3)


def _full_matrix_counts(text, image, ids):
    """The same counts from the whole similarity matrix at once, for comparison."""
    unique, inverse = torch.unique(ids, return_inverse=True)
    first = torch.tensor([int((inverse == j).nonzero()[0]) for j in range(len(unique))])
    t = torch.nn.functional.normalize(text, dim=-1)
    g = torch.nn.functional.normalize(image[first], dim=-1)
    sim = t @ g.T
    t2i = rank_counts(sim, torch.nn.functional.one_hot(inverse, len(unique)).bool())
    i2t = rank_counts(sim.T, torch.nn.functional.one_hot(inverse, len(unique)).bool().T)
    return t2i, i2t


@pytest.mark.parametrize("block", [1, 3, 7, 1000])
def test_blocked_counts_equal_the_full_matrix_with_planted_ties(block):
    g = torch.Generator().manual_seed(0)
    # Small integers: every score is exact, so both computations see the same ties.
    image = torch.randint(-2, 3, (30, 4), generator=g).float()
    image[5] = image[4]  # duplicate images: their captions tie
    image[12] = image[4]
    ids = torch.arange(30)
    ids[20:24] = torch.tensor([3, 3, 7, 7])  # several captions per image
    image[20:22] = image[3]
    image[22:24] = image[7]
    text = torch.randint(-2, 3, (30, 4), generator=g).float()
    text[8] = 0.0  # a zero caption ties with everything
    text[9] = text[10]
    blocked = retrieval_counts(text, image, ids, block=block)
    full = _full_matrix_counts(text, image, ids)
    for b, f in zip(blocked, full):
        assert b.higher.tolist() == f.higher.tolist()
        assert b.tied.tolist() == f.tied.tolist()
        assert b.true_tied.tolist() == f.true_tied.tolist()
        assert b.true_total.tolist() == f.true_total.tolist()
    assert blocked[0].tied.max() > 1 and blocked[1].tied.max() > 1  # ties were planted


def test_chance_of_multi_caption_images():
    # 2 images, 3 captions: image 0 has two. i2t chance R@1: image 0 -> 2/3, image 1 -> 1/3.
    chance = retrieval_chance(torch.tensor([0, 0, 1]))
    assert chance["i2t_r1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert chance["t2i_r1"] == pytest.approx(1 / 2)
    # median of (3 + 1) / (2 + 1) and (3 + 1) / 2
    assert chance["i2t_median_rank"] == pytest.approx((4 / 3 + 2) / 2)
    assert chance["mean_recall"] == pytest.approx(sum(chance[k] for k in M.RECALL_KEYS) / 6)


def test_perfect_retrieval():
    torch.manual_seed(0)
    x = torch.randn(50, 16)
    m = M.retrieval_metrics(x, x, torch.arange(50))
    assert m["t2i_r1"] == 1.0 and m["i2t_r1"] == 1.0
    assert m["mean_recall"] == 1.0
    assert m["t2i_median_rank"] == 1.0


def test_recall_never_exceeds_one_nor_falls_below_zero():
    c = RankCounts(*(torch.tensor(v) for v in ([0, 3, 12], [4, 1, 2], [4, 1, 1], [20, 20, 20],
                                                [4, 1, 1])))
    for k in (1, 5, 10):
        r = recall_at(c, k)
        assert ((r >= 0) & (r <= 1)).all()
    assert recall_at(c, 10)[2] == 0.0  # 12 above it
    assert math.isclose(float(recall_at(c, 1)[0]), 1.0)  # every tied place is true
