"""Zero-shot CLIP: a two-tower model (CLIP, SigLIP) scored on a data set with no training, as
the baseline a trained model should beat.

:func:`encode` reads the pairs ``cfg.data`` names at the model's input size, splits them
exactly as a run of ``cfg`` does (``data.dataset_for``: its fractions and split seed; the split
depends on the pairs, their labels and which share an image, never on the encoders), and puts
every caption and every distinct image through the model's two towers. :func:`score_split`
then scores a split with the metric functions and names trained runs are scored with
(:mod:`.metrics`, ties as :mod:`.ranking` counts them, chance from :mod:`.report`):

- retrieval, text -> image and image -> text: R@1/5/10, median ranks and ``mean_recall``,
  among the split's own captions and distinct images (a caption looks for its image among the
  split's images; an image's rank is its best caption's);
- classification, where the data has labels: each pair's image against one prompt per label
  (``prompt`` with ``{label}`` replaced by the label's name, :data:`DEFAULT_PROMPT` unless the
  user gives another), the label of the closest prompt predicted: ``accuracy`` and
  ``macro_f1``.

:class:`.zero_shot_index.ZeroShotIndex` is the same vectors as a Retrieval-tab index. No Qt; torch
is imported when something is encoded or scored, not with this module (the GUI reads
:func:`unavailable_reason` and :func:`check_prompt` on its thread).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .compare import ZERO_SHOT as NAME
from ..config import ExperimentConfig
from ..errors import ConfigError, WorkbenchError

if TYPE_CHECKING:  # torch is imported when something is scored, not with this module
    import torch

Progress = Callable[[str, int, int], None]
DEFAULT_PROMPT = "a photo of {label}."
LABEL = "{label}"


class ZeroShotError(WorkbenchError):
    """Zero-shot scoring that cannot be done on this model or data, with the reason."""


def unavailable_reason(cfg: ExperimentConfig) -> str | None:
    """Why ``cfg`` has no zero-shot baseline (its ``model.image_model`` is no two-tower model
    found on this machine), or None. Reads the model's config.json only: no weights, no
    torch (the GUI asks on its thread)."""
    from ..pretrained.clip import two_tower_problem
    problem = two_tower_problem(cfg.model.image_model,
                                allow_download=cfg.pretrained.allow_download)
    return None if problem is None else f"{NAME} is unavailable: {problem}"


def check_prompt(template: str) -> str:
    """``template`` when it can make a prompt per label (it holds ``{label}``)."""
    if LABEL not in template:
        raise ConfigError(f"the prompt template {template!r} has no {LABEL}: it is replaced "
                          "by each label's name, e.g. " + repr(DEFAULT_PROMPT),
                          key="prompt", value=template, allowed=f"text holding {LABEL}")
    return template


def prompts_for(template: str, label_names) -> list[str]:
    """One prompt per label: ``template`` with ``{label}`` replaced by its name, as it is."""
    check_prompt(template)
    return [template.replace(LABEL, str(name)) for name in label_names]


@dataclass
class Encoded:
    """A data set through a two-tower model: ``text`` (N, D) unit vectors, one per pair's
    caption; ``image`` (M, D), one per distinct image (rows of ``dataset.table.images``);
    ``prompt_vectors`` (C, D), one per label (None without labels); ``dataset`` split as a
    run of the config is; what made them (``model``, ``source``: where it was found,
    ``prompt``, ``prompts``) and the ``seconds`` it took."""

    model: str
    source: str
    dataset: object  # PairedDataset
    text: torch.Tensor
    image: torch.Tensor
    prompt: str
    prompts: list[str]
    prompt_vectors: torch.Tensor | None
    seconds: float
    clip: object = None  # the TwoTowerModel, for typed queries

    def image_of_pairs(self, index: torch.Tensor) -> torch.Tensor:
        """The image vector of each pair at ``index`` (its distinct image's)."""
        return self.image[self.dataset.image_index[index]]


def encode(cfg: ExperimentConfig, *, prompt: str = DEFAULT_PROMPT, device: str | None = None,
           batch_size: int = 64, progress: Progress | None = None) -> Encoded:
    """The data ``cfg`` names through its two-tower ``model.image_model`` (see the module)."""
    from ..data import dataset_for, load_pairs
    from ..pretrained.clip import TwoTowerModel
    from ..training.model_setup import resolve_device

    check_prompt(prompt)
    reason = unavailable_reason(cfg)
    if reason:
        raise ZeroShotError(reason)
    t0 = time.perf_counter()
    clip = TwoTowerModel(cfg.model.image_model,
                         str(resolve_device(cfg.device if device is None else device)),
                         allow_download=cfg.pretrained.allow_download)
    table = load_pairs(cfg.data, clip.input_size, progress=progress)
    if table.images is None or table.captions is None:
        raise ZeroShotError(f"{NAME} reads captions and images, and {table.source} holds "
                            "precomputed feature vectors (an .npz)")
    dataset = dataset_for(split_config(cfg), table, progress=progress)
    image = clip.encode_images(table.images, batch_size=max(1, batch_size // 2),
                               progress=progress)
    text = clip.encode_texts(table.captions, batch_size=batch_size, progress=progress)
    names = list(dataset.label_names) if dataset.labels is not None else []
    prompts = prompts_for(prompt, names) if names else []
    import torch
    prompt_vectors = torch.from_numpy(clip.encode_texts(prompts)) if prompts else None
    return Encoded(clip.name, clip.located.source, dataset, torch.from_numpy(text),
                   torch.from_numpy(image), prompt, prompts, prompt_vectors,
                   round(time.perf_counter() - t0, 3), clip)


def split_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` as :func:`encode` splits the pairs with: the same data, fractions and split
    seed, with the from-scratch encoders (so splitting computes no other model's
    features: the split does not depend on them)."""
    out = cfg.copy()
    out.model.text_encoder, out.model.image_encoder = "bow", "cnn"
    return out


def split_metrics(encoded: Encoded, split: str) -> dict[str, float]:
    """Retrieval (and, with labels, classification) metrics of ``split``, named as a
    trained run's are; empty for an empty split."""
    from . import metrics as M
    ds = encoded.dataset
    idx = ds.indices(split)
    if len(idx) == 0:
        return {}
    image = encoded.image_of_pairs(idx)
    out = M.retrieval_metrics(encoded.text[idx], image, ds.image_ids(idx))
    if encoded.prompt_vectors is not None:
        logits = image @ encoded.prompt_vectors.T  # cosines: both sides are unit vectors
        out.update(M.classification_metrics(logits, ds.labels[idx], ds.num_classes))
    return out


def score_split(encoded: Encoded, split: str, primary: str | None) -> dict:
    """``{"split", "size", "metrics", "chance", "primary", "spread", "at_chance"}`` as
    :func:`.report.score_split` gives for a trained model, ``primary`` being the metric the
    compared algorithm is ranked by."""
    ds = encoded.dataset
    idx = ds.indices(split)
    out = {"split": split, "size": len(idx), "metrics": {}, "chance": {},
           "primary": primary, "spread": None, "at_chance": None}
    if len(idx) == 0:
        return out
    from .report import split_chance_of
    from .rules import at_chance
    metrics = split_metrics(encoded, split)
    chance, spread = split_chance_of(ds, split, primary if primary in metrics else None)
    out.update(metrics=metrics, chance={k: v for k, v in chance.items() if k in metrics})
    if spread is not None:
        out["spread"] = spread
        out["at_chance"] = at_chance(metrics[primary], chance.get(primary), spread, primary)
    return out


def score(cfg: ExperimentConfig, *, prompt: str = DEFAULT_PROMPT, splits=("val", "test"),
          primary: str | None = None, device: str | None = None,
          progress: Progress | None = None) -> dict:
    """Zero-shot scores of ``cfg``'s data (plain JSON): ``name``, ``model``, ``from``,
    ``prompt``, ``prompts``, ``primary`` (``cfg``'s algorithm's primary metric unless
    given), ``scores`` (:func:`score_split` of each of ``splits``), ``seconds``."""
    encoded = encode(cfg, prompt=prompt, device=device, progress=progress)
    return result_of(encoded, cfg, splits=splits, primary=primary)


def result_of(encoded: Encoded, cfg: ExperimentConfig, *, splits=("val", "test"),
              primary: str | None = None) -> dict:
    """:func:`score`'s result from vectors already encoded."""
    if primary is None:
        from ..algorithms import primary_metric
        primary = primary_metric(cfg.algorithm.name, cfg.algorithm.params,
                                 encoded.dataset.labels is not None)
    return {"name": NAME, "model": encoded.model, "from": encoded.source,
            "prompt": encoded.prompt, "prompts": list(encoded.prompts), "primary": primary,
            "scores": {s: score_split(encoded, s, primary) for s in splits},
            "seconds": encoded.seconds}
