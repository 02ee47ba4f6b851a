"""Building the multimodal graph [document 3.3.2, step 1]: pure functions over tensors.

Node numbering: the text node of pair ``r`` is ``r`` (0 <= r < N); the image node of distinct
image ``m`` is ``N + m``. Edges are ``(2, E)`` int64 tensors in PyTorch Geometric's layout
(row 0 = source j, row 1 = target i, messages flow j -> i) and every edge is present in both
directions, with no self loops and no duplicates (the layers add self loops themselves).

The edges:

- **pair edges**: caption <-> image of each *visible* training pair. A fraction of the
  training pairs is held out (their edges are prediction targets only), and validation and
  test pairs never get theirs: predicting them is the retrieval task.
- **kNN edges** within each modality, by cosine similarity of the raw inputs (TF-IDF of the
  caption words; centred pixels or feature vectors, PCA-reduced when wide). Computed once,
  for every node of every split (transductive, as Kipf & Welling): no labels or pairings
  are used, so this leaks nothing about the validation pairs.
- **cross-modal kNN edges** (optional) from each caption to its nearest images by the model's
  current input embeddings: see :func:`cross_modal_edges`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# Wider raw inputs (e.g. 3 x 32 x 32 pixels) are PCA-reduced to this many dimensions before
# the kNN search: the exact all-pairs cosine over 3,072 dimensions would cost minutes at
# 50,000 images, and the leading components carry what the similarity needs.
MAX_KNN_DIM = 256
KNN_CHUNK = 1024  # rows of the similarity matrix computed at once


@dataclass
class Graph:
    """The static part of the graph and the pair bookkeeping the algorithm needs."""

    num_text: int
    num_image: int
    edge_index: Tensor  # (2, E) pair + within-modality kNN edges
    image_of_pair: Tensor  # (N,) distinct image m of each pair (its node is N + m)
    image_rows: Tensor  # (M,) one pair showing each image (its first)
    visible: Tensor  # training pairs whose edge is in the graph
    held_out: Tensor  # training pairs whose edge is hidden and predicted

    @property
    def num_nodes(self) -> int:
        return self.num_text + self.num_image


def holdout_split(train_rows: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Split the training pairs into (visible, held out); ``fraction`` of them are held out,
    at least two once the fraction is above zero (InfoNCE needs a negative), chosen with
    ``seed``. Both come back sorted."""
    n = len(train_rows)
    n_out = 0 if fraction <= 0 else min(n, max(2, round(fraction * n)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held = train_rows[perm[:n_out]].sort().values
    visible = train_rows[perm[n_out:]].sort().values
    return visible, held


def pair_edges(rows: Tensor, image_of_pair: Tensor, num_text: int) -> Tensor:
    """Caption <-> image edges of the pairs ``rows``, both directions."""
    text = rows
    image = num_text + image_of_pair[rows]
    return torch.stack([torch.cat([text, image]), torch.cat([image, text])])


def undirected(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Both directions of every edge, without self loops or duplicates, sorted by target."""
    src, dst = torch.cat([edge_index[0], edge_index[1]]), torch.cat([edge_index[1], edge_index[0]])
    keep = src != dst
    key = torch.unique(dst[keep] * num_nodes + src[keep])
    return torch.stack([key % num_nodes, key // num_nodes])


def cosine_knn(x: Tensor, k: int, *, chunk: int = KNN_CHUNK) -> tuple[Tensor, Tensor]:
    """Each row's k' = min(k, n - 1) most cosine-similar other rows: (n, k') indices and
    their similarities. ``x`` is dense or a sparse COO tensor; the similarity matrix is built
    a chunk of rows at a time, so memory stays O(chunk x n)."""
    n = x.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return torch.zeros(n, 0, dtype=torch.long), torch.zeros(n, 0)
    if x.is_sparse:
        x = _normalize_sparse(x.coalesce())
    else:
        x = F.normalize(x.float(), dim=1)
    idx, sims = [], []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        if x.is_sparse:
            sim = torch.sparse.mm(x, _dense_rows(x, start, stop).T).T  # (c, n)
        else:
            sim = x[start:stop] @ x.T
        sim[torch.arange(stop - start), torch.arange(start, stop)] = -math.inf  # not itself
        top = sim.topk(k, dim=1)
        idx.append(top.indices)
        sims.append(top.values)
    return torch.cat(idx), torch.cat(sims)


def knn_edges(x: Tensor, k: int, offset: int = 0) -> Tensor:
    """Edges neighbour -> node from each row of ``x`` to its k nearest rows (one direction;
    :func:`undirected` adds the other). ``offset`` is the node number of row 0.

    Neighbours with no positive similarity are left out: a caption sharing no word with any
    other would otherwise be linked to arbitrary ones (the first rows win the tie), turning
    them into hubs."""
    nbrs, sims = cosine_knn(x, k)
    target = torch.arange(len(nbrs)).repeat_interleave(nbrs.shape[1])
    keep = sims.reshape(-1) > 1e-6
    return torch.stack([nbrs.reshape(-1)[keep], target[keep]]) + offset


def cross_modal_edges(text: Tensor, image: Tensor, k: int) -> Tensor:
    """Both directions of the edges from each text node to its k nearest image nodes by the
    cosine of ``text`` (N, H) and ``image`` (M, H) embeddings. The model recomputes them once
    per epoch from its current (detached) node inputs."""
    k = min(k, image.shape[0])
    if k <= 0:
        return torch.zeros(2, 0, dtype=torch.long, device=text.device)
    n = text.shape[0]
    t, i = F.normalize(text, dim=1), F.normalize(image, dim=1)
    nbrs = torch.cat([(t[s:s + KNN_CHUNK] @ i.T).topk(k, dim=1).indices
                      for s in range(0, n, KNN_CHUNK)])
    src = torch.arange(n, device=text.device).repeat_interleave(k)
    return undirected(torch.stack([src, n + nbrs.reshape(-1)]), n + image.shape[0])


def tfidf(captions: list[list[str]]) -> Tensor:
    """(N, W) sparse TF-IDF of tokenised captions over every word seen in them:
    tf = 1 + log(count), idf = log((1 + N) / (1 + df)) + 1 (scikit-learn's smooth idf)."""
    words: dict[str, int] = {}
    rows, cols, tfs = [], [], []
    for r, tokens in enumerate(captions):
        for word, count in Counter(tokens).items():
            rows.append(r)
            cols.append(words.setdefault(word, len(words)))
            tfs.append(1.0 + math.log(count))
    col = torch.tensor(cols, dtype=torch.long)
    df = torch.bincount(col, minlength=len(words)).double()
    idf = torch.log((1 + len(captions)) / (1 + df)) + 1
    values = torch.tensor(tfs, dtype=torch.float64) * idf[col]
    return torch.sparse_coo_tensor(torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1),
                                   values.float(), (len(captions), max(1, len(words))),
                                   check_invariants=False)


def dense_inputs(x: Tensor, seed: int, max_dim: int = MAX_KNN_DIM) -> Tensor:
    """Raw vectors ready for cosine kNN: centred (emoji are mostly white background, so raw
    pixel vectors all look alike) and PCA-reduced to ``max_dim`` dimensions when wider."""
    x = x.reshape(len(x), -1).float()
    x = x - x.mean(0)
    if x.shape[1] <= max_dim or x.shape[0] <= max_dim:
        return x
    with torch.random.fork_rng(devices=[]):  # pca_lowrank draws a random sketch
        torch.manual_seed(seed)
        _, _, v = torch.pca_lowrank(x, q=max_dim, center=False)
    return x @ v


def build_graph(dataset, k: int, edge_holdout: float, seed: int) -> Graph:
    """The static graph of ``dataset`` (a :class:`PairedDataset`): pair edges of the visible
    training pairs and within-modality kNN edges of every node."""
    n = len(dataset)
    image_of_pair = dataset.image_index.long()
    m = int(image_of_pair.max()) + 1
    image_rows = torch.full((m,), n, dtype=torch.long).scatter_reduce(
        0, image_of_pair, torch.arange(n), reduce="amin")
    visible, held = holdout_split(dataset.indices("train").long(), edge_holdout, seed)
    edges = [pair_edges(visible, image_of_pair, n)]
    if k > 0:
        edges.append(knn_edges(text_raw(dataset, seed), k))
        edges.append(knn_edges(image_raw(dataset, image_rows, seed), k, offset=n))
    edge_index = undirected(torch.cat(edges, dim=1), n + m)
    return Graph(n, m, edge_index, image_of_pair, image_rows, visible, held)


def text_raw(dataset, seed: int) -> Tensor:
    """The captions as kNN inputs: TF-IDF of all their words (not only the training
    vocabulary, so validation captions keep their own words), or the text features."""
    if dataset.table.tokens is not None:
        return tfidf(dataset.table.tokens)
    return dense_inputs(dataset.text_features, seed)


def image_raw(dataset, image_rows: Tensor, seed: int) -> Tensor:
    """One raw vector per distinct image: its pixels or its feature vector."""
    if dataset.images is not None and dataset.image_states is None:  # pixels, not a model's
        return dense_inputs(dataset.images, seed)
    return dense_inputs(dataset.image_features[image_rows], seed)


def _normalize_sparse(x: Tensor) -> Tensor:
    idx, val = x.indices(), x.values()
    norm = torch.zeros(x.shape[0], dtype=val.dtype).index_add_(0, idx[0], val * val).sqrt()
    return torch.sparse_coo_tensor(idx, val / norm[idx[0]].clamp(min=1e-12), x.shape,
                                   check_invariants=False).coalesce()


def _dense_rows(x: Tensor, start: int, stop: int) -> Tensor:
    """Rows ``start:stop`` of a coalesced sparse COO matrix, dense."""
    idx, val = x.indices(), x.values()
    keep = (idx[0] >= start) & (idx[0] < stop)
    out = torch.zeros(stop - start, x.shape[1], dtype=val.dtype)
    out[idx[0, keep] - start, idx[1, keep]] = val[keep]
    return out
