"""Does a model's co-attention ground its words in the image? Two measures (issue 20).

- :func:`split_attention_stats`: the Attention tab's figures (``attention_stats``: normalised
  entropy, word specificity, foreground gain) over every pair of a split, not just the few
  probes a snapshot shows.
- The pointing game: two emoji of different label groups, whose captions share no word, side
  by side in one image at the model's own size, with the caption of one of them
  (:func:`make_composites`). A composite scores a hit when the text -> image attention of the
  caption's words (their mean map) puts more mass on the captioned emoji's half of the patch
  grid than on the other half (:func:`half_masses`); a model that ignores where the words'
  emoji is hits half the time (chance 0.5). No model ever trains on a composite: they are
  built here, for measuring, from the split's own images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.dataset import Batch, PairedDataset
from ..data.text import OOV, PAD, tokenize
from ..errors import WorkbenchError
from ..training.events import AttentionSnapshot, Probe
from .attention_stats import FOREGROUND_SHARE, foreground_patches, snapshot_stats
from .pointing import SIDES, half_masses, pointing_hits, pointing_score

MAX_TRIES = 200  # draws per composite before the split is deemed to have too few pairs


class GroundingError(WorkbenchError):
    """A model or data set the grounding measures cannot score, with the reason."""


@dataclass
class Composites:
    """Composite images and what each shows. ``rows`` (n, 2): the dataset rows drawn on the
    left and the right half; ``side`` (n,): 0 when the caption is the left one's, 1 the
    right's; ``images`` (n, 3, S, S) uint8, white outside the two emoji."""

    rows: np.ndarray
    side: np.ndarray
    images: np.ndarray

    def __len__(self) -> int:
        return len(self.side)

    @property
    def captioned(self) -> np.ndarray:
        """(n,) the dataset row whose caption each composite carries."""
        return self.rows[np.arange(len(self)), self.side]


def composite_problem(dataset: PairedDataset) -> str | None:
    """Why composites cannot be made of ``dataset`` (None: they can): they need captions as
    words the model reads one by one (word ids, or a pretrained model's word pieces), pixels
    the model reads, and labels to tell two emoji's groups apart."""
    if dataset.tokens is None and dataset.text_states is None and dataset.piece_ids is None:
        return "it needs captions the model reads word by word (not as feature vectors)"
    if dataset.images is None or not dataset.pixels_to_model or dataset.image_features is not None:
        return "it needs images the model reads as pixels (not features or a pretrained model's)"
    if dataset.labels is None:
        return "it needs labels, so that the two emoji come from different groups"
    return None


def _word_sets(dataset: PairedDataset, rows: np.ndarray) -> list[frozenset]:
    """Each row's caption as the set of the words the model can read in it. With a
    vocabulary: its known word ids (padding and out-of-vocabulary left out: an unknown word
    is no evidence that two captions share one). With a pretrained text model, which reads
    every word: all its words (the same tokenizer as a vocabulary's, not word pieces, so
    that "grinning" and "winning" share no word through "##ning")."""
    if dataset.tokens is None:
        return [frozenset(tokenize(dataset.table.caption(r))) for r in rows.tolist()]
    out = []
    for r in rows.tolist():
        ids = dataset.tokens[r, : int(dataset.lengths[r])].tolist()
        out.append(frozenset(i for i in ids if i not in (PAD, OOV)))
    return out


