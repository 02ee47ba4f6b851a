"""Losses and metrics against values computed by hand on tiny inputs."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.core.evaluation import metrics as M
from workbench.core.algorithms import losses as L


def test_negative_cosine_by_hand():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    # cos = 0 and 1 -> mean 0.5 -> loss -0.5
    assert L.negative_cosine(a, b).item() == pytest.approx(-0.5)


def test_info_nce_by_hand():
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    i = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    scale = 2.0
    t2i, i2t = L.info_nce(t, i, scale)
    s = 1 / math.sqrt(2)
    # similarity matrix (rows text, cols image): [[1, s], [0, s]] * 2
    logits = [[2.0, 2 * s], [0.0, 2 * s]]
    row0 = -(logits[0][0] - math.log(math.exp(logits[0][0]) + math.exp(logits[0][1])))
    row1 = -(logits[1][1] - math.log(math.exp(logits[1][0]) + math.exp(logits[1][1])))
    col0 = -(logits[0][0] - math.log(math.exp(logits[0][0]) + math.exp(logits[1][0])))
    col1 = -(logits[1][1] - math.log(math.exp(logits[0][1]) + math.exp(logits[1][1])))
    assert t2i.item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    assert i2t.item() == pytest.approx((col0 + col1) / 2, rel=1e-6)


def test_info_nce_shared_image_counts_both_captions_as_positives():
    t = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    i = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    ids = torch.tensor([7, 7, 8])  # pairs 0 and 1 show the same image
    target = L.positives(ids, 3, "cpu")
    assert target.tolist() == [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    t2i, _ = L.info_nce(t, i, 10.0, ids)
    logits = 10.0 * t @ i.detach().T
    logp = torch.log_softmax(logits, 1)
    by_hand = -(0.5 * (logp[0, 0] + logp[0, 1]) + 0.5 * (logp[1, 0] + logp[1, 1])
                + logp[2, 2]) / 3
    assert t2i.item() == pytest.approx(by_hand.item(), rel=1e-5)
    # Plain InfoNCE pushes caption 0 away from its image's duplicate; with ids it does not.
    t2i.backward()
    shared = i.grad[1].norm().item()
    i.grad = None
    L.info_nce(t, i, 10.0)[0].backward()
    assert shared < 0.1 * i.grad[1].norm().item()


def test_balanced_bce_weights_present_words_like_absent_ones():
    logits = torch.zeros(1, 4)
    target = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    # pos_weight = 3: (3 * ln2 + 3 * ln2) / 4 elements
    assert L.balanced_bce(logits, target).item() == pytest.approx(6 * math.log(2) / 4)


def test_soft_cca_is_zero_for_identical_decorrelated_views():
    x = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    assert L.soft_cca(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert L.soft_cca(x, -x).item() > 1.0


def test_modality_dropout_never_drops_both():
    g = torch.Generator().manual_seed(0)
    text, image = L.modality_dropout(1000, 0.5, g)
    assert (text | image).all()
    dropped = (~text | ~image).float().mean().item()
    assert 0.4 < dropped < 0.6


def test_classification_metrics_by_hand():
    labels = torch.tensor([0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 0])
    cm = M.confusion_matrix(pred, labels, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    # F1: class 0: p=1/2 r=1/2 -> 0.5; class 1: p=2/3 r=1 -> 0.8; class 2: 0
    assert M.macro_f1(pred, labels, 3) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    logits = torch.nn.functional.one_hot(pred, 3).float()
    assert M.accuracy(logits, labels) == pytest.approx(3 / 5)


def test_retrieval_ranks_planted_pairs():
    torch.manual_seed(0)
    image = torch.randn(20, 8)
    text = image.clone()
    text[3] = -image[3]  # one caption points away from its image
    ids = torch.arange(20)
    t2i, i2t = M.retrieval_ranks(text, image, ids)
    assert t2i[torch.arange(20) != 3].eq(1).all()
    assert t2i[3] == 20  # its own image is the least similar
    m = M.retrieval_metrics(text, image, ids)
    assert m["t2i_r1"] == pytest.approx(19 / 20)
    assert m["t2i_r10"] == pytest.approx(19 / 20)


def test_retrieval_with_shared_images():
    # pairs 0 and 1 show the same image (id 5); caption 1 is the better match for it
    image = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]])
    ids = torch.tensor([5, 5, 9])
    t2i, i2t = M.retrieval_ranks(text, image, ids)
    assert t2i.tolist() == [2, 1, 1]  # caption 0 ranks image 9 above image 5
    assert i2t.tolist() == [1, 1]  # one row per distinct image: best of its captions


def test_median_rank_per_direction():
    image = torch.eye(4)
    text = torch.eye(4)[[0, 1, 3, 2]]  # two swapped
    m = M.retrieval_metrics(text, image, torch.arange(4))
    # text -> image ranks 1, 1, 3, 3: caption 2 scores the swapped image 1 (h = 1) and its
    # own image 0, tied with the other two (n = 3): 1 + (3 + 1) / 2. Median (1 + 3) / 2.
    assert M.retrieval_ranks(text, image, torch.arange(4))[0].tolist() == [1, 1, 3, 3]
    assert m["t2i_median_rank"] == pytest.approx(2.0)
    assert m["i2t_median_rank"] == pytest.approx(2.0)
    assert "median_rank" not in m  # the old pooled median is gone


def test_median_ranks_of_the_two_directions_differ_with_several_captions_per_image():
    # image 0 has three captions, image 1 one; caption 3 (image 1's) ranks image 0 first
    image = torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.1]])
    ids = torch.tensor([0, 0, 0, 1])
    t2i, i2t = M.retrieval_ranks(text, image, ids)
    assert t2i.tolist() == [1, 1, 1, 2]
    # image 1: captions 0-2 score 0, caption 3 scores 0.1/|.|: its own caption first
    assert i2t.tolist() == [1, 1]
    m = M.retrieval_metrics(text, image, ids)
    assert m["t2i_median_rank"] == 1 and m["i2t_median_rank"] == 1
