"""Fusion strategies [document 2.3, 2.4]: one module each, one registry.

Every strategy has the same interface (``forward(features) -> FusionOutput(z, attention)``,
see :mod:`workbench.core.fusion.base`); this module only names them, so it stays torch-free.
"""

from __future__ import annotations

from ..registry import Registry, Spec
from . import params as P

FUSIONS: Registry[Spec] = Registry("fusion")

_ = FUSIONS.register
_(Spec("early", "Early fusion",
       "Concatenate the modalities' input features, one network on top.",
       P.EarlyParams, "workbench.core.fusion.early:EarlyFusion"))
_(Spec("late", "Late fusion",
       "A decision per modality, combined by mean, learned weights or vote.",
       P.LateParams, "workbench.core.fusion.late:LateFusion"))
_(Spec("mean", "Mean",
       "Average of the modalities' hidden vectors (the document's section 5 autoencoder).",
       P.NoParams, "workbench.core.fusion.mean:MeanFusion"))
_(Spec("attention", "Attention (intermediate)",
       "Per-sample softmax weights over the modalities' hidden vectors.",
       P.AttentionParams, "workbench.core.fusion.attention:AttentionFusion"))
_(Spec("coattention", "Co-attention",
       "Text tokens attend to image patches and back (cross-attention both ways).",
       P.CoAttentionParams, "workbench.core.fusion.coattention:CoAttentionFusion"))
_(Spec("tensor", "Tensor fusion",
       "Outer product of the modality vectors (each with a constant 1 appended).",
       P.TensorParams, "workbench.core.fusion.tensor:TensorFusion"))
_(Spec("gated", "Gated fusion",
       "A learned sigmoid gate mixes the modalities feature by feature.",
       P.NoParams, "workbench.core.fusion.gated:GatedFusion"))
del _
