"""Parameters of each algorithm (no torch here: presets are validated without it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param


@dataclass
class AutoencoderParams:
    corr_loss: str = param("cosine", "Correlation loss between the text and image hidden "
                           "vectors: negative cosine (the document's choice), InfoNCE or "
                           "soft-CCA.", choices=("cosine", "infonce", "soft_cca"))
    corr_weight: float = param(0.1, "lambda: weight of the correlation loss.", min=0.0,
                               max=100.0, label="Correlation weight (lambda)",
                               search=(0.01, 1.0), search_log=True)
    temperature: float = param(0.1, "Temperature of the InfoNCE correlation loss.", min=0.01,
                               max=10.0, log=True, when={"corr_loss": ("infonce",)},
                               search=(0.02, 0.5), search_log=True)
    text_weight: float = param(1.0, "Weight of the text reconstruction loss.", min=0.0,
                               max=100.0,
                               search=(0.1, 10.0), search_log=True)
    image_weight: float = param(1.0, "Weight of the image reconstruction loss.", min=0.0,
                                max=100.0,
                                search=(0.1, 10.0), search_log=True)
    modality_dropout: float = param(0.0, "Probability that a sample's shared code is built "
                                    "from one modality only, so the other is reconstructed "
                                    "across modalities.", min=0.0, max=0.9,
                                    search=(0.0, 0.5))


GENERATE = {"mode": ("generate",)}
ALIGN = {"mode": ("align",)}


@dataclass
class AdversarialParams:
    mode: str = param("generate", "generate: a generator makes text/image pairs from noise "
                      "against a matching-aware pair discriminator. align: a modality "
                      "discriminator that the encoders learn to fool.",
                      choices=("generate", "align"))
    noise_dim: int = param(32, "Size of the generator's noise vector.", min=2, max=512,
                           when=GENERATE,
                           search=(8, 128), search_log=True)
    d_steps: int = param(1, "Discriminator steps per generator step.", min=1, max=10,
                         search=(1, 5))
    mismatch_weight: float = param(1.0, "Weight of real images with wrong real captions as "
                                   "fakes (matching-aware discriminator; 0 turns it off).",
                                   min=0.0, max=10.0, when=GENERATE,
                                   search=(0.1, 10.0), search_log=True)
    label_smoothing: float = param(0.1, "One-sided label smoothing of the discriminator's "
                                   "real targets.", min=0.0, max=0.5,
                                   search=(0.0, 0.3))
    spectral_norm: bool = param(True, "Spectral normalisation of every discriminator layer "
                                "(Miyato et al. 2018), so the discriminator cannot overpower "
                                "the generator.", when=GENERATE)
    projection: bool = param(True, "Add a caption-times-image term to the discriminator's "
                             "score (projection discriminator, Miyato & Koyama 2018), so it "
                             "judges whether a caption fits its image; off, it scores the "
                             "fused pair alone and barely learns the pairing.", when=GENERATE)
    adv_weight: float = param(0.1, "Weight of the encoders' fool-the-discriminator loss.",
                              min=0.0, max=10.0, when=ALIGN,
                              search=(0.01, 1.0), search_log=True)
    pair_weight: float = param(1.0, "Weight of the pairing loss that keeps each caption next "
                               "to its image.", min=0.0, max=10.0, when=ALIGN,
                               search=(0.1, 10.0), search_log=True)


@dataclass
class GraphParams:
    conv: str = param("gcn", "Graph layer: GCN (fixed weights 1 / c_ij, see normalization) "
                      "or graph attention (GAT, whose weights are shown).",
                      choices=("gcn", "gat"))
    normalization: str = param("symmetric", "GCN's c_ij, degrees counting the self loop: "
                               "symmetric is Kipf & Welling's c_ij = sqrt(d_i d_j), whose "
                               "propagation never amplifies the features; document is the "
                               "source document's example c_ij = sqrt(d_i + d_j).",
                               choices=("symmetric", "document"), when={"conv": ("gcn",)})
    layers: int = param(2, "Graph layers.", min=1, max=6,
                        search=(1, 4))
    heads: int = param(2, "Attention heads.", min=1, max=8, when={"conv": ("gat",)},
                       search=(1, 4))
    k: int = param(5, "Each node is linked to its k nearest neighbours by feature "
                   "similarity.", min=0, max=50,
                   search=(2, 20))
    cross_modal_knn: bool = param(False, "Also link nearest neighbours across modalities "
                                  "(text to image), not only within each.")
    edge_holdout: float = param(0.3, "Fraction of the training pair edges hidden from the "
                                "graph and predicted (link prediction).", min=0.0, max=0.5,
                                search=(0.1, 0.5))
    node_weight: float = param(1.0, "Weight of the node classification loss (when labels "
                               "exist).", min=0.0, max=10.0,
                               search=(0.1, 10.0), search_log=True)
    edge_weight: float = param(1.0, "Weight of the pair-edge prediction loss.", min=0.0,
                               max=10.0,
                               search=(0.1, 10.0), search_log=True)


@dataclass
class ContrastiveParams:
    init_temperature: float = param(0.07, "Starting temperature of the symmetric InfoNCE "
                                    "loss.", min=0.005, max=1.0, log=True,
                                    search=(0.02, 0.5), search_log=True)
    learn_temperature: bool = param(True, "Learn the temperature (as CLIP does) instead of "
                                    "keeping it fixed.")


GROUNDING_NOTE = " Needs co-attention fusion (see Grounding in the README)."


@dataclass
class ClassifierParams:
    label_smoothing: float = param(0.0, "Label smoothing of the cross-entropy loss.", min=0.0,
                                   max=0.5,
                                   search=(0.0, 0.3))
    modality_dropout: float = param(0.0, "Probability of blanking one modality of a training "
                                    "sample, so the model learns to use each alone.",
                                    min=0.0, max=0.9,
                                    search=(0.0, 0.5))
    itm_weight: float = param(0.0, "Weight of image-text matching: the co-attention tells "
                              "each caption's own image from a hard negative (a similar image "
                              "of the batch), which it can only do by looking at the image; "
                              "0 turns it off." + GROUNDING_NOTE, min=0.0, max=10.0,
                              label="Matching weight", search=(0.0, 2.0))
    itm_negatives: str = param("hard", "Which mismatched pairs image-text matching learns "
                               "from: hard (drawn by similarity, as ALBEF: the most similar "
                               "other images of the batch most often) or random (any other "
                               "image of the batch alike)." + GROUNDING_NOTE,
                               choices=("hard", "random"), label="Negatives")
    mlm_weight: float = param(0.0, "Weight of masked-word prediction: one word of each caption "
                              "is hidden and predicted through the co-attention over the "
                              "image; 0 turns it off." + GROUNDING_NOTE, min=0.0, max=10.0,
                              label="Masked-word weight", search=(0.0, 2.0))
    align_weight: float = param(0.0, "Weight of word-patch alignment: the co-attention's own "
                                "word x patch logits score every caption against every image "
                                "of the batch (each word by its best-fitting patches), and "
                                "the caption's own image must score highest; 0 turns it "
                                "off." + GROUNDING_NOTE, min=0.0, max=10.0,
                                label="Alignment weight", search=(0.0, 2.0))


@dataclass
class MatchingParams:
    itm_weight: float = param(1.0, "Weight of image-text matching: the co-attention "
                              "cross-encoder tells each caption's own image from a hard "
                              "negative (a similar image of the batch, by the dual encoder).",
                              min=0.05, max=10.0, label="Matching weight",
                              search=(0.1, 3.0), search_log=True)
    itm_negatives: str = param("hard", "Which mismatched pairs image-text matching learns "
                               "from: hard (drawn by similarity, as ALBEF: the most similar "
                               "other images of the batch most often) or random (any other "
                               "image of the batch alike).",
                               choices=("hard", "random"), label="Negatives")
    mlm_weight: float = param(0.0, "Weight of masked-word prediction: one word of each caption "
                              "is hidden and predicted through the co-attention over the "
                              "image; 0 turns it off.", min=0.0, max=10.0,
                              label="Masked-word weight", search=(0.0, 2.0))
    rerank_k: int = param(20, "Retrieval re-ranks each query's top k candidates of the dual "
                          "encoder with the cross-encoder (reported as reranked_*); above 10, "
                          "so that R@10 can change.", min=1,
                          max=100, label="Re-rank top k", search=(5, 50))
