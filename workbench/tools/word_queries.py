"""One-word queries against a trained model: for each word, the share of the top 10 images
whose caption holds the word (precision@10), and their mean.

Captions in training are whole phrases ("grinning cat: animal, cat, face, grinning"), a user
types one word; this measures whether the model's text side handles that. Used to choose
``training.drop_words`` for the contrastive preset.

    python -m workbench.tools.word_queries RUN_DIR_OR_CHECKPOINT [--words cat,dog,...] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.core.evaluation.retrieval import RetrievalIndex

WORDS = ("cat", "dog", "heart", "flag", "clock", "car", "fish", "moon", "tree", "ball",
         "house", "hand", "woman", "bird", "fruit", "music")


def precision_at_k(index: RetrievalIndex, words, k: int = 10) -> dict[str, float]:
    """Per word: the share of the top ``k`` images whose caption contains the word."""
    out = {}
    for word in words:
        hits = index.search_text(word, k)
        out[word] = sum(word in h.caption.lower() for h in hits) / k
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder or a checkpoint file")
    parser.add_argument("--words", default=",".join(WORDS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = Path(args.run)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    scores = precision_at_k(RetrievalIndex.from_checkpoint(path), args.words.split(","))
    mean = sum(scores.values()) / len(scores)
    if args.json:
        print(json.dumps({"precision_at_10": scores, "mean": mean}))
    else:
        for word, p in scores.items():
            print(f"{word:10s} {p:.1f}")
        print(f"mean precision@10: {mean:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
