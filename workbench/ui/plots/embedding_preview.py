"""The Embeddings tab on its own, to look at while working on it:
``python -m workbench.ui.plots.embedding_preview [RUN_DIR]`` shows a run folder's data and
embedding snapshots, or without one planted clusters that gather epoch by epoch."""

from __future__ import annotations

import sys

import numpy as np

from ...core.training.events import EmbeddingSnapshot
from .embedding_view import EmbeddingView


def preview_snapshots(n: int = 300, epochs: int = 4) -> list[EmbeddingSnapshot]:
    """Planted clusters: texts and images of one label gather more each epoch."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 5
    centres = rng.normal(size=(5, 32)) * 3
    out = []
    for e in range(1, epochs + 1):
        pull = e / epochs
        base = centres[labels] * pull + rng.normal(size=(n, 32))
        text = base + rng.normal(size=(n, 32)) * 0.5 + 2.0 * (1 - pull)
        image = base + rng.normal(size=(n, 32)) * 0.5 - 2.0 * (1 - pull)
        out.append(EmbeddingSnapshot(e, 10 * e, np.arange(n), text.astype(np.float32),
                                     image.astype(np.float32), None, labels,
                                     [f"class {c}" for c in range(5)]))
    return out


def main(argv: list[str]) -> None:
    from PySide6.QtWidgets import QApplication

    from ...core.runs.export import load_run_table
    from ..session import Session

    app = QApplication([])
    session = Session()
    view = EmbeddingView(session)
    view.resize(1100, 700)
    view.show()
    if argv:  # a run folder: its data and snapshots
        session.set_table(load_run_table(argv[0]))
        view.load_snapshots(argv[0])
    else:
        for s in preview_snapshots():
            view.add_snapshot(s)
    app.exec()
    view.shutdown()
    view.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main(sys.argv[1:])
