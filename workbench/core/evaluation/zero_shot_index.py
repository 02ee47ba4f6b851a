"""Zero-shot CLIP in the Retrieval tab: :func:`.zero_shot.encode`'s vectors searched as a
trained model's are (:class:`.retrieval.RetrievalIndex`: the same hits, ties, splits and R@K
table), a typed caption read by the CLIP model's own text tower (word pieces: no unknown
words)."""

from __future__ import annotations

from collections import OrderedDict

import torch

from ..config import ExperimentConfig
from ..data.text import tokenize
from .retrieval import QUERY_CACHE, Results, RetrievalIndex
from .zero_shot import NAME, Encoded, Progress, encode


class ZeroShotIndex(RetrievalIndex):
    """The Retrieval tab's index over :func:`encode`'s vectors: the same searches as a
    trained model's (:class:`.retrieval.RetrievalIndex`), a typed caption read by the
    model's text tower (word pieces: no unknown words)."""

    def __init__(self, encoded: Encoded):
        # RetrievalIndex's bookkeeping of pairs and images, without a trained model.
        ds = encoded.dataset
        self.encoded = encoded
        self.model = None
        self.dataset = ds
        self.table = ds.table
        self.about = {"run": NAME, "zero_shot": True, "model": encoded.model,
                      "from": encoded.source, "algorithm": "no training", "fusion": "no"}
        self.device = torch.device("cpu")
        self._index_pairs(ds)
        self.text_vectors = encoded.text.contiguous()
        self.image_vectors = encoded.image.contiguous()
        self._queries: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self.text_query_problem = None

    @classmethod
    def build(cls, cfg: ExperimentConfig, *, progress: Progress | None = None
              ) -> "ZeroShotIndex":
        return cls(encode(cfg, progress=progress))

    def prepare_text_queries(self) -> None:
        """Nothing to load: the text tower came with the image tower."""

    def search_text(self, query: str, k: int = 10, *, split: str | None = None) -> Results:
        """The ``k`` images closest to a typed caption by the model's own text tower."""
        result = Results(query=query, words=tokenize(query))
        if not query.strip():
            result.reason = "the query has no words: type a caption"
            return result
        key = (query,)
        vector = self._queries.get(key)
        if vector is None:
            vector = torch.from_numpy(self.encoded.clip.encode_texts([query])[0])
            self._queries[key] = vector
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        scores = self.image_vectors @ vector
        result.hits = [self._image_hit(int(m), float(s), tied)
                       for m, s, tied in self._top(scores, k, self._image_mask(split))]
        return result
