"""tools/quality.py's scikit-learn rows: the sentence-vector rows (logistic regression and CCA
on all-MiniLM-L6-v2 + pixels) are fitted and scored on the very split, rows and features the
pretrained presets train on."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("transformers")

import sklearn.linear_model  # noqa: E402

from fixtures import make_image_folder, tiny_config  # noqa: E402
from workbench.core.data import load_dataset  # noqa: E402
from workbench.tools import quality as Q  # noqa: E402


def test_minilm_rows_use_the_pretrained_presets_split_and_features(tmp_path, monkeypatch):
    cfg = tiny_config(make_image_folder(tmp_path / "shapes", n_per_class=6),
                      "data.test_fraction=0.25")
    fits, scored = [], []

    class Spy(sklearn.linear_model.LogisticRegression):
        def fit(self, X, y):
            fits.append((np.asarray(X.todense() if hasattr(X, "todense") else X), y))
            return super().fit(X, y)

    def retrieval(a, b, ids):
        scored.append(ids.numpy())
        return metrics(a, b, ids)

    metrics = Q.M.retrieval_metrics
    monkeypatch.setattr(sklearn.linear_model, "LogisticRegression", Spy)
    monkeypatch.setattr(Q.M, "retrieval_metrics", retrieval)
    out = Q.sklearn_baselines(cfg, 3)

    # What a MiniLM preset trains on with seed 3: its split and its text features.
    pretrained = cfg.copy()
    pretrained.seed, pretrained.model.text_encoder = 3, "pretrained"
    ds = load_dataset(pretrained)
    split = ds.split
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(out["split"][part], getattr(split, part))
    assert {k for k in out if "all-MiniLM-L6-v2" in k} == {
        "LogisticRegression, all-MiniLM-L6-v2 text",
        "LogisticRegression, all-MiniLM-L6-v2 text + pixels",
        "CCA (PCA 128 -> CCA), all-MiniLM-L6-v2 text -> image"}
    # Every model is fitted on the training rows; the last two rows' models (4 values of C
    # each) on the preset's own sentence vectors, the second beside the pixels.
    assert all(np.array_equal(y, ds.table.labels[split.train]) for _, y in fits)
    vectors = ds.table.text_features[split.train]
    assert vectors.shape[1] == 384
    minilm, both = fits[-8:-4], fits[-4:]
    assert all(np.array_equal(X, vectors) for X, _ in minilm)
    assert all(np.allclose(X[:, :384], vectors) and X.shape[1] > 384 for X, _ in both)
    # Each CCA (TF-IDF's, MiniLM's) is chosen on the validation pairs, scored on the test pairs.
    index = ds.table.image_index
    on_test = [np.array_equal(ids, index[split.test]) for ids in scored]
    assert all(t or np.array_equal(ids, index[split.val]) for t, ids in zip(on_test, scored))
    assert sum(on_test) >= 2
    for name, row in out.items():
        if name.startswith("Logistic"):
            assert 0 <= row["accuracy"] <= 1 and 0 <= row["macro_f1"] <= 1
        elif name.startswith("CCA"):
            assert 0 <= row["t2i_r10"] <= 1 and row["components"] >= 1
