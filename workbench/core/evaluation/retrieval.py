"""Cross-modal retrieval with a trained model: type a caption, get images; pick an image, get
captions; the R@K table of a split.

A :class:`RetrievalIndex` embeds every caption and every distinct image of a dataset once
(batched, no grad, eval mode) and then answers queries with one matrix product against the
stored, normalised vectors, fast enough for a GUI thread. A typed caption is tokenised with
the run's own vocabulary and embedded by the model itself, so it is scored exactly as the
dataset's captions are.

Retrieval only means something where text and image vectors share one space
(``Algorithm.joint_space``): the classifier and adversarial generation are refused with the
reason. The graph algorithm's vectors are outputs of graph nodes: its dataset's own captions
and images can be searched, a typed caption (which is no node) cannot.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics as M
from .chance import retrieval_chance
from .ranking import TIE_TOLERANCE, expected_rank, rank_counts
from .saved_model import DataMismatch, open_checkpoint  # noqa: F401 (DataMismatch: callers')
from ..algorithms.base import Algorithm
from ..data.dataset import Batch, PairedDataset, bag_of_words
from ..data.loader import PairTable
from ..data.text import OOV, tokenize
from ..errors import WorkbenchError

SPLITS = ("train", "val", "test")
EMBED_BATCH = 256
# A typed query rides in a small batch of real pairs (replacing one caption), so every
# algorithm sees the batch shape it was written for (several pairs, distinct images).
TEMPLATE_PAIRS = 2
QUERY_CACHE = 256  # typed queries whose vectors are kept (search-as-you-type repeats them)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class RetrievalError(WorkbenchError):
    """Retrieval that makes no sense for this model or data, with the reason."""


@dataclass(frozen=True)
class Hit:
    """One result. ``kind`` is ``"image"`` (a caption's result: a distinct image, with every
    pair that shows it in ``rows``) or ``"caption"`` (an image's result: one pair, whose
    caption it is, in ``rows``). ``caption`` is that pair's caption, or for an image the
    caption of its first pair; ``score`` is the cosine similarity (in the model's score
    space); ``tied`` counts the other searched items with the same score (their order among
    themselves means nothing)."""

    kind: str
    image: int
    rows: tuple[int, ...]
    score: float
    caption: str
    label: str | None
    split: str
    tied: int = 0

    @property
    def row(self) -> int:
        """The pair row shown: the caption's, or the image's first pair."""
        return self.rows[0]


@dataclass
class Results(Sequence):
    """The hits of one query, best first, and what the query was made of: the words used
    (``words``), those the run's vocabulary does not know (``unknown``, encoded as
    out-of-vocabulary), those past the model's caption length (``dropped``), and ``reason``
    when there are no hits because the query cannot be answered."""

    hits: list[Hit] = field(default_factory=list)
    query: str = ""
    words: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    reason: str | None = None
    #: for a search from the dataset's own caption or image: the rank of its true match
    #: (its image, or the best of its captions) among everything searched, ties counted as
    #: random tie-breaking would (a whole number unless it ties); None otherwise
    true_rank: float | None = None

    def __getitem__(self, i):
        return self.hits[i]

    def __len__(self) -> int:
        return len(self.hits)


class RetrievalIndex:
    """Every caption and distinct image of ``dataset`` embedded by ``model``, searchable both
    ways. ``model`` must be prepared for ``dataset`` (``Algorithm.prepare``; a trained model
    is). ``about`` describes the model for display (run, algorithm, fusion, epoch)."""

    def __init__(self, model: Algorithm, dataset: PairedDataset, *,
                 batch_size: int = EMBED_BATCH, about: dict | None = None):
        problem = unavailable_reason(model)
        if problem:
            raise RetrievalError(problem)
        self.model = model
        self.dataset = dataset
        self.table = dataset.table
        self.about = {"algorithm": model.cfg.algorithm.name, "fusion": model.cfg.fusion.name,
                      **(about or {})}
        self.device = next(model.parameters()).device
        self._index_pairs(dataset)
        self.text_vectors, self.image_vectors = self._embed_all(batch_size)
        self._queries: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._pretrained = None  # a pretrained text model, for typed captions
        self._template = self._template_batch()
        self.text_query_problem = self._text_query_problem()

    def _index_pairs(self, dataset: PairedDataset) -> None:
        """Which split each pair is in, which distinct image it shows, and the pairs of each
        image (in row order; the first one speaks for the image)."""
        self._pair_split = np.empty(len(dataset), dtype=object)
        for name in SPLITS:
            self._pair_split[dataset.indices(name).numpy()] = name
        self.image_of_pair = dataset.image_index.clone()  # (N,) distinct image per pair
        self.num_images = int(self.image_of_pair.max()) + 1 if len(dataset) else 0
        order = torch.argsort(self.image_of_pair, stable=True)
        counts = torch.bincount(self.image_of_pair, minlength=self.num_images)
        self.pairs_of_image = [tuple(p.tolist()) for p in torch.split(order, counts.tolist())]
        self.first_pair = torch.tensor([p[0] if p else -1 for p in self.pairs_of_image],
                                       dtype=torch.long)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_checkpoint(cls, path: str | Path, table: PairTable | None = None, *,
                        progress: Progress | None = None) -> "RetrievalIndex":
        """The index of a run's checkpoint over its data: ``table`` when given (it must be
        the data the run was trained on), else the data its config names, loaded again
        (:func:`.saved_model.open_checkpoint`: the run's vocabulary and split)."""
        def refuse(model):
            problem = unavailable_reason(model)
            if problem:  # before the (slow) data loading
                raise RetrievalError(problem)

        saved = open_checkpoint(path, table, progress=progress, check=refuse)
        return cls(saved.model, saved.dataset, about=saved.about)

    @torch.no_grad()
    def _embed_all(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised caption vectors (N, D), one per pair, and image vectors (M, D), one per
        distinct image (taken from its first pair)."""
        ds = self.dataset
        texts, images = [], []
        with _eval(self.model):
            for start in range(0, len(ds), batch_size):
                index = torch.arange(start, min(start + batch_size, len(ds)))
                out = self.model.embed(ds.batch(index).to(self.device))
                texts.append(out["text"].float().cpu())
                images.append(out["image"].float().cpu())
        text = F.normalize(torch.cat(texts), dim=-1)
        image = F.normalize(torch.cat(images), dim=-1)[self.first_pair]
        return text.contiguous(), image.contiguous()

    def _template_batch(self) -> Batch:
        """A few real pairs showing different images (training pairs first): a typed query
        replaces the first one's caption."""
        preferred = torch.cat([self.dataset.indices("train"), torch.arange(len(self.dataset))])
        rows, seen = [], set()
        for r in preferred.tolist():
            image = int(self.image_of_pair[r])
            if image not in seen:
                seen.add(image)
                rows.append(r)
            if len(rows) == TEMPLATE_PAIRS:
                break
        return self.dataset.batch(torch.tensor(rows, dtype=torch.long))

    def _text_query_problem(self) -> str | None:
        """Why typed captions cannot be searched with this model and data, or None."""
        reason = getattr(self.model, "text_query_problem", None)
        if reason:
            return reason
        if self.model.cfg.algorithm.name == "graph":
            return ("the graph algorithm's caption vectors are outputs of graph nodes, and a "
                    "typed caption is not a node of the graph (it has no edges to the "
                    "captions and images it would be joined to), so it has no vector; pick "
                    "an image, or one of the dataset's captions, to search from instead")
        pretrained = self.dataset.text_states is not None
        if not pretrained and (self.dataset.tokens is None or self.dataset.vocab is None):
            return ("this data's captions are precomputed feature vectors, and a typed "
                    "caption cannot be turned into one; pick an image, or one of the "
                    "dataset's captions, to search from instead")
        # A typed caption has no image of its own: its vector must not depend on the image
        # it is batched with. Check on a real caption, moved next to another image.
        if len(self._template) > 1:
            row = int(self._template.index[1])
            if self.dataset.piece_ids is not None:  # a fine-tuned text model
                vector = self._embed_pieces(
                    self.dataset.piece_ids[row, : int(self.dataset.piece_lengths[row])])
            elif pretrained:
                one = self.dataset.batch(torch.tensor([row]))
                vector = self._embed_pretrained(one.text_features[0], one.text_states[0])
            else:
                ids = self.dataset.tokens[row, : int(self.dataset.lengths[row])]
                vector = self._embed_tokens(ids)
            if float(vector @ self.text_vectors[row]) < 1 - 1e-4:
                return ("this model's caption vectors depend on the image each caption is "
                        "paired with, so a typed caption alone has no vector; pick an image "
                        "to search from instead")
        return None

    # ------------------------------------------------------------------ queries
    def search_text(self, query: str, k: int = 10, *, split: str | None = None) -> Results:
        """The ``k`` images closest to a typed caption (in ``split`` only, when given).
        Words the run's vocabulary lacks are encoded as out-of-vocabulary and listed in
        ``unknown``; a query with no known word has no hits, and says so in ``reason``."""
        if self.text_query_problem:
            raise RetrievalError(self.text_query_problem)
        if self.dataset.text_states is not None:
            return self._search_pretrained(query, k, split)
        vocab = self.dataset.vocab
        words = tokenize(query)
        result = Results(query=query, words=words[: self.dataset.max_tokens],
                         dropped=words[self.dataset.max_tokens:])
        result.unknown = [w for w in result.words if vocab.id(w) == OOV]
        if not words:
            result.reason = "the query has no words: type a caption"
            return result
        if len(result.unknown) == len(result.words):
            result.reason = (f"the model knows none of these words ({', '.join(result.unknown)})"
                             f": its vocabulary is the {len(vocab) - 2:,} words of the "
                             "training captions")
            return result
        scores = self.image_vectors @ self.query_vector(vocab.encode(result.words))
        result.hits = [self._image_hit(int(m), float(s), tied)
                       for m, s, tied in self._top(scores, k, self._image_mask(split))]
        return result

    def _search_pretrained(self, query: str, k: int, split: str | None) -> Results:
        """A typed caption read by the run's pretrained text model: it has no unknown words
        (word pieces spell any word), and the model reads it whole."""
        result = Results(query=query, words=tokenize(query))
        if not query.strip():
            result.reason = "the query has no words: type a caption"
            return result
        vector = self._queries.get((query,))
        if vector is None and self.dataset.piece_ids is not None:  # a fine-tuned model
            ids, lengths = self._text_model().piece_ids([query], keep=self.dataset.info()
                                                        .text_states)
            vector = self._embed_pieces(torch.from_numpy(ids[0, : max(1, int(lengths[0]))]))
            self._queries[(query,)] = vector
        if vector is None:
            encoded = self._text_model().encode_states([query], keep=self.dataset.info()
                                                       .text_states)
            length = max(1, int(encoded["lengths"][0]))
            vector = self._embed_pretrained(
                torch.from_numpy(encoded["pooled"][0]),
                torch.from_numpy(encoded["states"][0, :length].astype(np.float32)))
            self._queries[(query,)] = vector
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        scores = self.image_vectors @ vector
        result.hits = [self._image_hit(int(m), float(s), tied)
                       for m, s, tied in self._top(scores, k, self._image_mask(split))]
        return result

    def _text_model(self):
        """The run's pretrained text model, loaded on the first typed query (a few seconds;
        the GUI builds it with the index, off its thread: ``prepare_text_queries``)."""
        if self._pretrained is None:
            from ..pretrained.text import TextModel
            # fine-tuned, the run's own model reads the word pieces: the tokenizer suffices
            self._pretrained = TextModel(self.model.cfg.model.text_model, "cpu",
                                         weights=self.dataset.piece_ids is None)
        return self._pretrained

    def prepare_text_queries(self) -> None:
        """Load what typed captions need now (the pretrained text model), so the first
        query does not wait for it."""
        if self.dataset.text_states is not None and not self.text_query_problem:
            self._text_model()

    def search_caption(self, row: int, k: int = 10, *, split: str | None = None) -> Results:
        """The ``k`` images closest to the dataset's caption of pair ``row`` (works for every
        joint-space model, the graph algorithm included)."""
        self._check_row(row, len(self.dataset), "pair")
        scores = self.image_vectors @ self.text_vectors[row]
        mask = self._image_mask(split)
        hits = [self._image_hit(int(m), float(s), tied)
                for m, s, tied in self._top(scores, k, mask)]
        true = int(self.image_of_pair[row])
        return Results(hits=hits, query=self.table.caption(row),
                       true_rank=_rank(scores, mask, [true]))

    def search_image(self, image: int, k: int = 10, *, split: str | None = None) -> Results:
        """The ``k`` captions closest to distinct image ``image`` (a value of
        ``PairTable.image_index``)."""
        self._check_row(image, self.num_images, "image")
        scores = self.text_vectors @ self.image_vectors[image]
        mask = None if split is None else torch.from_numpy(self._pair_split == split)
        hits = [self._caption_hit(int(r), float(s), tied)
                for r, s, tied in self._top(scores, k, mask)]
        own = list(self.pairs_of_image[image])
        return Results(hits=hits, query=self.table.caption(int(self.first_pair[image])),
                       true_rank=_rank(scores, mask, own))

    def recall_table(self, split: str = "val") -> dict[str, float]:
        """R@1/5/10 both ways (``t2i_r1`` ... ``i2t_r10``, fractions), the median rank each
        way (``t2i_median_rank``, ``i2t_median_rank``) and ``mean_recall``, as training
        reports them (ties in expectation), over the pairs of ``split`` ranked among that
        split's images and captions; each one's chance level as ``chance_<name>``; plus
        ``pairs`` and ``images``. Empty when the split is."""
        idx = self.dataset.indices(split)
        if len(idx) == 0:
            return {}
        text = self.text_vectors[idx]
        ids = self.image_of_pair[idx]
        image = self.image_vectors[ids]
        out = M.retrieval_metrics(text, image, ids)
        out.update({f"chance_{k}": v for k, v in retrieval_chance(ids).items()})
        out["pairs"] = float(len(idx))
        out["images"] = float(len(torch.unique(ids)))
        return out

    # ------------------------------------------------------------------ helpers
    def image_label(self, image: int) -> str | None:
        return self._label(int(self.first_pair[image]))

    def image_split(self, image: int) -> str:
        return str(self._pair_split[int(self.first_pair[image])])

    def split_of(self, row: int) -> str:
        return str(self._pair_split[row])

    def query_vector(self, ids: Sequence[int]) -> torch.Tensor:
        """The normalised vector of a caption given as token ids (cached)."""
        key = tuple(ids)
        vector = self._queries.get(key)
        if vector is None:
            vector = self._embed_tokens(torch.tensor(key, dtype=torch.long))
            self._queries[key] = vector
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        else:
            self._queries.move_to_end(key)
        return vector

    @torch.no_grad()
    def _embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """The normalised vector of one caption given as token ids (no padding)."""
        tokens, mask = self._first_replaced(self._template.tokens, ids)  # padding id 0
        return self._embed_text(dataclasses.replace(
            self._template, tokens=tokens, mask=mask,
            bow=bag_of_words(tokens, len(self.dataset.vocab))))

    @torch.no_grad()
    def _embed_pretrained(self, pooled: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """The normalised vector of one caption given as a pretrained model's sentence
        vector (D,) and word-piece states (L, D)."""
        t = self._template
        text_states, mask = self._first_replaced(t.text_states, states)
        features = t.text_features.clone()
        features[0] = pooled
        return self._embed_text(dataclasses.replace(t, text_states=text_states, mask=mask,
                                                    text_features=features))

    @torch.no_grad()
    def _embed_pieces(self, ids: torch.Tensor) -> torch.Tensor:
        """The normalised vector of one caption given as a fine-tuned text model's word-piece
        ids (L,)."""
        piece_ids, mask = self._first_replaced(self._template.piece_ids, ids)
        return self._embed_text(dataclasses.replace(self._template, piece_ids=piece_ids,
                                                    mask=mask))

    def _first_replaced(self, sequences: torch.Tensor, row: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """The template's caption ``sequences`` (B, L, ...) and its mask with the first pair's
        replaced by ``row`` (L', ...), padded with zeros to the longer of the two."""
        t = self._template
        width = max(sequences.shape[1], len(row), 1)
        out = sequences.new_zeros((len(t), width, *sequences.shape[2:]))
        out[:, : sequences.shape[1]] = sequences
        mask = torch.zeros(len(t), width, dtype=torch.bool)
        mask[:, : t.mask.shape[1]] = t.mask
        out[0] = 0
        out[0, : len(row)] = row
        mask[0] = False
        mask[0, : len(row)] = True
        return out, mask

    def _embed_text(self, batch: Batch) -> torch.Tensor:
        """The normalised text vector of the first pair of ``batch``."""
        with _eval(self.model):
            vector = self.model.embed(batch.to(self.device))["text"][0]
        return F.normalize(vector.float().cpu(), dim=-1)

    def _image_mask(self, split: str | None) -> torch.Tensor | None:
        if split is None:
            return None
        return torch.from_numpy(self._pair_split[self.first_pair.numpy()] == split)

    @staticmethod
    def _top(scores: torch.Tensor, k: int, mask: torch.Tensor | None):
        """(index, score, how many other searched items tie with it) of the best ``k``."""
        if mask is not None:
            scores = scores.masked_fill(~mask, -float("inf"))
            k = min(k, int(mask.sum()))
        k = max(0, min(k, len(scores)))
        values, index = torch.topk(scores, k)
        tied = [int(((scores - v).abs() <= TIE_TOLERANCE).sum()) - 1 for v in values]
        return zip(index.tolist(), values.tolist(), tied)

    def _image_hit(self, image: int, score: float, tied: int = 0) -> Hit:
        row = int(self.first_pair[image])
        return Hit("image", image, self.pairs_of_image[image], score, self.table.caption(row),
                   self._label(row), self.split_of(row), tied)

    def _caption_hit(self, row: int, score: float, tied: int = 0) -> Hit:
        return Hit("caption", int(self.image_of_pair[row]), (row,), score,
                   self.table.caption(row), self._label(row), self.split_of(row), tied)

    def _label(self, row: int) -> str | None:
        labels = self.dataset.labels
        return None if labels is None else self.dataset.label_names[int(labels[row])]

    @staticmethod
    def _check_row(i: int, n: int, what: str) -> None:
        if not 0 <= i < n:
            raise IndexError(f"{what} {i} out of range (0..{n - 1})")


# ---------------------------------------------------------------------- module helpers
def _rank(scores: torch.Tensor, mask: torch.Tensor | None, members: list[int]) -> float | None:
    """The expected rank of the best of ``members`` among the searched items, ties broken
    at random (as :mod:`.metrics` ranks); None when no member is in the searched split."""
    true = torch.zeros(len(scores), dtype=torch.bool)
    true[members] = True
    if mask is not None:
        if not bool(mask[members].any()):
            return None
        scores, true = scores[mask], true[mask]
    return float(expected_rank(rank_counts(scores[None], true[None]))[0])


def unavailable_reason(model: Algorithm) -> str | None:
    """Why retrieval makes no sense for ``model``, or None when it does."""
    if model.joint_space:
        return None
    name = model.cfg.algorithm.name
    if name == "classifier":
        why = ("the classifier's text and image vectors are features for its fusion and "
               "label head, never trained to be close for a matching pair")
    elif name == "adversarial":
        why = ("adversarial generation's text and image vectors are the discriminator's "
               "inputs to its fusion, never trained to be close for a matching pair (the "
               "'align' mode is: it trains a shared space)")
    else:
        why = f"{name}'s text and image vectors are not trained into one space"
    return (f"Retrieval is unavailable for this model: its text and image vectors are not "
            f"in one space ({why}), so their similarity says nothing. Train a contrastive, "
            "autoencoder, adversarial 'align' or graph model to search captions and images.")


class _eval:
    """Eval mode inside, the model's previous mode restored after."""

    def __init__(self, model: Algorithm):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)
