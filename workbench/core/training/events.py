"""What the Trainer reports, as plain dataclasses of numbers, strings and numpy arrays.

Events cross threads (the GUI) and processes (run files), so they never hold tensors that
need grad, modules or widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FitStarted:
    algorithm: str
    fusion: str
    epochs: int
    start_epoch: int  # > 1 when continuing from a checkpoint
    steps_per_epoch: int
    train_size: int
    val_size: int
    device: str
    parameters: int
    run_dir: str | None = None
    #: the metric that ranks runs of this algorithm (None: no single one does)
    primary: str | None = None
    #: each validation metric's chance level on this split, and the primary metric's
    #: standard error at chance (a score within two of it is no evidence of learning)
    chance: dict[str, float] = field(default_factory=dict)
    chance_spread: float | None = None
    #: what the split had to do that the user should know (a class with one example)
    split_notes: list[str] = field(default_factory=list)
    #: what makes this data's numbers weak, with the figures (``data_checks.warnings``)
    warnings: list[str] = field(default_factory=list)
    #: training pairs one epoch trains on: ``train_size`` less the last, smaller batch that
    #: ``training.drop_last`` leaves out (None: not known, taken as all of them)
    epoch_pairs: int | None = None

    def epoch_note(self) -> str | None:
        """What ``training.drop_last`` does to an epoch, in words (:func:`epoch_note`)."""
        return epoch_note(self.train_size, self.epoch_pairs)


def epoch_note(train_size: int, epoch_pairs: int | None) -> str | None:
    """"each epoch trains on 1,472 of the 1,496 training pairs: …" when ``training.drop_last``
    leaves pairs out of each epoch; None when it leaves none (or the count is not known)."""
    if epoch_pairs is None or epoch_pairs >= train_size:
        return None
    dropped = train_size - epoch_pairs
    return (f"each epoch trains on {epoch_pairs:,} of the {train_size:,} training pairs: "
            f"training.drop_last leaves out a last, smaller batch of {dropped:,} (a different "
            f"{dropped:,} each epoch)")


@dataclass
class StepLogged:
    step: int  # global, 1-based
    epoch: int  # 1-based
    epoch_progress: float  # fraction of this epoch done after the step
    losses: dict[str, float]
    lr: float
    samples: int  # pairs in the batch
    seconds: float  # of training since fit start, pauses left out (``clock.RunClock``)
    # streamed training: (shards read, shards to read) this epoch, by this process
    shards: tuple[int, int] | None = None


@dataclass
class EpochEnded:
    epoch: int
    step: int
    train: dict[str, float]  # mean loss terms over the epoch
    val: dict[str, float]  # validation losses and metrics; empty when not validated
    seconds: float  # of training since fit start, pauses left out
    lr: float = 0.0


@dataclass
class Probe:
    """One validation sample whose attention is shown."""

    index: int
    caption: str
    tokens: list[str]
    image: np.ndarray | None  # (3, S, S) uint8
    label: str | None
    #: a composite probe (``evaluation.grounding``): the half, "left" or "right", of ``image``
    #: whose emoji ``caption`` describes; None for a real sample
    captioned: str | None = None


@dataclass
class AttentionSnapshot:
    """Attention of the probe samples. ``maps`` hold one row per probe:
    ``text_to_image`` (n, L, P), ``image_to_text`` (n, P, L), ``self_attention`` (n, L, L),
    ``modality_weights`` (n, M), ``gate`` (n, H); co-attention with several heads adds each
    head's ``text_to_image_heads`` (n, H, L, P) (and ``text_to_null_heads`` (n, H, L) with
    a null key), whose mean over the heads ``text_to_image`` is. ``graph`` holds, per probe
    caption node, its neighbours' weights: GAT attention (last layer, mean over heads) or,
    for GCN, the fixed 1 / c_ij; the node's own self loop included."""

    epoch: int
    step: int
    probes: list[Probe]
    modality_names: list[str]
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    grid: tuple[int, int] | None = None  # image patches as rows x columns
    graph: list[dict] | None = None  # per probe: {"node", "neighbours": [(label, kind, w)]}
    #: the composite probes' own snapshot (two emoji side by side, one's caption:
    #: ``evaluation.grounding``), kept apart so that figures of the real probes stay theirs
    composites: AttentionSnapshot | None = None


@dataclass
class EmbeddingSnapshot:
    """Validation-set vectors: ``text``, ``image`` and ``fused`` (N, H) float32; a model
    without separate modality vectors (early fusion) has only ``fused``."""

    epoch: int
    step: int
    index: np.ndarray  # dataset rows
    text: np.ndarray | None
    image: np.ndarray | None
    fused: np.ndarray | None
    labels: np.ndarray | None
    label_names: list[str]


@dataclass
class GeneratedSamples:
    """Generator output: images (K, 3, S, S) uint8 and each sample's top words; in feature
    space, each sample's nearest real caption (``captions``) and, when ``nearest``, the
    nearest real images in place of generated ones (:mod:`.samples`)."""

    epoch: int
    step: int
    images: np.ndarray | None
    words: list[list[str]]
    captions: list[str] = field(default_factory=list)
    nearest: bool = False


@dataclass
class CheckpointWritten:
    epoch: int
    step: int
    path: str


@dataclass
class FitEnded:
    """Always the last event of a fit, exactly once."""

    status: str  # "finished", "stopped" or "failed"
    reason: str
    epoch: int
    step: int
    metrics: dict[str, float]  # validation metrics of the model the run hands over
    seconds: float  # of training, pauses left out
    run_dir: str | None = None
    checkpoint: str | None = None  # the last good checkpoint
    #: "val" and "test": the handed-over model's scores (``evaluation.report.score_split``:
    #: metrics, chance, size, primary, spread, at_chance); empty for a failed run
    scores: dict[str, dict] = field(default_factory=dict)
    #: per modality, the validation vectors' collapse figures (``evaluation.health``)
    health: dict[str, dict[str, float]] = field(default_factory=dict)
    #: what the summary says beside the numbers: at chance, collapsed, no test split
    warnings: list[str] = field(default_factory=list)
    primary: str | None = None
    #: with ``training.keep_best``: the epoch whose model is handed over, and its file
    best_epoch: int | None = None
    best_checkpoint: str | None = None

    @property
    def test_metrics(self) -> dict[str, float]:
        """The handed-over model's metrics on the test split ({} when there is none)."""
        return self.scores.get("test", {}).get("metrics", {})


Snapshot = AttentionSnapshot | EmbeddingSnapshot | GeneratedSamples
