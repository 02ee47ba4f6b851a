"""How much memory a data set takes once loaded, and how much it may take (issue 17, item 8).

The loader keeps every decoded image in one uint8 array (N, 3, size, size) for the whole
run: 100,000 images at ``preprocess.image_size = 256`` are 18.3 GiB, which used to be
allocated (and fail, or swap the machine) after minutes of decoding. The estimate is made
from the row count before anything is decoded. The same figures tell a loader when to stream
rather than hold the data (``DataEstimate.fits``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Without data.max_memory_gb, data may take at most this share of the memory available when
# it loads: the model, its optimiser state, batches and the GUI need the rest.
MEMORY_SHARE = 0.5
GB = 1024 ** 3


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass(frozen=True)
class Budget:
    """The bytes data may take, and where that figure comes from (for messages)."""

    bytes: int | None  # None: unknown (no limit set, and the platform does not say)
    origin: str

    def allows(self, n: int) -> bool:
        return self.bytes is None or n <= self.bytes


def memory_budget(max_memory_gb: float = 0.0) -> Budget:
    """``data.max_memory_gb`` when set (> 0), else half the memory available now."""
    if max_memory_gb > 0:
        return Budget(int(max_memory_gb * GB), f"data.max_memory_gb = {max_memory_gb:g}")
    available = available_memory()
    if available is None:
        return Budget(None, "the memory available is unknown on this platform")
    return Budget(int(MEMORY_SHARE * available),
                  f"half of the {size_text(available)} available; data.max_memory_gb sets "
                  "another limit")


@dataclass(frozen=True)
class DataEstimate:
    """The bytes a loaded data set holds: decoded images and feature matrices."""

    images: int = 0  # distinct images to decode
    image_size: int = 0
    features: int = 0  # bytes of precomputed feature or pixel arrays read as they are

    @property
    def pixel_bytes(self) -> int:
        return self.images * 3 * self.image_size * self.image_size  # uint8, channels first

    @property
    def total(self) -> int:
        return self.pixel_bytes + self.features

    def fits(self, budget: Budget) -> bool:
        return budget.allows(self.total)

    def largest_image_size(self, budget: Budget) -> int | None:
        """The largest square side whose pixels (with the features) fit ``budget``."""
        if budget.bytes is None or not self.images:
            return None
        room = budget.bytes - self.features
        return int(math.isqrt(max(room, 0) // (3 * self.images))) if room > 0 else 0


def size_text(n: float) -> str:
    """1,234 bytes, 12.3 KB, 4.5 MB, 18.3 GB (binary units, as free and top count)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def image_refusal(source: str, estimate: DataEstimate, budget: Budget) -> str | None:
    """Why ``source``'s images cannot be decoded within ``budget``, with the figures and the
    largest ``preprocess.image_size`` that would fit; None when they fit."""
    if estimate.fits(budget):
        return None
    n, s = estimate.images, estimate.image_size
    text = (f"{source}: holding its {n:,} images at preprocess.image_size = {s} needs "
            f"{size_text(estimate.total)} ({n:,} x 3 x {s} x {s} bytes"
            + (f", plus {size_text(estimate.features)} of arrays" if estimate.features else "")
            + f"), more than the {size_text(budget.bytes)} data may take ({budget.origin})")
    largest = estimate.largest_image_size(budget)
    if largest and largest >= 8:  # preprocess.image_size's minimum
        text += f"; preprocess.image_size = {min(largest, s - 1)} or less would fit"
    return text + ", or load fewer images"
