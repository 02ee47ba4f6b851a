"""Deterministic train / validation / test splits, stratified by label when there is one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    #: labels with a single example (a single group): kept in training, never scored
    single: tuple[int, ...] = ()

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def split_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """How many go to validation and test: rounded, never emptying the training split, and
    at least one each once there are enough pairs for every split to get one."""
    n_val, n_test = round(n * val_fraction), round(n * test_fraction)
    if n >= 3:
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
    while n_val + n_test >= n and n_val + n_test > 0:
        if n_test >= n_val and n_test > 0:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int, *,
                  labels: np.ndarray | None = None, groups: np.ndarray | None = None) -> Split:
    """Split ``range(n)``.

    With ``labels`` each class is spread evenly: every item gets the key
    ``(rank within its class + u) / class size`` (u uniform in [0, 1)), and items sorted by
    that key interleave the classes, so any prefix holds each class in proportion. Test takes
    the first items, validation the next, training the rest; but the last-ranked item of
    every class is kept for training, so a class is never held out entirely (a model cannot
    learn a class it never saw, and its score would say nothing). A class with one item is
    then in training only (listed in ``Split.single``). With ``groups`` (e.g. several
    captions of one image) whole groups are split, so no image is in two splits.
    """
    rng = np.random.default_rng(seed)
    if groups is not None:
        unique, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
        group_labels = None if labels is None else labels[first]
        g = split_indices(len(unique), val_fraction, test_fraction, seed, labels=group_labels)
        by_group = np.argsort(inverse, kind="stable")
        member = np.split(by_group, np.cumsum(np.bincount(inverse))[:-1])
        expand = (lambda ks: np.sort(np.concatenate([member[k] for k in ks]))
                  if len(ks) else np.zeros(0, dtype=np.int64))
        return Split(expand(g.train), expand(g.val), expand(g.test), g.single)
    order = rng.permutation(n)
    kept = np.zeros(0, dtype=np.int64)  # one item per class, for training whatever the key
    single: tuple[int, ...] = ()
    if labels is not None and n:
        key = np.empty(n, dtype=np.float64)
        jitter = rng.random(n)
        shuffled = labels[order]
        last = []
        for cls in np.unique(labels):
            members = order[shuffled == cls]
            key[members] = (np.arange(len(members)) + jitter[members]) / len(members)
            last.append(members[-1])  # the highest key: the one training would keep anyway
            if len(members) == 1:
                single += (int(cls),)
        order = order[np.argsort(key[order], kind="stable")]
        kept = np.array(last, dtype=np.int64)
        order = order[~np.isin(order, kept)]
    n_val, n_test = split_counts(n, val_fraction, test_fraction)
    # Held out from what is left once each class has its training item (never emptying it).
    n_test = min(n_test, len(order))
    n_val = min(n_val, len(order) - n_test)
    test, val = order[:n_test], order[n_test:n_test + n_val]
    train = np.concatenate([order[n_test + n_val:], kept])
    return Split(np.sort(train).astype(np.int64), np.sort(val).astype(np.int64),
                 np.sort(test).astype(np.int64), single)
