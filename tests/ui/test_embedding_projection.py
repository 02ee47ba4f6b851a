"""The Embeddings tab's projection cache: computed off the GUI thread, cached by key,
results of an earlier run dropped, failures of the pending request reported."""

from __future__ import annotations

import threading

import numpy as np

from workbench.core.training.events import EmbeddingSnapshot
from workbench.ui.plots.embedding_projection import Projections


def snapshot(epoch: int = 1, n: int = 30, bad: bool = False) -> EmbeddingSnapshot:
    rng = np.random.default_rng(epoch)
    text = rng.normal(size=(n, 8)).astype(np.float32)
    if bad:
        text[0, 0] = np.nan
    image = rng.normal(size=(n, 8)).astype(np.float32)
    return EmbeddingSnapshot(epoch, 10 * epoch, np.arange(n), text, image, None, None, [])


def test_a_request_is_computed_off_the_gui_thread_and_cached(qtbot):
    projections = Projections()
    key = (1, "pca", ("text", "image"))
    assert not projections.ready(key) and projections.points(key) is None
    with qtbot.waitSignal(projections.done, timeout=10_000) as got:
        projections.request(key, snapshot())
    assert got.args == [key] and projections.ready(key)
    points = projections.points(key)
    assert set(points) == {"text", "image"} and points["text"].shape == (30, 2)
    assert {"gap", "alignment"} <= set(projections.stats(1))
    assert projections.last_thread not in (None, threading.get_ident())
    projections.forget_epoch(1)  # a replaced snapshot: its epoch is computed again
    assert not projections.ready(key) and projections.stats(1) == {}


def test_results_of_a_run_before_forget_all_are_dropped(qtbot):
    projections = Projections()
    done = []
    projections.done.connect(done.append)
    key = (1, "pca", ("text",))
    projections.request(key, snapshot())
    projections.forget_all()  # a new run starts while the old projection is running
    assert projections.pending is None
    assert Projections.wait_all(10_000)
    qtbot.wait(100)  # the task's last signals
    assert done == [] and projections.points(key) is None


def test_a_failure_of_the_pending_request_is_reported(qtbot):
    projections = Projections()
    key = (1, "pca", ("text", "image"))
    with qtbot.waitSignal(projections.failed, timeout=10_000) as got:
        projections.request(key, snapshot(bad=True))
    assert got.args[0] == key and "NaN" in got.args[1]
    assert projections.pending is None
