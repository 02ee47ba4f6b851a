"""Multimodal graph neural network [document 3.3, 4.3].

Every caption and every distinct image is a node; pairs and nearest neighbours are edges
(see :mod:`.graph_build`). Node inputs come from the workbench encoders (trained end to end)
and pass through ``layers`` graph layers, transductively on the full graph as in Kipf &
Welling: one training step per epoch over every node of every split, the validation and test
pairs' caption-image edges never in the graph.

- GCN: h_i^(l) = sigma(sum_{j in N(i) + i} (1 / c_ij) h_j^(l-1) W^(l)), the degrees d
  counting the self loop (:mod:`.graph_conv`). ``normalization`` picks c_ij: by default
  ``symmetric``, Kipf & Welling's c_ij = sqrt(d_i d_j), whose propagation never amplifies
  the features however high the degrees; ``document``, the document's example
  c_ij = sqrt(d_i + d_j), which has no such bound.
- GAT: the weights 1 / c_ij replaced by learned attention (shown in the GUI).

Losses, both reported:

- ``edge``: held-out pair-edge prediction. The score of a caption and an image is the cosine
  of their output vectors times a learned inverse temperature; symmetric InfoNCE over the
  held-out training pairs (each caption against the other held-out images and back). Every
  other held-out image is a negative, with no negative sampling to tune, and it is the same
  loss and score the retrieval metrics rank by. On validation, it runs over the split's pairs.
- ``node`` (labelled data only): cross-entropy of the pair's label from its caption node and
  image node outputs combined by the chosen fusion, on the training pairs.

``loss = edge_weight * edge + node_weight * node``.

PyTorch Geometric (GAT's layer) is imported here only, lazily (it takes seconds to import).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.dataset import Batch
from ..data.text import PAD
from ..errors import WorkbenchError
from ..models.encoders import FeatureEncoder
from ..models.features import ModalityFeatures
from . import graph_build as G
from .base import Algorithm, pair_outputs
from .graph_conv import GCNLayer, edge_norm
from .losses import info_nce

MAX_PAIRS = 50_000  # full-graph training holds every node's activations at once
MAX_SCALE = 100.0  # cap on the learned 1 / temperature, as CLIP
INIT_TEMPERATURE = 0.1
MAX_NEIGHBOURS = 12  # neighbours listed per probe in the attention snapshot


class GraphAlgorithm(Algorithm):
    """Encoders -> GCN or GAT layers over the caption and image nodes of the whole dataset
    -> pair-edge (retrieval) and node (label) losses. ``prepare`` builds the graph."""

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.build_encoders()
        h, p = cfg.model.hidden_dim, self.params
        self.convs = nn.ModuleList(self._conv(h, last=i == p.layers - 1)
                                   for i in range(p.layers))
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / INIT_TEMPERATURE)))
        late = self._late()
        labelled = info.has_labels
        if not labelled and cfg.fusion.name != "mean":
            # Without labels only the edge loss trains, and it never reaches the fusion.
            raise WorkbenchError(
                f"without labels the graph algorithm learns only pair edges, which never "
                f"reach the fusion: '{cfg.fusion.name}' would stay untrained; use 'mean' "
                "fusion or choose a label column (data.label_column)")
        self.fusion = self.build_fusion(info.num_classes if late and labelled else h)
        self.head = nn.Linear(h, info.num_classes) if labelled and not late else None
        # Node inputs, edges and pair bookkeeping: set by prepare(), rebuilt from the data
        # (so not saved in checkpoints), moved to the device with the model.
        for name in ("text_tokens", "text_feats", "text_states", "text_state_mask",
                     "image_pixels", "image_feats", "edge_index",
                     "image_of_pair", "held_out"):
            self.register_buffer(name, None, persistent=False)
        self.cross_edges: Tensor | None = None
        self.num_text = 0
        self.captions: list[str] = []
        self.image_rows: list[int] = []
        self._version = 0  # bumped whenever the weights or the graph may have changed
        self._cache: tuple[int, dict] | None = None

    def _late(self) -> bool:
        from ..fusion import FUSIONS
        return FUSIONS[self.cfg.fusion.name].load().decision_level

    def _conv(self, h: int, *, last: bool) -> nn.Module:
        if self.params.conv == "gcn":
            # Our own layer rather than PyG's GCNConv, so c_ij can be the document's
            # sqrt(d_i + d_j) as well as GCNConv's sqrt(d_i d_j); same parameters as GCNConv.
            return GCNLayer(h, h, self.params.normalization)
        GATConv, heads = _pyg("GATConv"), self.params.heads
        # Heads are concatenated (h / heads each) in hidden layers when they divide h, and
        # averaged in the last layer (as the GAT paper): the output stays h wide.
        concat = not last and h % heads == 0
        return GATConv(h, h // heads if concat else h, heads=heads, concat=concat,
                       dropout=self.cfg.model.dropout)

    # ------------------------------------------------------------------ the graph
    def prepare(self, dataset) -> None:
        p = self.params
        if len(dataset) > MAX_PAIRS:
            raise WorkbenchError(
                f"the graph algorithm trains on every node at once, and this dataset has "
                f"{len(dataset):,} pairs (at most {MAX_PAIRS:,}); use the contrastive "
                "algorithm, which trains in batches, or a smaller dataset")
        if not (self.info.has_labels and p.node_weight > 0) and \
                not (p.edge_holdout > 0 and p.edge_weight > 0):
            raise WorkbenchError(
                "the graph algorithm has nothing to learn: without labels (or with "
                "node_weight = 0) it learns from held-out pair edges, so edge_holdout and "
                "edge_weight must be above 0")
        super().prepare(dataset)
        graph = G.build_graph(dataset, p.k, p.edge_holdout, self.cfg.seed)
        self.num_text = graph.num_text
        self.edge_index, self.image_of_pair = graph.edge_index, graph.image_of_pair
        self.held_out = graph.held_out
        self.image_rows = graph.image_rows.tolist()
        self.captions = [dataset.table.caption(i) for i in range(len(dataset))]
        if dataset.tokens is not None:
            length = int(dataset.lengths.max().clamp(min=1))
            self.text_tokens = dataset.tokens[:, :length]
        if dataset.text_features is not None:
            self.text_feats = dataset.text_features
        if dataset.text_states is not None and self.reads_states:  # word pieces, float16
            length = int(dataset.text_lengths.max().clamp(min=1))
            self.text_states = torch.from_numpy(
                np.ascontiguousarray(dataset.text_states[:, :length]))
            self.text_state_mask = torch.arange(length)[None, :] < dataset.text_lengths[:, None]
        if dataset.images is not None and dataset.image_states is None:  # pixels read
            self.image_pixels = dataset.images
        if dataset.image_features is not None:
            self.image_feats = dataset.image_features[graph.image_rows]
        self.cross_edges = None
        self._version += 1

    def _node_inputs(self) -> tuple[Tensor, Tensor]:
        """Encoder outputs of every caption (N, H) and every distinct image (M, H)."""
        if self.edge_index is None:
            raise RuntimeError("GraphAlgorithm.prepare(dataset) must run before the model")
        tokens = self.text_tokens
        states = self.text_states
        mask = self.text_state_mask if states is not None else \
            None if tokens is None else tokens != PAD
        text = Batch(index=torch.arange(self.num_text), tokens=tokens, mask=mask,
                     text_features=self.text_feats,
                     text_states=None if states is None else states.float())
        pixels = self.image_pixels
        image = Batch(index=torch.arange(len(self.image_rows)), image_features=self.image_feats,
                      images=None if pixels is None else pixels.float() / 255.0)
        return self.text_encoder(text).vector, self.image_encoder(image).vector

    def node_outputs(self) -> dict[str, Tensor]:
        """Full-graph forward: ``text`` (N, H) and ``image`` (M, H) node outputs, and the
        edges with the last layer's weights per edge (``edges``, ``weights``: GAT attention
        averaged over heads, or GCN's 1 / c_ij). In eval mode without grad, the result is
        cached until the weights change (evaluate, embed and attention then share one)."""
        cacheable = not self.training and not torch.is_grad_enabled()
        if cacheable and self._cache is not None and self._cache[0] == self._version:
            return self._cache[1]
        text, image = self._node_inputs()
        n = self.num_text
        if self.params.cross_modal_knn and (self.training or self.cross_edges is None):
            # Recomputed at each training step, i.e. once per epoch; no gradient.
            self.cross_edges = G.cross_modal_edges(text.detach(), image.detach(), self.params.k)
        edges = self.edge_index
        if self.params.cross_modal_knn:
            edges = G.undirected(torch.cat([edges, self.cross_edges], 1), n + len(image))
        x = torch.cat([text, image])
        out = {}
        for i, conv in enumerate(self.convs):
            if i < len(self.convs) - 1:
                x = F.dropout(F.relu(conv(x, edges)), self.cfg.model.dropout, self.training)
            elif self.params.conv == "gat" and not self.training:
                x, (out["edges"], alpha) = conv(x, edges, return_attention_weights=True)
                out["weights"] = alpha.mean(1)
            else:
                x = conv(x, edges)
        if self.params.conv == "gcn" and not self.training:
            out["edges"], out["weights"] = edge_norm(edges, len(x), self.params.normalization,
                                                     dtype=x.dtype)
        out["text"], out["image"] = x[:n], x[n:]
        if cacheable:
            self._cache = (self._version, out)
        return out

    # ------------------------------------------------------------------ losses
    def forward_step(self, batch):
        nodes = self.node_outputs()
        rows = batch.index
        text, image = nodes["text"][rows], nodes["image"][self.image_of_pair[rows]]
        fused = self.fusion([_features("text", text), _features("image", image)])
        # Training predicts the hidden edges of the held-out training pairs; evaluation
        # predicts the split's own pairs, whose edges were never in the graph either.
        edge_rows = self.held_out if self.training else rows
        edge = text.new_zeros(())
        if len(edge_rows) > 1:
            scale = self.log_scale.exp().clamp(max=MAX_SCALE)
            ids = self.image_of_pair[edge_rows]
            t2i, i2t = info_nce(nodes["text"][edge_rows], nodes["image"][ids], scale, ids)
            edge = (t2i + i2t) / 2
        losses = {"edge": edge}
        loss = self.params.edge_weight * edge
        out = pair_outputs(batch, text, image, fused)
        if self.info.has_labels and batch.labels is not None:
            logits = fused.z if self.head is None else self.head(fused.z)
            losses["node"] = F.cross_entropy(logits, batch.labels)
            loss = loss + self.params.node_weight * losses["node"]
            out["logits"] = logits.detach()
        losses["loss"] = loss
        losses["temperature"] = (1.0 / self.log_scale.exp().clamp(max=MAX_SCALE)).detach()
        return losses, out

    # ------------------------------------------------------------------ training
    def train_batches(self, dataset, batch_size, generator, shard=None, drop_last=False):
        """One full-graph step per epoch: the "batch" is every training pair (the node
        loss's rows); the forward pass covers every node anyway, so ``drop_last`` has
        nothing to drop. Never sharded: the registry refuses multi-process training of this
        algorithm (``distributed_problem``)."""
        rows = dataset.indices("train")
        yield Batch(index=rows, image_ids=dataset.image_index[rows],
                    labels=None if dataset.labels is None else dataset.labels[rows])

    def steps_per_epoch(self, dataset, batch_size, drop_last=False) -> int:
        return 1

    def epoch_pairs(self, dataset, batch_size, drop_last=False) -> int:
        return len(dataset.indices("train"))

    def training_step(self, batch, optim):
        self._version += 1
        return super().training_step(batch, optim)

    # Anything that changes the weights, the graph or the device drops the cached forward.
    def load_state_dict(self, *args, **kwargs):
        self._version += 1
        return super().load_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        self._cache, self.cross_edges = None, None
        return super()._apply(fn, *args, **kwargs)

    # ------------------------------------------------------------------ inspection
    @torch.no_grad()
    def attention(self, batch):
        """``graph``: for each probe's caption node, its incoming neighbours (itself
        included) weighted by the last layer: GAT's attention averaged over heads, or for
        GCN the fixed normalisation 1 / c_ij, which still shows which neighbours (and how
        well-connected ones) a caption draws on. Plus the fusion's maps of the probes and the
        caption self-attention, as the other algorithms report them."""
        nodes = self.node_outputs()
        src, dst = nodes["edges"]
        weights = nodes["weights"]
        n = self.num_text
        graph = []
        for row in batch.index.tolist():
            into = (dst == row).nonzero().squeeze(1)
            order = weights[into].argsort(descending=True)[:MAX_NEIGHBOURS]
            neighbours = [self._neighbour(int(src[e]), row, n, float(weights[e]))
                          for e in into[order].tolist()]
            graph.append({"node": self.captions[row], "neighbours": neighbours})
        maps: dict = {"graph": graph}
        rows = batch.index
        text = nodes["text"][rows]
        image = nodes["image"][self.image_of_pair[rows]]
        maps.update(self.fusion([_features("text", text), _features("image", image)]).attention)
        if not isinstance(self.text_encoder, FeatureEncoder) and \
                self.text_encoder.block is not None:
            self.text_encoder(batch, keep_weights=True)
            maps["self_attention"] = self.text_encoder.block.last_weights
        return maps

    def _neighbour(self, node: int, row: int, n: int, weight: float) -> tuple[str, str, float]:
        if node == row:
            return f"{self.captions[row]} (itself)", "text", weight
        if node < n:
            return self.captions[node], "text", weight
        return f"image: {self.captions[self.image_rows[node - n]]}", "image", weight


# What torch says when PyG's import calls torch.jit.script on its pool classes. The category
# changes between torch releases (DeprecationWarning, FutureWarning: the latter is shown by
# default), so the filter matches the message, whatever the category.
JIT_DEPRECATED = r"`torch\.jit\.\w+` is (deprecated|not supported)"


def _pyg(name: str):
    """A name from PyTorch Geometric, imported on first use (it takes seconds)."""
    return getattr(import_quietly("torch_geometric.nn"), name)


def import_quietly(module: str):
    """Import ``module`` without torch's TorchScript deprecation warnings: PyG's import runs
    ``torch.jit.script`` (``nn/pool/*/base.py``), a warning that is PyG's to fix, not the
    user's, so it is kept out of their log; every other warning still shows."""
    import importlib
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", JIT_DEPRECATED, Warning)
        return importlib.import_module(module)


def _features(name: str, vector: Tensor) -> ModalityFeatures:
    """A node output as a fusion input: the vector is the whole modality (one "token")."""
    mask = torch.ones(len(vector), 1, dtype=torch.bool, device=vector.device)
    return ModalityFeatures(name, vector, vector.unsqueeze(1), mask, vector)
