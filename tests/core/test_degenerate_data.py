"""Data a run cannot train or validate on is refused before training, with the numbers; data
whose scores would say little trains with warnings that name the figures (issue 17, item 16).
"""

from __future__ import annotations

import numpy as np
import pytest

from fixtures import tiny_config
from workbench.core import config as C
from workbench.core.data import load_dataset
from workbench.core.data.split import split_counts
from workbench.core.errors import ConfigError
from workbench.core.training import Trainer
from workbench.core.training.callbacks import Callback
from workbench.core.training.data_checks import minimum_pairs


def features(path, labels, n=None, seed=0):
    """An npz of random feature pairs with these labels (None: ``n`` pairs, no labels)."""
    rng = np.random.default_rng(seed)
    n = len(labels) if labels is not None else n
    arrays = {"text": rng.normal(size=(n, 6)), "image": rng.normal(size=(n, 5))}
    if labels is not None:
        arrays["label"] = np.asarray(labels)
    np.savez(path, **arrays)
    return path


def fit(path, *overrides):
    cfg = tiny_config(path, "training.epochs=1", *overrides)
    started = []

    class Keep(Callback):
        def on_fit_start(self, trainer, event):
            started.append(event)

    end = Trainer(cfg, load_dataset(cfg), callbacks=[Keep()]).fit()
    return end, (started[0] if started else None)


def test_one_pair_is_refused_naming_the_counts_and_how_many_would_do(tmp_path):
    end, started = fit(features(tmp_path / "one.npz", [0]), "algorithm.name=contrastive",
                       "fusion.name=mean")
    assert end.status == "failed" and started is None and end.step == 0
    assert "too little data to train: 1 pair loaded: 1 for training" in end.reason
    assert "load 3 or more" in end.reason  # val_fraction 0.25, test_fraction 0 (tiny_config)


def test_labels_with_one_example_each_leave_nothing_to_validate(tmp_path):
    end, started = fit(features(tmp_path / "unique.npz", np.arange(200)),
                       "algorithm.name=classifier", "fusion.name=late")
    assert end.status == "failed" and started is None
    assert "nothing to validate on: 200 pairs loaded: 200 for training, 0 for validation" \
        in end.reason
    assert "each of the 200 labels has one example" in end.reason


def test_too_few_pairs_to_hold_one_out_says_how_many_would(tmp_path):
    end, _ = fit(features(tmp_path / "two.npz", None, n=2), "algorithm.name=contrastive",
                 "fusion.name=mean", "data.val_fraction=0.1")
    assert end.status == "failed"
    assert "2 pairs are too few to hold one out with data.val_fraction = 0.1; load 3 or more" \
        in end.reason


def test_keep_best_without_a_validation_split_is_refused(tmp_path):
    end, _ = fit(features(tmp_path / "f.npz", np.arange(40) % 2), "data.val_fraction=0",
                 "training.keep_best=true")
    assert end.status == "failed" and "training.keep_best" in end.reason


def test_degenerate_but_trainable_data_trains_and_says_why_its_numbers_are_weak(tmp_path):
    # 24 pairs, 12 labels of 2: 6 validation pairs, a median of 1 training example per label
    end, started = fit(features(tmp_path / "f.npz", np.arange(24) % 12),
                       "algorithm.name=classifier", "fusion.name=late")
    assert end.status == "finished"
    small, few = started.warnings
    assert small.startswith("small held-out split (validation 6 pairs): one pair moves a "
                            "score by up to 0.17")
    assert few.startswith("12 labels over 18 training pairs: a median of 1.5 training "
                          "examples per label")
    assert end.warnings[:2] == started.warnings  # and the run's summary keeps them


def test_no_validation_split_is_a_warning_and_plenty_of_data_none(tmp_path):
    _, started = fit(features(tmp_path / "f.npz", np.arange(40) % 2), "data.val_fraction=0")
    assert started.warnings == ["no validation split (data.val_fraction = 0): no validation "
                                "scores while training, and nothing to stop early on"]
    _, started = fit(features(tmp_path / "g.npz", np.arange(80) % 2))
    assert started.warnings == []


@pytest.mark.parametrize("val, test", [(0.1, 0.1), (0.25, 0.0), (0.0, 0.0), (0.5, 0.3),
                                       (0.0, 0.2), (0.05, 0.05)])
def test_minimum_pairs_is_the_fewest_the_split_can_train_and_validate_on(val, test):
    def enough(n):
        n_val, n_test = split_counts(n, val, test)
        return n - n_val - n_test >= 2 and (n_val >= 1 or val == 0)
    n = minimum_pairs(val, test)
    assert enough(n) and not any(enough(m) for m in range(1, n))


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_an_empty_preset_file_is_refused(tmp_path, text):
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="holds no settings") as err:
        C.load(path)
    assert str(path) in str(err.value)
