"""The multimodal graph neural network [document 3.3, 4.3]: the layers against the formula,
the graph construction (no leakage of validation pairs) and training on tiny synthetic data
(CPU, fast)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from workbench.core.algorithms import graph as graph_module
from workbench.core.algorithms import graph_build as G
from workbench.core.algorithms.graph_conv import GCNLayer, edge_norm
from workbench.core.config import (AlgorithmConfig, ExperimentConfig, FusionConfig, ModelConfig,
                                   PreprocessConfig, TrainingConfig)
from workbench.core.data.dataset import build_dataset
from workbench.core.data.loader import PairTable
from workbench.core.data.text import tokenize
from workbench.core.errors import WorkbenchError
from workbench.core.training import Trainer, build_algorithm
from workbench.core.training.callbacks import EventRecorder
from workbench.core.training.events import AttentionSnapshot, EpochEnded
from workbench.core.training.optim import Optimizers


# PyTorch Geometric's import runs torch.jit.script, which recent torch deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

SIZE = 8
CLASSES = ["warm", "cool", "dark"]
WORDS = {"warm": ["red", "orange", "sun", "fire"], "cool": ["blue", "sea", "ice", "sky"],
         "dark": ["night", "black", "shadow", "ink"]}
COLOURS = {"warm": (220, 60, 20), "cool": (20, 80, 220), "dark": (30, 30, 30)}



def make_table(n: int = 36, *, labelled: bool = True, features: bool = False,
               captions_per_image: int = 1) -> PairTable:
    """Pairs whose caption words and image colour both follow a hidden class."""
    rng = np.random.default_rng(0)
    cls = np.arange(n) % len(CLASSES)
    m = n // captions_per_image
    image_index = np.arange(n) // captions_per_image
    captions = tokens = images = text_f = image_f = None
    if features:
        centres_t, centres_i = rng.normal(size=(3, 6)), rng.normal(size=(3, 5))
        text_f = (centres_t[cls] + 0.3 * rng.normal(size=(n, 6))).astype(np.float32)
        image_f = (centres_i[cls] + 0.3 * rng.normal(size=(n, 5))).astype(np.float32)
    else:
        captions = [" ".join(rng.choice(WORDS[CLASSES[c]], 2, replace=False)) + f" item{i}"
                    for i, c in enumerate(cls)]
        tokens = [tokenize(c) for c in captions]
        colours = np.array([COLOURS[CLASSES[cls[j * captions_per_image]]] for j in range(m)])
        noise = rng.integers(-20, 20, size=(m, 3, SIZE, SIZE))
        images = np.clip(colours[:, :, None, None] + noise, 0, 255).astype(np.uint8)
    return PairTable(
        source="test", kind="test", file="test", rows=list(range(1, n + 1)), captions=captions,
        tokens=tokens, images=images, image_index=image_index.astype(np.int64),
        image_paths=None, original_sizes=None, text_features=text_f, image_features=image_f,
        labels=cls.astype(np.int64) if labelled else None,
        label_names=list(CLASSES) if labelled else [], label_column="label" if labelled else None)


def make_dataset(**kwargs):
    return build_dataset(make_table(**kwargs), PreprocessConfig(image_size=SIZE),
                         val_fraction=0.2, test_fraction=0.2, seed=0)


def make_config(conv: str = "gcn", fusion: str = "mean", **params) -> ExperimentConfig:
    cfg = ExperimentConfig(device="cpu", seed=0,
                           preprocess=PreprocessConfig(image_size=SIZE),
                           model=ModelConfig(embed_dim=16, hidden_dim=16, dropout=0.1),
                           algorithm=AlgorithmConfig("graph"), fusion=FusionConfig(fusion),
                           training=TrainingConfig(epochs=2, probe_samples=2,
                                                   checkpoint_every=100))
    cfg.algorithm.params.conv = conv
    cfg.algorithm.params.k = 3
    cfg.algorithm.params.edge_holdout = 0.3
    for key, value in params.items():
        setattr(cfg.algorithm.params, key, value)
    return cfg


def prepared(cfg, ds):
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    return model


def edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.T.tolist()))


# ---------------------------------------------------------------- the layers [4.3]

def test_gcn_applies_the_chosen_normalization():
    # The layer's maths is tested in test_graph_conv.py; here, that the algorithm uses it.
    ds = make_dataset(n=36)
    models = {kind: prepared(make_config("gcn", normalization=kind), ds)
              for kind in ("symmetric", "document")}
    for kind, model in models.items():
        assert all(isinstance(c, GCNLayer) and c.normalization == kind for c in model.convs)
    models["symmetric"].load_state_dict(models["document"].state_dict())  # same weights
    out = {}
    for kind, model in models.items():
        model.eval()
        with torch.no_grad():
            out[kind] = model.node_outputs()
        # The GCN weights shown for attention are the layer's 1 / c_ij.
        edges, weights = edge_norm(model.edge_index, len(model.image_rows) + model.num_text,
                                   kind)
        assert torch.equal(out[kind]["edges"], edges)
        torch.testing.assert_close(out[kind]["weights"], weights, atol=0, rtol=0)
    assert torch.equal(models["symmetric"].edge_index, models["document"].edge_index)
    for part in ("text", "image", "weights"):
        assert (out["symmetric"][part] - out["document"][part]).abs().max() > 1e-3, part


def test_gat_attention_weights_sum_to_one_per_node():
    from torch_geometric.nn import GATConv
    torch.manual_seed(0)
    conv = GATConv(4, 3, heads=2).eval()
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 0], [1, 0, 2, 1, 1, 3]])
    out, (edges, alpha) = conv(torch.randn(4, 4), edge_index, return_attention_weights=True)
    assert out.shape == (4, 6) and alpha.shape == (edges.shape[1], 2)
    sums = torch.zeros(4, 2).index_add_(0, edges[1], alpha)
    torch.testing.assert_close(sums, torch.ones(4, 2))


# ---------------------------------------------------------------- the graph [3.3.2, step 1]

@pytest.mark.parametrize("captions_per_image", [1, 2])
def test_pair_edges_only_for_visible_training_pairs(captions_per_image):
    ds = make_dataset(n=40, captions_per_image=captions_per_image)
    graph = G.build_graph(ds, k=3, edge_holdout=0.25, seed=0)
    n, edges = graph.num_text, edge_set(graph.edge_index)
    pair = {(r, n + int(graph.image_of_pair[r])) for r in range(n)}
    linked = {r for r, i in pair if (r, i) in edges}
    assert linked == set(graph.visible.tolist())
    assert all((i, r) in edges for r, i in pair if r in linked)  # both directions
    train = set(ds.indices("train").tolist())
    assert set(graph.visible.tolist()) | set(graph.held_out.tolist()) == train
    assert len(graph.held_out) == round(0.25 * len(train))
    for split in ("val", "test"):
        for r in ds.indices(split).tolist():
            assert (r, n + int(graph.image_of_pair[r])) not in edges
    # The only text-image edges are those pairs: kNN stays within each modality.
    cross = {(a, b) for a, b in edges if (a < n) != (b < n)}
    assert cross == {e for r in linked for e in ((r, n + int(graph.image_of_pair[r])),
                                                 (n + int(graph.image_of_pair[r]), r))}
    assert not any(a == b for a, b in edges)
    assert graph.num_image == 40 // captions_per_image


def test_knn_links_each_node_to_k_others_of_its_modality():
    x = torch.randn(30, 8) + 0.1
    edges = G.knn_edges(x, 4, offset=100)
    assert edges.shape == (2, 30 * 4)
    assert torch.bincount(edges[1] - 100).tolist() == [4] * 30
    assert (edges[0] != edges[1]).all() and edges.min() >= 100 and edges.max() < 130
    # the 4 most similar by cosine
    xn = torch.nn.functional.normalize(x, dim=1)
    sim = xn @ xn.T
    sim.fill_diagonal_(-2)
    expected = sim[0].topk(4).indices.sort().values
    assert (edges[0][edges[1] == 100] - 100).sort().values.tolist() == expected.tolist()
    # in the built graph, every node has at least k neighbours of its own modality
    ds = make_dataset(n=36)
    graph = G.build_graph(ds, k=3, edge_holdout=0.0, seed=0)
    n, (src, dst) = graph.num_text, graph.edge_index
    same = (src < n) == (dst < n)
    assert (torch.bincount(dst[same], minlength=graph.num_nodes) >= 3).all()


def test_knn_on_sparse_tfidf_matches_dense_and_skips_unrelated_captions():
    captions = [["red", "square"], ["red", "circle"], ["blue", "sky"], ["blue", "sea", "sky"],
                ["green", "square"], ["lonely"]]
    x = G.tfidf(captions)
    nbrs, sims = G.cosine_knn(x, 2, chunk=4)
    dense_nbrs, dense_sims = G.cosine_knn(x.to_dense(), 2)
    torch.testing.assert_close(sims, dense_sims)
    assert nbrs[2, 0] == 3 and nbrs[3, 0] == 2
    edges = G.knn_edges(x, 2)
    assert 5 not in edges[1].tolist()  # "lonely" shares no word: no arbitrary neighbours


def test_graph_is_deterministic_for_a_seed():
    ds = make_dataset(n=36)
    a = G.build_graph(ds, k=3, edge_holdout=0.3, seed=7)
    b = G.build_graph(ds, k=3, edge_holdout=0.3, seed=7)
    c = G.build_graph(ds, k=3, edge_holdout=0.3, seed=8)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.held_out, b.held_out)
    assert not torch.equal(a.held_out, c.held_out)
    # PCA-reduced pixel inputs (wider than MAX_KNN_DIM) are seeded too
    pixels = torch.rand(300, 3, 12, 12)
    torch.testing.assert_close(G.dense_inputs(pixels, 3), G.dense_inputs(pixels, 3))


def test_cross_modal_edges_only_when_enabled():
    ds = make_dataset(n=36)
    n = len(ds)
    for enabled in (False, True):
        cfg = make_config(cross_modal_knn=enabled)
        model = prepared(cfg, ds)
        optim = Optimizers(model.optimizer_groups(), cfg.optimizer, 1)
        model.train()
        model.training_step(next(model.train_batches(ds, 8, None)), optim)
        if not enabled:
            assert model.cross_edges is None
            continue
        text_to_image = model.cross_edges[:, model.cross_edges[0] < n]
        assert (text_to_image[1] >= n).all()
        assert torch.bincount(text_to_image[0], minlength=n).min() >= 3  # k per caption
        assert model.cross_edges.shape[1] == 2 * text_to_image.shape[1]  # both directions


# ---------------------------------------------------------------- training

def test_gradients_reach_encoders_and_graph_layers():
    ds = make_dataset(n=36)
    for conv in ("gcn", "gat"):
        model = prepared(make_config(conv, fusion="attention"), ds)
        model.train()
        losses, _ = model.forward_step(next(model.train_batches(ds, 8, None)))
        assert {"edge", "node", "loss"} <= losses.keys()
        losses["loss"].backward()
        for part in (model.text_encoder, model.image_encoder, model.convs, model.fusion):
            grads = [p.grad for p in part.parameters() if p.requires_grad]
            assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), part


@pytest.mark.parametrize("conv,fusion", [("gat", "attention"), ("gcn", "late")])
def test_trains_labelled_pairs(conv, fusion):
    ds = make_dataset(n=36)
    rec = EventRecorder()
    end = Trainer(make_config(conv, fusion), ds, callbacks=[rec]).fit()
    assert end.status == "finished", end.reason
    epochs = rec.of(EpochEnded)
    assert len(epochs) == 2 and end.step == 2  # one full-graph step per epoch
    for e in epochs:
        assert {"edge", "node", "loss"} <= e.train.keys()
        assert all(math.isfinite(v) for v in e.train.values())
    val = epochs[-1].val
    assert {"t2i_r1", "t2i_r10", "i2t_r10", "t2i_median_rank", "accuracy", "macro_f1"} <= val.keys()
    snap = rec.of(AttentionSnapshot)[-1]
    assert len(snap.graph) == len(snap.probes) == 2
    for probe, entry in zip(snap.probes, snap.graph):
        assert entry["node"] == probe.caption
        nbrs = entry["neighbours"]
        assert 0 < len(nbrs) <= graph_module.MAX_NEIGHBOURS
        assert all(isinstance(label, str) and kind in ("text", "image") and isinstance(w, float)
                   for label, kind, w in nbrs)
        assert [w for _, _, w in nbrs] == sorted((w for _, _, w in nbrs), reverse=True)
        assert any(label.endswith("(itself)") for label, _, _ in nbrs)
        if conv == "gat" and len(nbrs) < graph_module.MAX_NEIGHBOURS:
            assert sum(w for _, _, w in nbrs) == pytest.approx(1.0, abs=1e-5)
    if fusion == "attention":  # late (mean) has fixed weights and reports none
        assert snap.maps["modality_weights"].shape == (2, 2)
    else:
        assert "modality_weights" not in snap.maps


def test_trains_unlabelled_features_with_cross_modal_knn():
    ds = make_dataset(n=36, labelled=False, features=True)
    rec = EventRecorder()
    end = Trainer(make_config("gcn", cross_modal_knn=True), ds, callbacks=[rec]).fit()
    assert end.status == "finished", end.reason
    train = rec.of(EpochEnded)[-1].train
    assert "node" not in train and math.isfinite(train["edge"])
    assert "t2i_r10" in end.metrics and "accuracy" not in end.metrics


def test_embed_is_cached_until_the_weights_change():
    ds = make_dataset(n=36)
    cfg = make_config("gat")
    model = prepared(cfg, ds)
    model.eval()
    val = ds.batch(ds.indices("val"))
    with torch.no_grad():
        first = model.node_outputs()
        assert model.node_outputs() is first
        emb = model.embed(val)
    assert set(emb) == {"text", "image", "fused"} and emb["text"].shape == (len(val), 16)
    optim = Optimizers(model.optimizer_groups(), cfg.optimizer, 1)
    model.train()
    model.training_step(next(model.train_batches(ds, 8, None)), optim)
    model.eval()
    with torch.no_grad():
        assert not torch.equal(model.embed(val)["text"], emb["text"])


def test_refuses_graphs_too_large_and_nothing_to_learn(monkeypatch):
    ds = make_dataset(n=36)
    unlabelled = make_dataset(n=36, labelled=False)
    with pytest.raises(WorkbenchError, match="edge_holdout"):
        prepared(make_config(edge_holdout=0.0), unlabelled)
    monkeypatch.setattr(graph_module, "MAX_PAIRS", 20)
    with pytest.raises(WorkbenchError, match="36 pairs.*contrastive"):
        prepared(make_config(), ds)
    end = Trainer(make_config(), ds).fit()  # a run reports the refusal, never crashes
    assert end.status == "failed" and "contrastive" in end.reason


def test_unlabelled_graph_refuses_a_fusion_that_would_stay_untrained():
    unlabelled = make_dataset(n=36, labelled=False)
    with pytest.raises(WorkbenchError, match="'attention' would stay untrained"):
        prepared(make_config(fusion="attention"), unlabelled)


def test_torch_geometric_is_imported_only_when_a_graph_is_built():
    # It costs seconds to import: the registry, the config and even this module stay free of it.
    code = ("import sys, workbench.core.algorithms.graph, workbench.core.training.trainer; "
            "print('torch_geometric' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False"
