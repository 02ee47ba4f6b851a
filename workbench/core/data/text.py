"""Word-level text: a tokenizer and a vocabulary built on the training split only.

Ids: 0 is padding, 1 is the out-of-vocabulary token, then words by falling frequency (ties in
alphabetical order, so the same captions always give the same ids).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

PAD, OOV = 0, 1
PAD_TOKEN, OOV_TOKEN = "<pad>", "<unk>"


def _marks() -> str:
    """A regex class of the Unicode combining marks (categories Mn, Mc, Me): Python's ``\\w``
    leaves them out, which would cut words written with vowel signs or diacritics
    (Devanagari, Arabic, decomposed accents, ...) into pieces."""
    ranges: list[list[int]] = []
    for c in (*range(0x20000), *range(0xE0100, 0xE01F0)):
        if unicodedata.category(chr(c))[0] == "M":
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
    return "[" + "".join(rf"\U{a:08x}-\U{b:08x}" for a, b in ranges) + "]"


@functools.cache
def word_pattern() -> re.Pattern:
    """Letters and digits of any script (with their combining marks), with apostrophes
    inside a word ("don't", "o'clock"). The lookahead keeps ASCII text as fast as without
    marks. Built on first use: scanning Unicode for the marks takes 20 ms, which the GUI's
    start-up need not pay."""
    letters = rf"[^\W_]+(?:(?=[^\x00-\x7f]){_marks()}+[^\W_]*)*"
    return re.compile(rf"{letters}(?:'{letters})*")


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` (NFC-normalised); punctuation and symbols are dropped."""
    if not text.isascii():
        # ASCII text is already NFC and has no curly apostrophes: skipping both steps makes
        # tokenising most captions ~2x faster, and it runs once per pair on every load.
        text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    return word_pattern().findall(text.lower())


@dataclass
class Vocabulary:
    """Maps words to ids and back."""

    words: list[str] = field(default_factory=lambda: [PAD_TOKEN, OOV_TOKEN])
    counts: list[int] = field(default_factory=lambda: [0, 0])

    def __post_init__(self) -> None:
        self._index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], *, max_size: int,
              min_count: int = 1) -> "Vocabulary":
        """The ``max_size`` most frequent words (PAD and OOV included) seen ``min_count`` times."""
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        kept = sorted((w for w, c in counter.items() if c >= min_count),
                      key=lambda w: (-counter[w], w))[: max(0, max_size - 2)]
        return cls([PAD_TOKEN, OOV_TOKEN, *kept], [0, 0, *(counter[w] for w in kept)])

    def id(self, word: str) -> int:
        return self._index.get(word, OOV)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        index = self._index
        return [index.get(t, OOV) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[i] for i in ids if i != PAD]

    def encode_batch(self, token_lists: Sequence[Sequence[str]], max_tokens: int):
        """Token ids (N, max_tokens) int64 padded with PAD, and lengths (N,)."""
        n = len(token_lists)
        ids = np.zeros((n, max_tokens), dtype=np.int64)
        lengths = np.zeros(n, dtype=np.int64)
        for row, tokens in enumerate(token_lists):
            encoded = self.encode(tokens[:max_tokens])
            ids[row, : len(encoded)] = encoded
            lengths[row] = len(encoded)
        return ids, lengths

    def to_dict(self) -> dict:
        return {"words": self.words, "counts": self.counts}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        return cls(list(d["words"]), list(d["counts"]))
