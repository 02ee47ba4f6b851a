"""What each grid cell of the learned image encoders sees: the CNN's cells see their
neighbours' pixels; a patch embedding's, however many layers deep, only their own patch."""

from __future__ import annotations

import pytest
import torch

from workbench.core.data.dataset import Batch
from workbench.core.models.encoders import ImageEncoder


def _tokens(encoder: ImageEncoder, images: torch.Tensor) -> torch.Tensor:
    batch = Batch(index=torch.arange(len(images)), images=images)
    return encoder.eval()(batch).tokens  # (B, P, E)


def _changed_cells(encoder: ImageEncoder) -> set[int]:
    """Grid cells whose token changes when only the top-left 4 x 4 pixels change."""
    torch.manual_seed(0)
    white = torch.ones(1, 3, 32, 32)
    inked = white.clone()
    inked[:, :, :4, :4] = 0.0
    with torch.no_grad():
        diff = (_tokens(encoder, inked) - _tokens(encoder, white)).abs().amax(-1)[0]
    return set(torch.nonzero(diff > 1e-6).flatten().tolist())


@pytest.mark.parametrize("layers", [1, 3])
def test_a_patch_embedding_cell_sees_only_its_own_patch(layers):
    encoder = ImageEncoder(32, 16, 8, kind="patch", patch_size=4, patch_layers=layers)
    assert encoder.grid == 8
    assert _changed_cells(encoder) == {0}
    if layers > 1:  # the layers after the projection are per-patch and non-linear
        assert any(isinstance(m, torch.nn.GELU) for m in encoder.features.modules())


def test_a_cnn_cell_sees_its_neighbours():
    encoder = ImageEncoder(32, 16, 8, kind="cnn")
    assert encoder.grid == 8
    changed = _changed_cells(encoder)
    # the top-left 4 x 4 pixels reach the cells next to the first one, right and below
    assert {0, 1, 8, 9} <= changed and len(changed) > 4
