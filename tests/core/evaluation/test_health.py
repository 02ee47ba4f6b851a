"""Collapse figures against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.core.evaluation.health import (centred_cosine, collapse_warning,
                                              effective_rank, space_health)


def test_effective_rank_by_hand():
    # centred rows (+-a, 0) and (0, +-b): singular values 2a/sqrt2... take a = b: equal
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert effective_rank(x) == pytest.approx(2.0)
    # one direction only: rank 1
    line = np.outer(np.arange(10.0), [1.0, 2.0, 3.0])
    assert effective_rank(line) == pytest.approx(1.0)
    # singular values 3 and 1 -> p = 3/4, 1/4
    y = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert effective_rank(y) == pytest.approx(math.exp(h))


def test_centred_cosine_by_hand():
    # three points; centred: (-1, -1), (2, -1)... compute directly
    x = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    c = x - x.mean(0)
    u = c / np.linalg.norm(c, axis=1, keepdims=True)
    pairs = [u[i] @ u[j] for i in range(3) for j in range(3) if i != j]
    assert centred_cosine(x) == pytest.approx(np.mean(pairs))


def test_a_shared_offset_is_not_collapse():
    rng = np.random.default_rng(0)
    x = 100.0 + rng.normal(size=(200, 16))  # raw cosines near 1
    raw = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert (raw @ raw.T).mean() > 0.99
    health = space_health({"text": x})
    assert health["text"]["centred_cosine"] < 0.1
    assert health["text"]["effective_rank"] > 10
    assert collapse_warning(health) is None


def test_collapse_is_named():
    rng = np.random.default_rng(0)
    line = np.outer(rng.normal(size=100), rng.normal(size=8)) + 1e-6 * rng.normal(size=(100, 8))
    cluster = np.zeros((100, 8))
    cluster[:3] = 10.0 * rng.normal(size=(3, 8))  # all but three in one place
    health = space_health({"text": line, "image": cluster})
    assert health["text"]["effective_rank"] < 2
    assert health["image"]["centred_cosine"] > 0.9
    warning = collapse_warning(health)
    assert "text" in warning and "image" in warning and "collapsed" in warning


def test_identical_vectors_have_rank_one():
    assert effective_rank(np.ones((5, 3))) == 1.0
