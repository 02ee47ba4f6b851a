"""Training: the Trainer (the loop), Callback hooks, events, optimisers, checkpoints."""

from .callbacks import Callback, EventRecorder
from .events import (AttentionSnapshot, CheckpointWritten, EmbeddingSnapshot, EpochEnded,
                     FitEnded, FitStarted, GeneratedSamples, Probe, StepLogged)
from .trainer import Trainer, build_algorithm, resolve_device

__all__ = ["Callback", "EventRecorder", "Trainer", "build_algorithm", "resolve_device",
           "AttentionSnapshot", "CheckpointWritten", "EmbeddingSnapshot", "EpochEnded",
           "FitEnded", "FitStarted", "GeneratedSamples", "Probe", "StepLogged"]
