"""The graph algorithm's GCN layer [document 4.3]: the weights 1 / c_ij of both
normalisations against hand-computed values, the layer against the dense formula, and its
compatibility with PyTorch Geometric's GCNConv (same outputs, same checkpoints)."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.core.algorithms.graph_conv import GCNLayer, edge_norm
from workbench.core.algorithms.params import GraphParams
from workbench.core.params import describe

# PyTorch Geometric's import runs torch.jit.script, which recent torch deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

# A star: centre 1, leaves 0, 2, 3, both directions of each edge, as graph_build makes them.
STAR = torch.tensor([[0, 1, 1, 2, 1, 3],
                     [1, 0, 2, 1, 3, 1]])
# Degrees counting the self loop: leaves 1 + 1 = 2, centre 3 + 1 = 4.
# symmetric, c_ij = sqrt(d_i d_j): leaf-centre sqrt(2 * 4), centre loop sqrt(4 * 4) = 4,
# leaf loop sqrt(2 * 2) = 2. document, c_ij = sqrt(d_i + d_j): leaf-centre sqrt(2 + 4),
# centre loop sqrt(4 + 4), leaf loop sqrt(2 + 2) = 2.
STAR_WEIGHTS = {
    "symmetric": {"leaf-centre": 1 / math.sqrt(8), "centre loop": 1 / 4, "leaf loop": 1 / 2},
    "document": {"leaf-centre": 1 / math.sqrt(6), "centre loop": 1 / math.sqrt(8),
                 "leaf loop": 1 / 2},
}


def star_matrix(kind: str) -> torch.Tensor:
    """The star's (A + I) with entry [i, j] = 1 / c_ij, written out from STAR_WEIGHTS."""
    w = STAR_WEIGHTS[kind]
    m = torch.zeros(4, 4)
    for leaf in (0, 2, 3):
        m[leaf, 1] = m[1, leaf] = w["leaf-centre"]
        m[leaf, leaf] = w["leaf loop"]
    m[1, 1] = w["centre loop"]
    return m


def as_dict(edges: torch.Tensor, weights: torch.Tensor) -> dict[tuple[int, int], float]:
    return {(int(s), int(t)): float(w) for (s, t), w in zip(edges.T, weights)}


