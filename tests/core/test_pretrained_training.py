"""Training on a frozen pretrained text model (all-MiniLM-L6-v2 from its package): every
algorithm runs on its cached features, co-attention attends over its word pieces, the cache is
read back without building the model, and a checkpoint reopens with the same vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from fixtures import make_colour_shape_folder, make_image_folder, make_npz, tiny_config  # noqa: E402
from workbench.core.data import load_dataset  # noqa: E402
from workbench.core.errors import ConfigError, DataError  # noqa: E402
from workbench.core.pretrained import cache as CACHE  # noqa: E402
from workbench.core.pretrained import text as TEXT  # noqa: E402
from workbench.core.training import AttentionSnapshot, EventRecorder, Trainer  # noqa: E402

PAIRS = [("contrastive", "mean", ()), ("classifier", "coattention", ()),
         ("autoencoder", "attention", ()), ("graph", "gated", ()),
         ("adversarial", "mean", ("algorithm.params.mode=align",)),
         ("adversarial", "tensor", ()), ("classifier", "early", ())]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=4)


def _cfg(shapes, *overrides):
    return tiny_config(shapes, "model.text_encoder=pretrained", *overrides)


@pytest.mark.parametrize("algorithm, fusion, extra", PAIRS,
                         ids=[f"{a}-{f}" for a, f, _ in PAIRS])
def test_every_algorithm_trains_on_the_pretrained_features(shapes, algorithm, fusion, extra):
    cfg = _cfg(shapes, f"algorithm.name={algorithm}", f"fusion.name={fusion}", *extra,
               "training.epochs=2")
    ds = load_dataset(cfg)
    info = ds.info()
    assert info.vocab_size == 0 and info.text_dim == 384 and info.text_states == 26
    end = Trainer(cfg, ds).fit()
    assert end.status == "finished", end.reason
    assert all(np.isfinite(v) for v in end.metrics.values())


def test_co_attention_reads_word_pieces_and_image_patches(shapes):
    cfg = _cfg(shapes, "algorithm.name=classifier", "fusion.name=coattention")
    rec = EventRecorder()
    Trainer(cfg, load_dataset(cfg), callbacks=[rec]).fit()
    snap = rec.of(AttentionSnapshot)[-1]
    probe = snap.probes[0]
    assert probe.tokens[0] == "[CLS]" and probe.tokens[-1] == "[SEP]"
    assert probe.tokens[1:-1] == probe.caption.split()  # these captions are single pieces
    maps = snap.maps["text_to_image"]
    assert maps.shape[1] >= len(probe.tokens) and maps.shape[2] == snap.grid[0] * snap.grid[1]
    np.testing.assert_allclose(maps[0, :len(probe.tokens)].sum(-1), 1.0, atol=1e-5)


def test_the_second_load_reads_the_cache_and_builds_no_model(shapes, monkeypatch):
    cfg = _cfg(shapes)
    first = load_dataset(cfg)

    def no_model(*args, **kwargs):
        raise AssertionError("the text model was built although its features are cached")
    monkeypatch.setattr(TEXT.TextModel, "__init__", no_model)
    second = load_dataset(cfg)
    assert isinstance(second.text_states, np.memmap)  # read mapped, not into memory
    assert np.array_equal(np.asarray(second.text_states), np.asarray(first.text_states))
    assert torch.equal(second.text_features, first.text_features)
    batch = second.batch(torch.tensor([0, 3]))
    assert batch.text_states.dtype == torch.float32 and batch.mask.shape == \
        batch.text_states.shape[:2]


def test_other_captions_or_a_broken_entry_are_computed_again(shapes):
    captions = ["a red square", "a blue circle"]
    first = CACHE.caption_states("all-MiniLM-L6-v2", captions, keep=6)
    # the states were written to a file as they were computed, moved into the entry and
    # read back mapped: nothing left beside it
    assert isinstance(first.states, np.memmap)
    assert [p.name for p in CACHE.cache_dir().iterdir() if p.name.startswith(".")] == []
    again = CACHE.caption_states("all-MiniLM-L6-v2", captions, keep=6)
    assert not first.from_cache and again.from_cache  # each test has a fresh cache folder
    other = CACHE.caption_states("all-MiniLM-L6-v2", captions[::-1], keep=6)
    assert not other.from_cache  # other captions: another entry
    np.testing.assert_allclose(other.pooled, again.pooled[::-1], atol=1e-6)
    assert not CACHE.caption_states("all-MiniLM-L6-v2", captions, keep=4).from_cache
    [entry] = [p for p in CACHE.cache_dir().iterdir()
               if (p / "states.npy").is_file() and np.load(p / "states.npy").shape[1] == 6
               and np.allclose(np.load(p / "pooled.npy"), first.pooled)]
    (entry / "states.npy").write_bytes(b"cut short")  # a crash, a full disk
    rebuilt = CACHE.caption_states("all-MiniLM-L6-v2", captions, keep=6)
    assert not rebuilt.from_cache and rebuilt.states.shape == (2, 6, 384)
    np.testing.assert_allclose(rebuilt.pooled, first.pooled, atol=1e-6)
    assert CACHE.caption_states("all-MiniLM-L6-v2", captions, keep=6).from_cache


def test_the_sentence_vector_is_the_model_s_own(shapes):
    """The pooled vectors a run trains on are what sentence-transformers' encode gives."""
    from sentence_transformers import SentenceTransformer
    from workbench.core.pretrained.locate import locate
    ds = load_dataset(_cfg(shapes))
    ours = ds.text_features.numpy()
    theirs = SentenceTransformer(str(locate("all-MiniLM-L6-v2").path),
                                 device="cpu").encode(ds.table.captions)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_a_checkpoint_reopens_with_the_same_vectors(shapes, tmp_path):
    from workbench.core.evaluation.retrieval import RetrievalIndex
    cfg = _cfg(shapes, "algorithm.name=contrastive")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds, run_dir=tmp_path / "run")
    trainer.fit()
    live = RetrievalIndex(trainer.model, ds)
    loaded = RetrievalIndex.from_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert torch.allclose(loaded.text_vectors, live.text_vectors, atol=1e-5)
    assert torch.allclose(loaded.image_vectors, live.image_vectors, atol=1e-5)


