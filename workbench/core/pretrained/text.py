"""Captions through a pretrained text model (Hugging Face ``AutoTokenizer`` + ``AutoModel``).

:class:`TextModel` gives, per caption, the pooled sentence vector the model was trained to
give: a sentence-transformers folder says how in ``1_Pooling/config.json`` (mean, CLS or max
over the word pieces) and ``modules.json`` (a ``Normalize`` step); a plain model folder is
mean-pooled. For all-MiniLM-L6-v2 this is exactly what ``SentenceTransformer.encode`` returns
(tested to 1e-5). Captions are encoded in batches of similar length, so little is padding.
"""

from __future__ import annotations

import json
from typing import Callable, Sequence

import numpy as np

from .locate import Located, PretrainedError, locate

Progress = Callable[[str, int, int], None]  # (stage, done, total)
POOLINGS = ("mean", "cls", "max")


class TextModel:
    """A pretrained text model on ``device``, ready to encode captions."""

    def __init__(self, name: str, device: str = "cpu", *, allow_download: bool = False,
                 weights: bool = True):
        """``weights=False``: the tokenizer alone (:meth:`piece_ids`), no model built."""
        from .transformers_io import load_model, load_tokenizer
        self.located: Located = locate(name, allow_download=allow_download)
        path = self.located.path
        self.tokenizer = load_tokenizer(self.located)
        self.model = load_model(self.located, kind="text").to(device).eval() if weights \
            else None
        self.device = device
        self.pooling, self.normalize = _pooling(path)
        self.max_length = _max_length(path, self.tokenizer)
        self.dim = int(self.model.config.hidden_size) if weights else 0

    def encode(self, captions: Sequence[str], *, batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray:
        """(N, D) float32 sentence vectors, in the order of ``captions``."""
        import torch

        captions = [str(c) for c in captions]
        out = np.zeros((len(captions), self.dim), dtype=np.float32)
        # Similar lengths together: a batch pads to its longest caption only.
        order = np.argsort([len(c) for c in captions], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                tokens = self.tokenizer([captions[i] for i in rows], padding=True,
                                        truncation=True, max_length=self.max_length,
                                        return_tensors="pt").to(self.device)
                states = self.model(**tokens).last_hidden_state
                out[rows] = self._pool(states, tokens["attention_mask"]).float().cpu().numpy()
                if progress:
                    progress("captions", min(start + batch_size, len(order)), len(order))
        return out

    def encode_states(self, captions: Sequence[str], *, keep: int, batch_size: int = 64,
                      progress: Progress | None = None, out: np.ndarray | None = None) -> dict:
        """Per caption its sentence vector (``pooled`` (N, D) float32, as :meth:`encode`)
        and its first ``keep`` word-piece states (``states`` (N, keep, D) float16, zero past
        each caption's ``lengths``), with the word pieces themselves (``pieces``, for the
        Attention tab's axes). The model reads each caption whole; only the states kept are
        cut. ``out``: a zeroed (N, keep, D) float16 array the states are written to (a
        memory-mapped file: 100,000 captions' states, 1.8 GB, then never sit in private
        memory); default a new one in memory."""
        import torch

        captions = [str(c) for c in captions]
        n = len(captions)
        pooled = np.zeros((n, self.dim), dtype=np.float32)
        states = out if out is not None else np.zeros((n, keep, self.dim), dtype=np.float16)
        lengths = np.zeros(n, dtype=np.int64)
        pieces: list[list[str]] = [[] for _ in range(n)]
        order = np.argsort([len(c) for c in captions], kind="stable")
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                rows = order[start:start + batch_size]
                tokens = self.tokenizer([captions[i] for i in rows], padding=True,
                                        truncation=True, max_length=self.max_length,
                                        return_tensors="pt").to(self.device)
                hidden = self.model(**tokens).last_hidden_state
                mask = tokens["attention_mask"]
                pooled[rows] = self._pool(hidden, mask).float().cpu().numpy()
                width = min(keep, hidden.shape[1])
                states[rows, :width] = (hidden[:, :width] * mask[:, :width, None]).half() \
                    .cpu().numpy()
                counts = mask.sum(1).clamp(max=keep).cpu().numpy()
                lengths[rows] = counts
                ids = tokens["input_ids"].cpu().tolist()
                for r, row_ids, c in zip(rows, ids, counts):
                    pieces[r] = self.tokenizer.convert_ids_to_tokens(row_ids[:c])
                if progress:
                    progress("captions", min(start + batch_size, n), n)
        return {"pooled": pooled, "states": states, "lengths": lengths, "pieces": pieces}

    def _pool(self, states, mask):
        return pool(states, mask, self.pooling, self.normalize)

    def piece_ids(self, captions: Sequence[str], *, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """(N, keep) int64 word-piece ids of each caption (its first ``keep``, the model's
        end marker kept) and (N,) how many are real: what a fine-tuned model reads."""
        tokens = self.tokenizer([str(c) for c in captions], padding="max_length",
                                truncation=True, max_length=min(keep, self.max_length),
                                return_tensors="np")
        return (tokens["input_ids"].astype(np.int64),
                tokens["attention_mask"].sum(1).astype(np.int64))


def pool(states, mask, pooling: str, normalize: bool):
    """A sentence vector from word-piece ``states`` (B, L, D) and their ``mask``, as
    sentence-transformers pools (mean, CLS or max; normalised when its folder says so)."""
    import torch.nn.functional as F
    m = mask.unsqueeze(-1).to(states.dtype)
    if pooling == "cls":
        pooled = states[:, 0]
    elif pooling == "max":
        pooled = states.masked_fill(m == 0, -1e9).max(1).values
    else:
        pooled = (states * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(pooled, dim=-1) if normalize else pooled


def _pooling(path) -> tuple[str, bool]:
    """(pooling, normalise) from a sentence-transformers folder; ("mean", False) else."""
    pooling, normalize = "mean", False
    config = path / "1_Pooling" / "config.json"
    if config.is_file():
        raw = json.loads(config.read_text("utf-8"))
        for name in POOLINGS:
            if raw.get(f"pooling_mode_{name}_tokens" if name != "cls" else
                       "pooling_mode_cls_token"):
                pooling = name
                break
    modules = path / "modules.json"
    if modules.is_file():
        normalize = any(str(m.get("type", "")).endswith("Normalize")
                        for m in json.loads(modules.read_text("utf-8")))
    return pooling, normalize


def _max_length(path, tokenizer) -> int:
    """The longest input the model reads: sentence-transformers' max_seq_length, else the
    tokenizer's (capped: some tokenizers say 10^30)."""
    config = path / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text("utf-8")).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", 512)
    return int(value) if isinstance(value, int) and 0 < value <= 8192 else 512


__all__ = ["PretrainedError", "TextModel"]
