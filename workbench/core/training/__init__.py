"""Training: the Trainer (the loop), Callback hooks, events, optimisers, checkpoints.

Names are imported on first use (PEP 562), so ``from workbench.core.training.callbacks import
Callback`` does not pull in torch: the command line and the GUI start without it.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Callback": "callbacks", "EventRecorder": "callbacks",
    "Trainer": "trainer", "build_algorithm": "model_setup", "resolve_device": "model_setup",
    **{name: "events" for name in (
        "AttentionSnapshot", "CheckpointWritten", "EmbeddingSnapshot", "EpochEnded",
        "FitEnded", "FitStarted", "GeneratedSamples", "Probe", "StepLogged")},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
