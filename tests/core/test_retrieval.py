"""Cross-modal retrieval: planted pairs ranked first, unknown words reported, checkpoints
giving the live model's vectors, refusals where text and image share no space."""

from __future__ import annotations

import pytest
import torch

from fixtures import make_image_folder, make_npz, planted_index, resave_checkpoint, tiny_config
from workbench.core import config as C
from workbench.core.data import load_dataset, load_pairs
from workbench.core.data.text import tokenize
from workbench.core.evaluation.retrieval import (DataMismatch, Results, RetrievalError,
                                                 RetrievalIndex)
from workbench.core.evaluation.saved_model import run_dataset
from workbench.core.training import Trainer, build_algorithm
from workbench.core.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

PLANTED = "a blue circle number 3"  # a caption of the fixture (blue_circle_3.png)


def _train(folder, run_dir, *overrides):
    cfg = tiny_config(folder, *overrides)
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds, run_dir=run_dir)
    end = trainer.fit()
    assert end.status == "finished", end.reason
    return trainer, ds


@pytest.fixture(scope="module")
def contrastive(folder, tmp_path_factory):
    """A contrastive model trained until colours and shapes are told apart."""
    run = tmp_path_factory.mktemp("runs") / "contrastive"
    trainer, ds = _train(folder, run, "algorithm.name=contrastive", "training.epochs=20")
    return trainer, ds, run


@pytest.fixture(scope="module")
def index(contrastive):
    trainer, ds, _ = contrastive
    return RetrievalIndex(trainer.model, ds)


@pytest.fixture(scope="module")
def graph(folder, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "graph"
    trainer, ds = _train(folder, run, "algorithm.name=graph", "fusion.name=mean",
                         "training.epochs=3")
    return trainer, ds, run


def _row_of(table, caption: str) -> int:
    return table.captions.index(caption)


# -- typed captions -------------------------------------------------------------------------
def test_planted_caption_returns_its_image_first(index):
    """The planted image's vector is the model's own vector of the typed query: the real
    tokenise -> embed -> score -> rank path must put it first."""
    planted = planted_index(index)
    row = _row_of(index.table, PLANTED)
    image = int(index.image_of_pair[row])
    query = "Blue circle, number 3!"
    vector = planted.query_vector(index.dataset.vocab.encode(tokenize(query)))
    planted.image_vectors[image] = vector
    result = planted.search_text(query, k=5)
    assert isinstance(result, Results) and len(result) == 5
    top = result[0]
    assert (top.kind, top.image, top.rows) == ("image", image, (row,))
    assert top.caption == PLANTED and top.label == "blue"
    assert top.split == index.split_of(row)
    assert top.score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in result] == sorted((h.score for h in result), reverse=True)
    assert result.words == ["blue", "circle", "number", "3"] and result.unknown == []


def test_trained_model_finds_the_colour_and_shape(index):
    """No planting: the trained model's first image for "red square" is a red square."""
    result = index.search_text("red square", k=3)
    assert result[0].label == "red" and "square" in result[0].caption, result.hits


def test_query_vector_is_the_captions_own_vector(index):
    """A typed caption is embedded exactly as the same caption in its own pair is: its vector
    does not depend on the image it rides with."""
    for row in (0, 7, 23):
        ids = index.dataset.tokens[row, : int(index.dataset.lengths[row])].tolist()
        assert torch.allclose(index.query_vector(ids), index.text_vectors[row], atol=1e-5)
    assert index.text_query_problem is None


def test_unknown_words_are_reported(index):
    result = index.search_text("a purple square", k=4)
    assert result.unknown == ["purple"] and len(result) == 4 and result.reason is None
    none_known = index.search_text("Purple zebra", k=4)
    assert len(none_known) == 0 and none_known.unknown == ["purple", "zebra"]
    assert "purple, zebra" in none_known.reason and "vocabulary" in none_known.reason
    empty = index.search_text("  ?! ", k=4)
    assert len(empty) == 0 and "no words" in empty.reason


def test_words_past_the_caption_length_are_dropped(index):
    max_tokens = index.dataset.max_tokens
    result = index.search_text(" ".join(["red"] * max_tokens + ["circle", "blue"]), k=2)
    assert result.dropped == ["circle", "blue"] and len(result.words) == max_tokens
    assert len(result) == 2


