"""The algorithms [document 3, 4, 5]: one module each, one registry, and which fusions fit.

This module is torch-free: it names each algorithm, its parameters and the algorithm x fusion
table; the implementation is imported when a run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from ..evaluation.names import MACRO_F1, MEAN_RECALL
from ..fusion import FUSIONS
from ..registry import Registry, Spec
from . import params as P


@dataclass(frozen=True)
class AlgorithmSpec(Spec):
    """An algorithm, the document section it comes from and the fusions it refuses (and why).

    ``primary`` gives the one validation metric that says which of two runs did better,
    from the algorithm's parameters and whether the data has labels: Compare ranks by it,
    ``training.keep_best`` keeps the epoch that maximises it, the GUI marks it. None when no
    single number says so; ``no_primary`` then says why.
    """

    section: str = ""
    needs_labels: bool = False
    #: why multi-process (torchrun) training refuses this algorithm; empty when it runs
    distributed_problem: str = ""
    invalid_fusions: Mapping[str, str] = field(default_factory=dict)
    primary: Callable[[Any, bool], str | None] = lambda params, labelled: None
    no_primary: str = ""
    #: the settings this algorithm trains well with (dotted config key -> value), taken from
    #: its built-in presets; the Model panel applies them when the user switches to it.
    #: Every algorithm names the same optimiser and training keys (``RECIPE_KEYS``), so a
    #: switch never keeps half of the previous algorithm's recipe.
    recommended: Mapping[str, Any] = field(default_factory=dict)


ALGORITHMS: Registry[AlgorithmSpec] = Registry("algorithm")

#: The optimiser and training settings every algorithm's ``recommended`` gives a value.
RECIPE_KEYS = ("optimizer.name", "optimizer.lr", "optimizer.beta1", "optimizer.weight_decay",
               "optimizer.embedding_lr_scale", "optimizer.schedule", "training.epochs",
               "training.batch_size")


def _recipe(optimizer: str, lr: float, epochs: int, batch_size: int, *, beta1: float = 0.9,
            weight_decay: float = 0.0, embedding_lr_scale: float = 1.0,
            schedule: str = "none", **params: Any) -> Mapping[str, Any]:
    """Recommended settings: the values of ``RECIPE_KEYS`` and the algorithm's parameters."""
    values = (optimizer, lr, beta1, weight_decay, embedding_lr_scale, schedule, epochs,
              batch_size)
    return MappingProxyType({**dict(zip(RECIPE_KEYS, values)),
                             **{f"algorithm.params.{k}": v for k, v in params.items()}})


_LATE_NO_DECISION = ("late fusion combines per-modality decisions, and {} has no per-modality "
                     "decision to combine")

_ = ALGORITHMS.register
_(AlgorithmSpec(
    "autoencoder", "Multimodal autoencoder",
    "Encode both modalities into a shared code, reconstruct each, keep the two correlated.",
    P.AutoencoderParams, "workbench.core.algorithms.autoencoder:Autoencoder",
    section="3.1, 4.1", primary=lambda params, labelled: MEAN_RECALL,
    # autoencoder-emoji
    recommended=_recipe("adamw", 1e-3, 30, 64, weight_decay=0.01, embedding_lr_scale=10.0,
                        schedule="cosine", corr_loss="cosine", corr_weight=0.1,
                        modality_dropout=0.3),
    invalid_fusions=MappingProxyType({
        "late": _LATE_NO_DECISION.format("the autoencoder") + " (it needs one shared code to "
                "decode both modalities from)",
    })))
_(AlgorithmSpec(
    "adversarial", "Adversarial learning",
    "A generator and a discriminator in a min-max game over text/image pairs (or modalities).",
    P.AdversarialParams, "workbench.core.algorithms.adversarial:Adversarial",
    section="3.2, 4.2",
    primary=lambda params, labelled: MEAN_RECALL if params.mode == "align" else None,
    # adversarial-generate-emoji (the default mode): Adam with beta1 0.5 and a small rate
    recommended=_recipe("adam", 2e-4, 20, 64, beta1=0.5, mode="generate"),
    no_primary="a generating GAN has no single validation number that says one run is better: "
               "its losses are a game (D's falls as G's rises), and D(real) and D(fake) say "
               "who is winning, not how good the samples are; compare its curves and samples",
    invalid_fusions=MappingProxyType({
        "late": "late fusion would let the discriminator judge each modality alone, so it "
                "could never tell a mismatched pair from a matched one",
        "coattention": "generated captions are bag-of-words vectors, not token sequences, so "
                       "there are no tokens to attend from",
    })))
