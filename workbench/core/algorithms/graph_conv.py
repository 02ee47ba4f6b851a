"""The graph algorithm's GCN layer [document 4.3], with a choice of the normalisation c_ij.

h_i' = sum_{j in N(i) + i} (1 / c_ij) h_j W + b, over the edges j -> i of a (2, E)
``edge_index`` in PyTorch Geometric's layout (row 0 the source j, row 1 the target i), with a
self loop added to every node so it keeps part of its own features. d_i is the number of edges
into i, its self loop included (for an undirected graph, also the number out of it).

- ``symmetric`` (the default): c_ij = sqrt(d_i d_j), Kipf & Welling's renormalised
  D^-1/2 (A + I) D^-1/2, as PyTorch Geometric's ``GCNConv`` computes it. It equals
  D^1/2 (D^-1 (A + I)) D^-1/2, similar to a row-stochastic matrix, so on an undirected graph
  its eigenvalues lie in [-1, 1]: propagation never amplifies the features, however high
  the degrees, which is why Kipf & Welling chose it (stable when layers are stacked).
- ``document``: c_ij = sqrt(d_i + d_j), document 4.3's example. It has no such bound: where
  every node has degree d the matrix is (A + I) / sqrt(2d), whose largest eigenvalue is
  sqrt(d / 2), so each layer scales the features up by that much once d > 2.

The layer keeps ``GCNConv``'s parameter names and shapes (``lin.weight`` (out, in), ``bias``
(out,)) and initialisation, so checkpoints written when the algorithm used ``GCNConv`` load.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

NORMALIZATIONS = {
    "symmetric": lambda d_i, d_j: (d_i * d_j).rsqrt(),
    "document": lambda d_i, d_j: (d_i + d_j).rsqrt(),
}


def edge_norm(edge_index: Tensor, num_nodes: int, kind: str = "symmetric", *,
              dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """The edges with a self loop on every node, and the weight 1 / c_ij of each edge j -> i
    for the normalisation ``kind`` (see the module). Self loops already in ``edge_index``
    are replaced, so each node has exactly one, as in PyTorch Geometric's ``gcn_norm``."""
    loops = torch.arange(num_nodes, device=edge_index.device)
    keep = edge_index[0] != edge_index[1]
    edges = torch.cat([edge_index[:, keep], torch.stack([loops, loops])], dim=1)
    degree = torch.bincount(edges[1], minlength=num_nodes).to(dtype)
    src, dst = edges
    return edges, NORMALIZATIONS[kind](degree[dst], degree[src])


class GCNLayer(nn.Module):
    """One graph convolution: messages h_j W weighted by 1 / c_ij, summed into each target
    node, plus a bias. Same parameters as PyTorch Geometric's ``GCNConv(in_dim, out_dim)``."""

    def __init__(self, in_dim: int, out_dim: int, normalization: str = "symmetric"):
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown GCN normalization {normalization!r}; one of "
                             + ", ".join(map(repr, NORMALIZATIONS)))
        self.normalization = normalization
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.empty(out_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # GCNConv's glorot: uniform in +-sqrt(6 / (fan_in + fan_out)).
        nn.init.xavier_uniform_(self.lin.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        (src, dst), weight = edge_norm(edge_index, len(x), self.normalization, dtype=x.dtype)
        h = self.lin(x)
        out = h.new_zeros(h.shape).index_add_(0, dst, h[src] * weight.unsqueeze(1))
        return out + self.bias

    def extra_repr(self) -> str:
        return (f"{self.lin.in_features}, {self.lin.out_features}, "
                f"normalization={self.normalization!r}")

