"""The rules a score is read by (torch-free: the GUI reads them before torch is imported).

- A score within :data:`CHANCE_MARGIN` standard errors of chance (or on the wrong side of
  it) is no evidence of learning: :func:`at_chance`.
- A lead counts only beyond :data:`NOISE_FACTOR` standard errors of the difference
  (``evaluation.compare``'s verdict).
"""

from __future__ import annotations

import math

from .names import LOWER_IS_BETTER

# A score this many standard errors of chance or fewer above it is "at chance".
CHANCE_MARGIN = 2.0
NOISE_FACTOR = 2.0  # standard errors of the difference a winner must lead by


def at_chance(value: float | None, chance: float | None, spread: float | None,
              metric: str = "") -> bool:
    """Whether ``value`` is within :data:`CHANCE_MARGIN` standard errors of chance (or on
    the wrong side of it)."""
    if value is None or chance is None or spread is None or not math.isfinite(value):
        return False
    if metric in LOWER_IS_BETTER:
        return value >= chance - CHANCE_MARGIN * spread
    return value <= chance + CHANCE_MARGIN * spread