def test_search_within_one_split(index):
    result = index.search_text("green circle", k=50, split="val")
    assert len(result) == len(index.dataset.indices("val"))  # every val image, no more
    assert {h.split for h in result} == {"val"}


# -- images and the dataset's own captions --------------------------------------------------------
def test_search_image_lists_its_own_caption_first_on_planted_vectors(index):
    planted = planted_index(index)
    row = _row_of(index.table, PLANTED)
    image = int(index.image_of_pair[row])
    planted.text_vectors[row] = planted.image_vectors[image]
    result = planted.search_image(image, k=3)
    assert result[0].kind == "caption" and result[0].rows == (row,)
    assert result[0].caption == PLANTED and result[0].image == image
    assert result.true_rank == 1 and result.query == PLANTED


def test_search_caption_ranks_its_image(index):
    planted = planted_index(index)
    row = _row_of(index.table, PLANTED)
    image = int(index.image_of_pair[row])
    planted.image_vectors[image] = planted.text_vectors[row]
    result = planted.search_caption(row, k=3)
    assert result[0].image == image and result.true_rank == 1
    with pytest.raises(IndexError):
        planted.search_image(index.num_images, k=3)


# -- checkpoints ---------------------------------------------------------------------------------
def test_checkpoint_gives_the_live_models_vectors_and_recalls(contrastive, index):
    trainer, _, run = contrastive
    loaded = RetrievalIndex.from_checkpoint(run / "checkpoints" / "last.pt")
    assert torch.allclose(loaded.text_vectors, index.text_vectors, atol=1e-5)
    assert torch.allclose(loaded.image_vectors, index.image_vectors, atol=1e-5)
    assert loaded.about["run"] == run.name and loaded.about["epoch"] == 20
    assert (loaded.about["algorithm"], loaded.about["fusion"]) == ("contrastive", "mean")
    recall = loaded.recall_table("val")
    for key in ("t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r10", "t2i_median_rank",
                "i2t_median_rank", "mean_recall"):
        assert recall[key] == pytest.approx(trainer.last_val[key]), key
    assert recall["pairs"] == len(index.dataset.indices("val"))
    assert recall["chance_t2i_r1"] == pytest.approx(1 / recall["images"])
    assert index.recall_table("test") == {}  # the tiny config has no test split


def test_checkpoint_uses_the_runs_vocabulary_not_a_rebuilt_one(contrastive, tmp_path):
    """Token ids must be the ones the weights were trained with: a checkpoint whose vocabulary
    is ordered differently from one rebuilt from the data is used as saved."""
    _, ds, run = contrastive
    vocab = load_checkpoint(run / "checkpoints" / "last.pt")["vocab"]
    shuffled = vocab["words"][:2] + vocab["words"][2:][::-1]
    path = resave_checkpoint(run / "checkpoints" / "last.pt", tmp_path / "last.pt",
                             vocab={"words": shuffled, "counts": vocab["counts"]}, epoch=1,
                             step=1)
    loaded = RetrievalIndex.from_checkpoint(path)
    assert loaded.dataset.vocab.words == shuffled != ds.vocab.words
    row = 5
    assert loaded.dataset.vocab.decode(loaded.dataset.tokens[row].tolist()) == \
        ds.table.tokens[row]


def test_a_checkpoint_whose_weights_do_not_fit_the_model_is_refused_by_name(contrastive,
                                                                           tmp_path):
    """Weights from a workbench whose model for the configuration differed: the message names
    the file and what differs, not torch's list of every key."""
    _, _, run = contrastive

    def rename_and_resize(state):
        key = sorted(state)[0]
        state["an_old_layer.weight"] = state.pop(key)
        other = sorted(state)[-1]
        state[other] = torch.zeros(3, 3)
        rename_and_resize.names = (key, other)

    path = resave_checkpoint(run / "checkpoints" / "last.pt", tmp_path / "old.pt",
                             rename_and_resize)
    with pytest.raises(CheckpointError) as info:
        RetrievalIndex.from_checkpoint(path)
    message = str(info.value)
    missing, resized = rename_and_resize.names
    assert message.startswith(f"{path}: its weights do not fit the model")
    assert f"missing: {missing}" in message
    assert "not in this model: an_old_layer.weight" in message
    assert f"other shapes: {resized} (3, 3) where the model has" in message