def test_a_typed_caption_goes_through_the_pretrained_model(shapes):
    from workbench.core.evaluation.retrieval import RetrievalIndex
    cfg = _cfg(shapes, "algorithm.name=contrastive")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds)
    trainer.fit()
    index = RetrievalIndex(trainer.model, ds)
    assert index.text_query_problem is None
    index.prepare_text_queries()
    row = 5
    result = index.search_text(ds.table.captions[row], k=3)
    assert result.unknown == [] and len(result.hits) == 3
    # the typed caption's vector is its own caption's, read again by the model
    vector = index._queries[(ds.table.captions[row],)]
    assert float(vector @ index.text_vectors[row]) > 1 - 1e-4
    # any word is spelled by word pieces: nothing is out of vocabulary
    assert index.search_text("a zyzzyvaesque square", k=2).hits


def test_refusals(shapes, tmp_path):
    with pytest.raises(ConfigError, match="drop_words"):
        _cfg(shapes, "training.drop_words=0.2")
    with pytest.raises(ConfigError, match="unknown_words.*word pieces"):
        _cfg(shapes, "training.unknown_words=0.2")
    npz = tiny_config(make_npz(tmp_path / "f.npz"), "model.text_encoder=pretrained",
                      "algorithm.name=classifier")
    with pytest.raises(DataError, match="text feature vectors"):
        load_dataset(npz)


def test_the_pointing_game_runs_on_word_pieces(tmp_path):
    """Composites need no vocabulary: with a pretrained text model, two captions share no
    word when their words (not their pieces) differ, and a composite's text is the captioned
    row's own word-piece states."""

    from workbench.core.data.text import tokenize
    from workbench.core.evaluation import grounding as G
    folder = make_colour_shape_folder(tmp_path / "shapes", n_per_class=4)
    cfg = _cfg(folder, "algorithm.name=classifier", "fusion.name=coattention",
               "data.val_fraction=0.4", "training.epochs=1")
    ds = load_dataset(cfg)
    assert ds.tokens is None and G.composite_problem(ds) is None
    comps = G.make_composites(ds, n=20, seed=0)
    assert len(comps) == 20
    for a, b in comps.rows.tolist():
        assert not set(tokenize(ds.table.caption(a))) & set(tokenize(ds.table.caption(b)))
        assert ds.labels[a] != ds.labels[b]
    batch = G.composite_batch(ds, comps)
    real = ds.batch(torch.from_numpy(comps.captioned))
    assert torch.equal(batch.text_states, real.text_states)
    assert torch.equal(batch.mask, real.mask)
    rec = EventRecorder()
    trainer = Trainer(cfg, ds, callbacks=[rec])
    trainer.fit()
    live = rec.of(AttentionSnapshot)[-1].composites  # the Attention tab's composite probes
    assert live is not None and len(live.probes) == cfg.training.composite_probes
    assert live.probes[0].tokens[0] == "[CLS]" and live.probes[0].captioned in G.SIDES
    game = G.pointing_game(trainer.model, ds, n=20, seed=0)
    assert game["n"] == 20 and 0 <= game["rate"] <= 1
    probes = G.composite_probes(ds, comps)
    assert probes[0].tokens[0] == "[CLS]" and probes[0].captioned in G.SIDES