def random_graph(n: int = 12, seed: int = 0) -> torch.Tensor:
    """An undirected graph without self loops or duplicates, as graph_build's."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, n, generator=g) < 0.3
    a = (a | a.T) & ~torch.eye(n, dtype=torch.bool)
    return a.nonzero().T


# ---------------------------------------------------------------- the weights 1 / c_ij

@pytest.mark.parametrize("kind", ["symmetric", "document"])
def test_edge_norm_on_a_star_by_hand(kind):
    edges, weights = edge_norm(STAR, 4, kind)
    w = STAR_WEIGHTS[kind]
    expected = {(1, 1): w["centre loop"]}
    for leaf in (0, 2, 3):
        expected[(leaf, 1)] = expected[(1, leaf)] = w["leaf-centre"]
        expected[(leaf, leaf)] = w["leaf loop"]
    got = as_dict(edges, weights)
    assert edges.shape[1] == len(got) == 10  # 6 edges + one self loop per node
    assert got == pytest.approx(expected, abs=1e-7)


def test_edge_norm_path_values():
    # Path 0 - 1 - 2 - 3: degrees with the self loop 2, 3, 3, 2.
    path = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    sym = as_dict(*edge_norm(path, 4, "symmetric"))
    assert sym[(0, 1)] == pytest.approx(0.40824829)  # 1 / sqrt(2 * 3)
    assert sym[(1, 2)] == pytest.approx(0.33333333)  # 1 / sqrt(3 * 3)
    assert sym[(3, 3)] == pytest.approx(0.5)  # 1 / sqrt(2 * 2)
    doc = as_dict(*edge_norm(path, 4, "document"))
    assert doc[(0, 1)] == pytest.approx(0.44721360)  # 1 / sqrt(2 + 3)
    assert doc[(1, 2)] == pytest.approx(0.40824829)  # 1 / sqrt(3 + 3)
    assert doc[(1, 1)] == pytest.approx(0.40824829)  # 1 / sqrt(3 + 3)
    assert doc[(0, 0)] == pytest.approx(0.5)  # 1 / sqrt(2 + 2)


def test_edge_norm_counts_incoming_edges_and_one_self_loop():
    # 0 -> 1 and 2 -> 1 only: in-degrees with the loop 1, 3, 1 (out-degrees would be 2, 1, 2).
    # A self loop already there (1 -> 1) is not counted twice.
    edges = torch.tensor([[0, 2, 1], [1, 1, 1]])
    got = as_dict(*edge_norm(edges, 3, "symmetric"))
    assert got == pytest.approx({(0, 1): 1 / math.sqrt(3), (2, 1): 1 / math.sqrt(3),
                                 (0, 0): 1.0, (1, 1): 1 / 3, (2, 2): 1.0})
    assert as_dict(*edge_norm(edges, 3, "document"))[(0, 1)] == pytest.approx(0.5)


def test_only_symmetric_keeps_the_spectrum_in_minus_one_one():
    # What the module docstring claims: symmetric's eigenvalues lie in [-1, 1] (1 reached);
    # on a graph where every degree is d, document's largest is sqrt(d / 2).
    n = 12
    ring = torch.tensor([[i, (i + 1) % n] for i in range(n)] +
                        [[(i + 1) % n, i] for i in range(n)]).T  # every degree 2 + 1 = 3
    for edge_index, d in ((random_graph(n), None), (ring, 3)):
        for kind in ("symmetric", "document"):
            (src, dst), w = edge_norm(edge_index, n, kind, dtype=torch.float64)
            m = torch.zeros(n, n, dtype=torch.float64).index_put_((dst, src), w)
            top = torch.linalg.eigvalsh(m).abs().max().item()
            if kind == "symmetric":
                assert top == pytest.approx(1.0)
            elif d is not None:
                assert top == pytest.approx(math.sqrt(d / 2))


# ---------------------------------------------------------------- the layer

@pytest.mark.parametrize("kind", ["symmetric", "document"])
def test_layer_is_the_dense_formula(kind):
    torch.manual_seed(0)
    layer = GCNLayer(3, 5, kind)
    with torch.no_grad():
        layer.bias.copy_(torch.randn(5))  # nonzero, so a missing bias would show
    x = torch.randn(4, 3)
    expected = star_matrix(kind) @ x @ layer.lin.weight.T + layer.bias
    torch.testing.assert_close(layer(x, STAR), expected, atol=1e-6, rtol=0)


def test_layer_sends_messages_from_source_to_target():
    # 0 -> 1 and 2 -> 1 only (in-degrees with the loop 1, 3, 1): node 1 gathers from 0 and 2,
    # and nodes 0 and 2 only from themselves.
    torch.manual_seed(0)
    layer = GCNLayer(3, 2)
    x = torch.randn(3, 3)
    h = x @ layer.lin.weight.T
    out = layer(x, torch.tensor([[0, 2], [1, 1]]))
    expected = torch.stack([h[0], (h[0] + h[2]) / math.sqrt(3) + h[1] / 3, h[2]])
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_symmetric_layer_matches_pyg_gcnconv():
    from torch_geometric.nn import GCNConv
    torch.manual_seed(0)
    edge_index = random_graph()
    ours, theirs = GCNLayer(6, 4, "symmetric"), GCNConv(6, 4)
    with torch.no_grad():
        ours.bias.copy_(torch.randn(4))
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(12, 6)
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), atol=1e-6, rtol=0)


def test_pyg_gcnconv_checkpoint_loads():
    from torch_geometric.nn import GCNConv
    torch.manual_seed(1)
    pyg = GCNConv(5, 5)
    with torch.no_grad():
        pyg.bias.copy_(torch.randn(5))
    ours = GCNLayer(5, 5)
    ours.load_state_dict(pyg.state_dict(), strict=True)
    assert set(ours.state_dict()) == {"lin.weight", "bias"}
    x, edge_index = torch.randn(12, 5), random_graph()
    torch.testing.assert_close(ours(x, edge_index), pyg(x, edge_index), atol=1e-6, rtol=0)


def test_initialised_as_gcnconv():
    torch.manual_seed(0)
    layer = GCNLayer(64, 32)
    bound = math.sqrt(6 / (64 + 32))  # glorot uniform
    w = layer.lin.weight
    assert w.shape == (32, 64) and layer.lin.bias is None
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    assert torch.equal(layer.bias, torch.zeros(32))


def test_gradients_reach_weight_and_bias():
    torch.manual_seed(0)
    layer = GCNLayer(3, 2, "document")
    layer(torch.randn(4, 3), STAR).sum().backward()
    assert layer.lin.weight.grad is not None and layer.lin.weight.grad.abs().sum() > 0
    # d sum(out) / d b = one per node.
    torch.testing.assert_close(layer.bias.grad, torch.full((2,), 4.0))


def test_unknown_normalization_is_refused():
    with pytest.raises(ValueError, match="symmetric"):
        GCNLayer(2, 2, "row")


def test_normalization_param_applies_to_gcn_only():
    info = {p.name: p for p in describe(GraphParams)}["normalization"]
    assert info.default == "symmetric" and info.choices == ("symmetric", "document")
    assert info.applies({"conv": "gcn"}) and not info.applies({"conv": "gat"})
