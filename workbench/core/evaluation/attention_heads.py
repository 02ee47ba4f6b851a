"""One co-attention head's view of an attention snapshot.

The drawn words -> patches map (``text_to_image``) is the mean over the heads. Heads that look
at different places make that mean broader than any one of them, so a snapshot of a model
with several heads also holds each head's map (``text_to_image_heads``, (n, H, L, P), and
``text_to_null_heads`` with a null key). :func:`head_snapshot` returns the snapshot as if that
head's map were the drawn one, so every figure and picture made from a snapshot (entropy,
specificity, foreground gain, the pointing game, the heatmap) is made for one head alike.
"""

from __future__ import annotations

import dataclasses

from ..training.events import AttentionSnapshot

HEADS = "text_to_image_heads"
NULL_HEADS = "text_to_null_heads"


def head_count(snap: AttentionSnapshot | None) -> int:
    """How many heads' own maps ``snap`` holds (0: none, one head or no co-attention)."""
    if snap is None or HEADS not in snap.maps:
        return 0
    return int(snap.maps[HEADS].shape[1])


def head_snapshot(snap: AttentionSnapshot, head: int) -> AttentionSnapshot:
    """``snap`` with head ``head``'s words -> patches map (and null share) in place of the
    mean over the heads, its composites likewise; ``snap`` itself for ``head`` < 0. Raises
    ValueError for a head the snapshot does not have."""
    if head < 0:
        return snap
    count = head_count(snap)
    if head >= count:
        raise ValueError(f"head {head + 1} asked for; this snapshot has "
                         f"{count or 'no'} heads' own maps")
    maps = dict(snap.maps)
    maps["text_to_image"] = snap.maps[HEADS][:, head]
    if NULL_HEADS in snap.maps:
        maps["text_to_null"] = snap.maps[NULL_HEADS][:, head]
    composites = snap.composites
    if composites is not None and head_count(composites) > head:
        composites = head_snapshot(composites, head)
    return dataclasses.replace(snap, maps=maps, composites=composites)
