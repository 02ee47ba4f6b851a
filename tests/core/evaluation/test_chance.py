"""Chance levels and their spread, against hand computations and simulation."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.core.evaluation import metrics as M
from workbench.core.evaluation.chance import (chance_spread, classification_chance,
                                              retrieval_chance, split_chance)
from workbench.core.evaluation.rules import at_chance


def test_classification_chance_by_hand():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])  # shares 1/2, 1/4, 1/4; 4 classes
    chance = classification_chance(labels, 4)
    assert chance["accuracy"] == pytest.approx(0.5)
    u = 1 / 4
    f1 = [2 * p * u / (p + u) for p in (0.5, 0.25, 0.25, 0.0)]
    assert chance["macro_f1"] == pytest.approx(sum(f1) / 4)


def test_uniform_guessing_scores_about_the_chance_macro_f1():
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 5, (4000,), generator=g)
    labels[:1500] = 0  # imbalanced
    guesses = [M.macro_f1(torch.randint(0, 5, labels.shape, generator=g), labels, 5)
               for _ in range(50)]
    assert sum(guesses) / len(guesses) == pytest.approx(
        classification_chance(labels, 5)["macro_f1"], abs=0.01)


def test_majority_class_predictor_is_at_chance_on_both_metrics():
    labels = torch.tensor([0] * 44 + [1] * 20 + [2] * 20 + [3] * 16)
    logits = torch.nn.functional.one_hot(torch.zeros(100, dtype=torch.long), 4).float()
    scores = M.classification_metrics(logits, labels, 4)
    chance = classification_chance(labels, 4)
    assert scores["accuracy"] == pytest.approx(chance["accuracy"])
    for metric in ("accuracy", "macro_f1"):
        spread = chance_spread(metric, labels=labels, num_classes=4)
        assert at_chance(scores[metric], chance[metric], spread, metric)


def test_a_good_classifier_is_not_at_chance():
    labels = torch.tensor([0, 1, 2, 3] * 25)
    logits = torch.nn.functional.one_hot(labels, 4).float()
    scores = M.classification_metrics(logits, labels, 4)
    chance = split_chance(labels=labels, num_classes=4)
    spread = chance_spread("macro_f1", labels=labels, num_classes=4)
    assert not at_chance(scores["macro_f1"], chance["macro_f1"], spread)


def test_accuracy_spread_is_the_binomial_standard_error():
    labels = torch.tensor([0] * 30 + [1] * 70)
    assert chance_spread("accuracy", labels=labels, num_classes=2) == \
        pytest.approx(math.sqrt(0.7 * 0.3 / 100))


def test_recall_spread_against_simulated_guessers():
    ids = torch.arange(60)
    spread = chance_spread("mean_recall", image_ids=ids)
    g = torch.Generator().manual_seed(0)
    draws = []
    for _ in range(400):
        text = torch.randn(60, 32, generator=g)
        image = torch.randn(60, 32, generator=g)
        draws.append(M.retrieval_metrics(text, image, ids)["mean_recall"])
    draws = torch.tensor(draws, dtype=torch.float64)
    assert float(draws.mean()) == pytest.approx(retrieval_chance(ids)["mean_recall"], abs=0.01)
    # Random vectors are guessers. Captions' and images' ranks come from one similarity
    # matrix, so the spread takes the two directions as fully correlated: an upper bound,
    # close to what simulated guessers show.
    assert 0.85 * spread <= float(draws.std()) <= spread * 1.05
    p = 10 / 60
    assert chance_spread("t2i_r10", image_ids=ids) == pytest.approx(math.sqrt(p * (1 - p) / 60))


def test_at_chance_for_a_rank_where_lower_is_better():
    assert at_chance(30.0, 30.5, 1.0, "t2i_median_rank")
    assert not at_chance(10.0, 30.5, 1.0, "t2i_median_rank")
    assert not at_chance(None, 1.0, 1.0)