_(AlgorithmSpec(
    "graph", "Graph neural network",
    "Texts and images are nodes, pairs and nearest neighbours are edges; GCN or GAT layers.",
    P.GraphParams, "workbench.core.algorithms.graph:GraphAlgorithm",
    section="3.3, 4.3",
    primary=lambda params, labelled: MACRO_F1 if labelled else MEAN_RECALL,
    # graph-gcn-emoji and graph-gat-emoji: one full-batch step per epoch, so more epochs
    # and a larger rate (at 0.001 GAT stays at the majority class)
    recommended=_recipe("adam", 5e-3, 100, 64, k=5, edge_holdout=0.3),
    distributed_problem="the graph algorithm trains on the whole graph at once (one "
                        "full-batch step per epoch over every node), so there is no batch "
                        "to split across processes: each would repeat the same step. Train "
                        "it in one process (plain 'workbench train')",
    invalid_fusions=MappingProxyType({
        "early": "early fusion merges text and image into one input, leaving no text and image "
                 "nodes for the graph to connect",
        "coattention": "graph nodes are whole texts and whole images: no token or patch "
                       "sequences reach the fusion",
    })))
_(AlgorithmSpec(
    "contrastive", "Contrastive joint embedding",
    "Two towers into one space, trained with symmetric InfoNCE and a learnable temperature.",
    P.ContrastiveParams, "workbench.core.algorithms.contrastive:Contrastive",
    section="2.1", primary=lambda params, labelled: MEAN_RECALL,
    # contrastive-emoji: a fixed temperature (a learned one overfits small data)
    recommended=_recipe("adamw", 1e-3, 60, 128, weight_decay=0.01, embedding_lr_scale=10.0,
                        schedule="cosine", init_temperature=0.1, learn_temperature=False),
    invalid_fusions=MappingProxyType({
        "early": "early fusion merges the inputs, leaving no separate text and image "
                 "embeddings to contrast",
        "late": _LATE_NO_DECISION.format("a contrastive model"),
        "coattention": "cross-attention lets each caption see its own image before the loss, "
                       "so matching pairs becomes trivial and nothing useful is learned",
        "attention": "the contrastive loss trains the two towers only: the attention weights "
                     "would get no gradient",
        "tensor": "the contrastive loss trains the two towers only: the tensor fusion layer "
                  "would get no gradient",
        "gated": "the contrastive loss trains the two towers only: the gate would get no "
                 "gradient",
    })))
_(AlgorithmSpec(
    "matching", "Image-text matching",
    "A dual encoder finds candidates; a co-attention cross-encoder, trained on its hard "
    "negatives, re-ranks them (ALBEF).",
    P.MatchingParams, "workbench.core.algorithms.matching:Matching",
    section="2.1, 2.4", primary=lambda params, labelled: MEAN_RECALL,
    # matching-emoji
    recommended=_recipe("adamw", 1e-3, 60, 128, weight_decay=0.01, embedding_lr_scale=10.0,
                        schedule="cosine", itm_weight=1.0),
    invalid_fusions=MappingProxyType({
        name: "image-text matching re-ranks with a cross-encoder that reads the caption's "
              "words against the image's patches: only co-attention fusion is one"
        for name in FUSIONS if name != "coattention"})))
_(AlgorithmSpec(
    "classifier", "Fused classifier",
    "Predict the label from both modalities through the chosen fusion.",
    P.ClassifierParams, "workbench.core.algorithms.classifier:Classifier",
    section="5, 2.3", needs_labels=True, primary=lambda params, labelled: MACRO_F1,
    # classifier-*-emoji
    recommended=_recipe("adamw", 1e-3, 40, 64, weight_decay=0.01, embedding_lr_scale=10.0,
                        schedule="cosine", modality_dropout=0.5)))
del _


def fusion_problem(algorithm: str, fusion: str) -> str | None:
    """Why ``fusion`` cannot be used with ``algorithm``, or None when the pair is valid."""
    if algorithm not in ALGORITHMS:
        return f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}"
    if fusion not in FUSIONS:
        return f"unknown fusion {fusion!r}; known: {', '.join(FUSIONS)}"
    return ALGORITHMS[algorithm].invalid_fusions.get(fusion)


def primary_metric(algorithm: str, params: Any, labelled: bool) -> str | None:
    """The metric that ranks runs of ``algorithm`` with ``params`` on data with labels or
    not (``AlgorithmSpec.primary``); None when there is none."""
    return ALGORITHMS[algorithm].primary(params, labelled)


def valid_fusions(algorithm: str) -> list[str]:
    """The fusions ``algorithm`` accepts, in registry order."""
    return [f for f in FUSIONS if fusion_problem(algorithm, f) is None]
