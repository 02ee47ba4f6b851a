"""The matching algorithm: a dual encoder's retrieval, re-ranked by its co-attention
cross-encoder."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fixtures import make_image_folder, tiny_config
from workbench.core.algorithms import valid_fusions
from workbench.core.data import load_dataset
from workbench.core.errors import ConfigError
from workbench.core.evaluation import metrics as M
from workbench.core.evaluation.names import RECALL_KEYS, RERANKED
from workbench.core.evaluation.ranking import first_occurrence, rank_counts
from workbench.core.training import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=8)
    cfg = tiny_config(folder, "algorithm.name=matching", "fusion.name=coattention",
                      "training.epochs=3", "training.batch_size=8", "data.val_fraction=0.5")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds)
    end = trainer.fit()
    assert end.status == "finished", end.reason
    return trainer.model.eval(), ds, end


def test_only_co_attention_fuses_for_matching(folder):
    assert valid_fusions("matching") == ["coattention"]
    with pytest.raises(ConfigError, match="cross-encoder"):
        tiny_config(folder, "algorithm.name=matching", "fusion.name=mean")


def test_both_retrievals_are_reported_with_their_losses(trained):
    _, _, end = trained
    for key in ("itc", "itm", "itm_accuracy", "mean_recall", f"{RERANKED}mean_recall",
                *(f"{RERANKED}{k}" for k in RECALL_KEYS)):
        assert key in end.metrics, key


def _val(model, ds):
    batch = ds.batch(ds.indices("val"))
    with torch.no_grad():
        text, image = model.encode(batch)
    unique, first = first_occurrence(batch.image_ids)
    target = torch.searchsorted(unique, batch.image_ids)
    return text, image.select(first), F.one_hot(target, len(unique)).bool()


def test_re_ranking_every_candidate_ranks_by_the_cross_encoder_alone(trained, monkeypatch):
    model, ds, _ = trained
    text, image, true = _val(model, ds)
    n, m = true.shape
    with torch.no_grad():  # every caption against every distinct image, directly
        t_idx = torch.arange(n).repeat_interleave(m)
        i_idx = torch.arange(m).repeat(n)
        match = model.grounding.match_scores(model.fusion, text.select(t_idx),
                                             image.select(i_idx)).reshape(n, m)
    expected = M.recall_metrics(rank_counts(match, true), rank_counts(match.T, true.T))
    monkeypatch.setattr(model.params, "rerank_k", 100)  # more than there are candidates
    got = model.reranked_metrics(ds, "val", 7)  # batches that split the split
    for key in RECALL_KEYS:
        assert got[f"{RERANKED}{key}"] == pytest.approx(expected[key], abs=1e-6), key


def test_re_ranking_the_top_one_changes_no_recall(trained, monkeypatch):
    model, ds, _ = trained
    plain = model.evaluate(ds, "val", 16)
    monkeypatch.setattr(model.params, "rerank_k", 1)
    reranked = model.reranked_metrics(ds, "val", 16)
    for key in RECALL_KEYS:
        assert reranked[f"{RERANKED}{key}"] == pytest.approx(plain[key], abs=1e-6), key


def test_embedding_draws_nothing_and_gives_the_dual_encoders_vectors(trained):
    model, ds, _ = trained
    batch = ds.batch(ds.indices("val")[:6])
    state = torch.get_rng_state()
    vectors = model.embed(batch)
    assert torch.equal(torch.get_rng_state(), state)  # no negatives or masks were drawn
    _, outs = model.forward_step(batch)
    assert torch.allclose(vectors["text"], outs["text"]) and \
        torch.allclose(vectors["image"], outs["image"])