def place_side_by_side(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """(n, 3, S, S) uint8: each pair of images (n, 3, S, S) uint8 scaled to half the width
    (aspect ratio kept), centred vertically in its half, white elsewhere. For an odd S the
    middle column stays white."""
    n, _, size, _ = left.shape
    half = size // 2
    top = (size - half) // 2
    out = torch.full((n, 3, size, size), 255, dtype=torch.uint8)
    for x0, images in ((0, left), (size - half, right)):
        small = F.interpolate(images.float(), size=(half, half), mode="area")
        out[:, :, top:top + half, x0:x0 + half] = small.round().clamp(0, 255).to(torch.uint8)
    return out


def make_composites(dataset: PairedDataset, split: str = "val", n: int = 500,
                    seed: int = 0) -> Composites:
    """``n`` composites of ``split``'s pairs (drawn with replacement, deterministic for
    ``seed``): two samples of different labels whose captions share no known word, in a
    random left/right order, carrying the caption of a random one of them. Fewer than ``n``
    when the split has too few such pairs to find them in ``MAX_TRIES`` draws each; raises
    GroundingError when it has none."""
    problem = composite_problem(dataset)
    if problem:
        raise GroundingError(f"no composites can be made of this data: {problem}")
    index = dataset.indices(split).numpy()
    if len(index) < 2:
        raise GroundingError(f"the {split} split has {len(index)} pairs: composites need two")
    words = dict(zip(index.tolist(), _word_sets(dataset, index)))
    labels = dataset.labels.numpy()
    rng = np.random.default_rng(seed)
    rows, sides = [], []
    for _ in range(n * MAX_TRIES):
        if len(rows) == n:
            break
        a, b = rng.choice(index, size=2, replace=False).tolist()
        if labels[a] == labels[b] or words[a] & words[b] or not words[a] or not words[b]:
            continue
        rows.append((a, b))
        sides.append(int(rng.integers(2)))
    if not rows:
        raise GroundingError(f"the {split} split has no two samples of different labels "
                             "whose captions share no word")
    rows_ = np.array(rows, dtype=np.int64)
    pictures = dataset.images[dataset.image_index[torch.from_numpy(rows_)]]  # (n, 2, 3, S, S)
    images = place_side_by_side(pictures[:, 0], pictures[:, 1]).numpy()
    return Composites(rows_, np.array(sides, dtype=np.int64), images)


def composite_batch(dataset: PairedDataset, composites: Composites,
                    select: slice | np.ndarray = slice(None)) -> Batch:
    """The composites (``select`` of them) as the model reads a batch: the captioned row's
    text fields exactly as ``dataset.batch`` gives them, the composite image in place of its
    own, and an image id no real image has (nothing may mistake it for the original)."""
    rows = torch.from_numpy(composites.captioned[select])
    b = dataset.batch(rows)
    b.images = torch.from_numpy(composites.images[select]).float().div_(255.0)
    b.image_ids = len(dataset.images) + torch.arange(len(composites))[select]
    b.image_states = b.image_features = None
    return b


def patch_grid(algorithm, patches: int) -> tuple[int, int]:
    """The image encoder's patch grid (rows, cols), as the Trainer's snapshots give it; a
    square grid when the encoder does not say and ``patches`` is a square."""
    grid = getattr(getattr(algorithm, "image_encoder", None), "grid", None)
    if grid and grid * grid == patches:
        return grid, grid
    side = math.isqrt(patches)
    if side * side != patches:
        raise GroundingError(f"cannot tell the patch grid of {patches} patches")
    return side, side


def _describe(algorithm) -> str:
    cfg = getattr(algorithm, "cfg", None)
    if cfg is None:
        return type(algorithm).__name__
    return f"{cfg.algorithm.name} with {cfg.fusion.name} fusion"


def _attention(algorithm, batch: Batch) -> dict[str, np.ndarray]:
    """``algorithm.attention`` in eval mode on the model's device, as numpy arrays."""
    device = next((p.device for p in algorithm.parameters()), torch.device("cpu"))
    was_training = algorithm.training
    algorithm.eval()
    try:
        with torch.no_grad():
            maps = algorithm.attention(batch.to(device))
    finally:
        algorithm.train(was_training)
    maps.pop("graph", None)
    return {k: v.detach().float().cpu().numpy() for k, v in maps.items()}


def _text_to_image(algorithm, maps: dict) -> np.ndarray:
    t2i = maps.get("text_to_image")
    if t2i is None:
        raise GroundingError(f"{_describe(algorithm)} has no text -> image attention map to "
                             "score; the grounding measures need co-attention fusion")
    return t2i


def pointing_game(algorithm, dataset: PairedDataset, split: str = "val", n: int = 500,
                  seed: int = 0, batch_size: int = 128) -> dict:
    """The pointing game (module docstring) on ``n`` composites of ``split``: hits, n, rate,
    chance and se (:func:`pointing_score`)."""
    comps = make_composites(dataset, split, n, seed)
    hits = 0
    for start in range(0, len(comps), batch_size):
        select = slice(start, start + batch_size)
        batch = composite_batch(dataset, comps, select)
        t2i = _text_to_image(algorithm, _attention(algorithm, batch))
        masses = half_masses(t2i, batch.mask.sum(1).numpy(), patch_grid(algorithm,
                                                                       t2i.shape[-1]))
        hits += int(pointing_hits(masses, comps.side[select]).sum())
    return pointing_score(hits, len(comps))


def probe_of(dataset: PairedDataset, row: int, image: np.ndarray | None = None,
             captioned: str | None = None) -> Probe:
    """Dataset row ``row`` as a snapshot's probe: its caption, the words the model reads,
    its image (or ``image``, a composite's) and label."""
    tokens: list[str] = []
    if dataset.tokens is not None:
        ids = dataset.tokens[row, : int(dataset.lengths[row])].tolist()
        tokens = [dataset.vocab.words[t] for t in ids]
    elif dataset.text_pieces is not None:  # a pretrained model's word pieces
        tokens = list(dataset.text_pieces[row])
    if image is None and dataset.images is not None:
        image = dataset.images[int(dataset.image_index[row])].numpy()
    label = dataset.label_names[int(dataset.labels[row])] if dataset.labels is not None \
        else None
    return Probe(row, dataset.table.caption(row), tokens, image, label, captioned)


def composite_probes(dataset: PairedDataset, composites: Composites) -> list[Probe]:
    """The composites as probes: the captioned row's caption and words, the composite image,
    and which half (``Probe.captioned``) the caption describes."""
    return [probe_of(dataset, int(r), composites.images[k], SIDES[int(composites.side[k])])
            for k, r in enumerate(composites.captioned)]


def composite_snapshot(algorithm, dataset: PairedDataset, composites: Composites, *,
                       epoch: int = 0, step: int = 0) -> AttentionSnapshot | None:
    """The composites' attention as a snapshot (for the Attention tab), or None when the
    model has no text -> image map."""
    maps = _attention(algorithm, composite_batch(dataset, composites))
    if "text_to_image" not in maps:
        return None
    t2i = maps["text_to_image"]
    return AttentionSnapshot(epoch, step, composite_probes(dataset, composites),
                             list(algorithm.modality_names), maps,
                             patch_grid(algorithm, t2i.shape[-1]))


def _pad_stack(parts: list[np.ndarray]) -> np.ndarray:
    """Batches' maps stacked along the first axis, each zero-padded to the largest shape
    (batches trim captions to their longest; a zero row or key is padding to every figure)."""
    shape = np.max([p.shape for p in parts], axis=0)
    return np.concatenate([np.pad(p, [(0, 0)] + [(0, s - d) for s, d in
                                                   zip(shape[1:], p.shape[1:])])
                           for p in parts])


def split_snapshot(algorithm, dataset: PairedDataset, split: str = "val",
                   batch_size: int = 256) -> AttentionSnapshot:
    """Every pair of ``split`` as one attention snapshot (each pair a probe)."""
    parts: dict[str, list[np.ndarray]] = {}
    rows: list[int] = []
    for b in dataset.batches(split, batch_size):
        for key, value in _attention(algorithm, b).items():
            parts.setdefault(key, []).append(value)
        rows.extend(b.index.tolist())
    maps = {k: _pad_stack(v) for k, v in parts.items() if len(v) and v[0].ndim >= 2}
    t2i = maps.get("text_to_image")
    grid = patch_grid(algorithm, t2i.shape[-1]) if t2i is not None else None
    return AttentionSnapshot(0, 0, [probe_of(dataset, r) for r in rows],
                             list(algorithm.modality_names), maps, grid)


def split_attention_stats(algorithm, dataset: PairedDataset, split: str = "val",
                          batch_size: int = 256) -> dict:
    """``attention_stats.snapshot_stats``'s figures over every pair of ``split`` (one
    snapshot of them all), with ``pairs``: how many."""
    return snapshot_figures(split_snapshot(algorithm, dataset, split, batch_size))


def snapshot_figures(snap: AttentionSnapshot) -> dict:
    """``attention_stats.snapshot_stats`` of ``snap``, with ``pairs``: its probes."""
    return {**snapshot_stats(snap), "pairs": len(snap.probes)}


def stats_by_label(snap: AttentionSnapshot) -> dict[str, dict]:
    """The snapshot's figures per label of its probes (``snapshot_stats`` of each label's
    probes alone), with ``pairs`` and, where the images have a white background,
    ``foreground_share``: the mean share of inked patches over the images the foreground
    gain counts. Where a figure misses, the breakdown says which images make it miss."""
    out: dict[str, dict] = {}
    labels = sorted({p.label for p in snap.probes if p.label is not None})
    for label in labels:
        keep = np.array([p.label == label for p in snap.probes])
        sub = AttentionSnapshot(snap.epoch, snap.step,
                                [p for p, k in zip(snap.probes, keep) if k],
                                snap.modality_names,
                                {k: v[keep] for k, v in snap.maps.items()
                                 if isinstance(v, np.ndarray) and len(v) == len(keep)},
                                snap.grid)
        row = snapshot_figures(sub)
        share = _foreground_share(sub)
        if share is not None:
            row["foreground_share"] = share
        out[label] = row
    return out


def _foreground_share(snap: AttentionSnapshot) -> float | None:
    """Mean inked-patch share of the images whose share the foreground gain counts."""
    images = [p.image for p in snap.probes]
    t2i = snap.maps.get("text_to_image")
    if t2i is None or snap.grid is None or any(im is None for im in images) or \
            snap.grid[0] * snap.grid[1] != t2i.shape[-1]:
        return None
    shares = foreground_patches(np.stack(images), snap.grid).mean(1)
    low, high = FOREGROUND_SHARE
    counted = shares[(shares >= low) & (shares <= high)]
    return round(float(counted.mean()), 6) if len(counted) else None