def test_checkpoint_with_the_sessions_table(contrastive, folder, tmp_path):
    trainer, ds, run = contrastive
    cfg = trainer.cfg
    # the session may hold the images at another size: they are fitted to the run's
    table = load_pairs(cfg.data, 32)
    loaded = RetrievalIndex.from_checkpoint(run / "checkpoints" / "last.pt", table)
    assert loaded.table.images.shape[-1] == cfg.preprocess.image_size
    assert loaded.dataset.split.val.tolist() == ds.split.val.tolist()
    other = make_image_folder(tmp_path / "other", n_per_class=2)
    other_table = load_pairs(tiny_config(other).data, 16)
    with pytest.raises(DataMismatch, match="not the data this run was trained on"):
        RetrievalIndex.from_checkpoint(run / "checkpoints" / "last.pt", other_table)


def test_run_dataset_splits_as_training_did(contrastive):
    trainer, ds, _ = contrastive
    rebuilt = run_dataset(trainer.cfg, ds.table, ds.vocab)
    for split in ("train", "val", "test"):
        assert torch.equal(rebuilt.indices(split), ds.indices(split))
    assert torch.equal(rebuilt.tokens, ds.tokens)


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides, words", [
    (["algorithm.name=classifier", "fusion.name=attention"], "classifier"),
    (["algorithm.name=adversarial", "algorithm.params.mode=generate"], "adversarial generation"),
])
def test_models_without_a_shared_space_are_refused(folder, tmp_path, monkeypatch, overrides,
                                                   words):
    cfg = tiny_config(folder, *overrides)
    ds = load_dataset(cfg)
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    with pytest.raises(RetrievalError, match=words) as info:
        RetrievalIndex(model, ds)
    assert "unavailable" in str(info.value) and "one space" in str(info.value)
    path = save_checkpoint(tmp_path / "last.pt", model_state=model.state_dict(), optim_state={},
                           epoch=0, step=0, config=C.to_dict(cfg), info=ds.info().to_dict(),
                           vocab=ds.vocab.to_dict(), rng={})

    def no_loading(*args, **kwargs):
        raise AssertionError("data loaded before refusing")

    monkeypatch.setattr("workbench.core.evaluation.saved_model.load_pairs", no_loading)
    with pytest.raises(RetrievalError, match=words):
        RetrievalIndex.from_checkpoint(path)


def test_graph_searches_its_own_pairs_but_not_typed_captions(graph):
    trainer, ds, run = graph
    index = RetrievalIndex(trainer.model, ds)
    assert "not a node of the graph" in index.text_query_problem
    with pytest.raises(RetrievalError, match="not a node of the graph"):
        index.search_text("a red square", k=3)
    result = index.search_image(0, k=5)
    assert len(result) == 5 and all(h.kind == "caption" for h in result)
    assert result.true_rank is not None and result.true_rank >= 1
    assert len(index.search_caption(3, k=4)) == 4
    recall = index.recall_table("val")
    assert recall["t2i_r10"] == pytest.approx(trainer.last_val["t2i_r10"])
    assert recall["i2t_median_rank"] == pytest.approx(trainer.last_val["i2t_median_rank"])
    # its graph is not in the checkpoint: from_checkpoint rebuilds it, to the same vectors
    loaded = RetrievalIndex.from_checkpoint(run / "checkpoints" / "last.pt")
    assert torch.allclose(loaded.text_vectors, index.text_vectors, atol=1e-5)
    assert torch.allclose(loaded.image_vectors, index.image_vectors, atol=1e-5)


def test_feature_data_searches_images_not_typed_captions(tmp_path):
    cfg = tiny_config(make_npz(tmp_path / "f.npz"), "algorithm.name=contrastive")
    ds = load_dataset(cfg)
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    index = RetrievalIndex(model, ds)
    assert "feature vectors" in index.text_query_problem
    assert index.num_images == len(ds)  # one image vector per pair
    assert len(index.search_image(2, k=3)) == 3


def test_caption_vectors_that_depend_on_the_image_refuse_typed_queries(folder, monkeypatch):
    cfg = tiny_config(folder, "algorithm.name=contrastive")
    ds = load_dataset(cfg)
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    embed = model.embed

    def leaky(batch):
        out = embed(batch)
        return {**out, "text": out["text"] + out["image"]}

    monkeypatch.setattr(model, "embed", leaky)
    index = RetrievalIndex(model, ds)
    assert "depend on the image" in index.text_query_problem
    assert len(index.search_image(0, k=2)) == 2
